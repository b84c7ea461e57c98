//go:build (mips || mipsle) && !purego

#include "textflag.h"

// ChaCha20 and Poly1305 for MIPS32 release 2 (ROTR, WSBH), both byte
// orders. Unaligned input and output are read and written with LWL/LWR
// and SWL/SWR pairs, aligned ones with LW/SW. blocks_mipsx.go
// uses these only where the kernel reports a mips32r2 CPU.

// Unaligned little-endian word access, whatever the CPU's byte order: on
// big-endian the word is byte-swapped after loading and before storing.
#ifdef GOARCH_mips
#define LOADLE(off, base, r) MOVWL off(base), r; MOVWR (off+3)(base), r; WSBH r, r; ROTR $16, r
#define SWAPLE(r) WSBH r, r; ROTR $16, r
#define STOREW(r, off, base) MOVWL r, off(base); MOVWR r, (off+3)(base)
#define LOADW(off, base, r) MOVWL off(base), r; MOVWR (off+3)(base), r
#else
#define LOADLE(off, base, r) MOVWR off(base), r; MOVWL (off+3)(base), r
#define SWAPLE(r)
#define STOREW(r, off, base) MOVWR r, off(base); MOVWL r, (off+3)(base)
#define LOADW(off, base, r) MOVWR off(base), r; MOVWL (off+3)(base), r
#endif

// One quarter round; rotations left by 16, 12, 8, 7 are right by 16, 20, 24, 25.
#define QR(a, b, c, d) \
	ADDU b, a; XOR a, d; ROTR $16, d; \
	ADDU d, c; XOR c, b; ROTR $20, b; \
	ADDU b, a; XOR a, d; ROTR $24, d; \
	ADDU d, c; XOR c, b; ROTR $25, b

#define DOUBLEROUND \
	QR(R1, R5, R9, R13); QR(R2, R6, R10, R14); QR(R3, R7, R11, R15); QR(R4, R8, R12, R16); \
	QR(R1, R6, R11, R16); QR(R2, R7, R12, R13); QR(R3, R8, R9, R14); QR(R4, R5, R10, R15)

// The 20 rounds, unrolled: no loop counter, no branches.
#define ROUNDS \
	DOUBLEROUND; DOUBLEROUND; DOUBLEROUND; DOUBLEROUND; DOUBLEROUND; \
	DOUBLEROUND; DOUBLEROUND; DOUBLEROUND; DOUBLEROUND; DOUBLEROUND

// The input block st (R19) into R1-R16.
#define LOADSTATE \
	MOVW 0(R19), R1; MOVW 4(R19), R2; MOVW 8(R19), R3; MOVW 12(R19), R4; \
	MOVW 16(R19), R5; MOVW 20(R19), R6; MOVW 24(R19), R7; MOVW 28(R19), R8; \
	MOVW 32(R19), R9; MOVW 36(R19), R10; MOVW 40(R19), R11; MOVW 44(R19), R12; \
	MOVW 48(R19), R13; MOVW 52(R19), R14; MOVW 56(R19), R15; MOVW 60(R19), R16

// Keystream word i (x plus the input word) XORed into the message, src
// in R21 and dst in R20: the keystream is little-endian, the message word
// loaded in the CPU's order; XORWORDA when both are 4-byte aligned.
#define XORWORD(i, x) \
	MOVW (4*i)(R19), R24; ADDU R24, x; SWAPLE(x); \
	LOADW(4*i, R21, R25); XOR R25, x; STOREW(x, 4*i, R20)
#define XORWORDA(i, x) \
	MOVW (4*i)(R19), R24; ADDU R24, x; SWAPLE(x); \
	MOVW (4*i)(R21), R25; XOR R25, x; MOVW x, (4*i)(R20)

// The block counter st[12] advances; src and dst move on.
#define NEXTBLOCK \
	MOVW 48(R19), R24; ADDU $1, R24; MOVW R24, 48(R19); ADDU $64, R20; ADDU $64, R21

// func xorBlocksAsm(st *[16]uint32, dst, src *byte, n int)
// n is a multiple of 64, at least 64. st[12], the block counter, advances.
TEXT ·xorBlocksAsm(SB), NOSPLIT, $0-16
	MOVW st+0(FP), R19
	MOVW dst+4(FP), R20
	MOVW src+8(FP), R21
	MOVW n+12(FP), R22
	ADDU R21, R22 // end of src
	OR R20, R21, R24
	AND $3, R24
	BEQ R24, R0, aligned

unaligned:
	LOADSTATE
	ROUNDS
	XORWORD(0, R1); XORWORD(1, R2); XORWORD(2, R3); XORWORD(3, R4)
	XORWORD(4, R5); XORWORD(5, R6); XORWORD(6, R7); XORWORD(7, R8)
	XORWORD(8, R9); XORWORD(9, R10); XORWORD(10, R11); XORWORD(11, R12)
	XORWORD(12, R13); XORWORD(13, R14); XORWORD(14, R15); XORWORD(15, R16)
	NEXTBLOCK
	BNE R21, R22, unaligned
	RET

aligned:
	LOADSTATE
	ROUNDS
	XORWORDA(0, R1); XORWORDA(1, R2); XORWORDA(2, R3); XORWORDA(3, R4)
	XORWORDA(4, R5); XORWORDA(5, R6); XORWORDA(6, R7); XORWORDA(7, R8)
	XORWORDA(8, R9); XORWORDA(9, R10); XORWORDA(10, R11); XORWORDA(11, R12)
	XORWORDA(12, R13); XORWORDA(13, R14); XORWORDA(14, R15); XORWORDA(15, R16)
	NEXTBLOCK
	BNE R21, R22, aligned
	RET

// Poly1305 in radix 2^26 (see polyState): h in R1-R5, r in R6-R10,
// 5*r[1..4] in R11-R14, the limb mask in R15, the message in R16, 1 in
// R17 (a carry enters HI:LO as carry*1). New limbs go to R18-R22 while the
// products still need the old ones. All multiplicands are below 2^31 and
// every sum below 2^63, so the signed MADD accumulates exactly.

// D(i): HI:LO holds d_i; its low 26 bits are the new limb nh, the rest
// (below 2^32) is the carry into d_i+1, left in R24.
#define LIMB(nh) \
	MOVW LO, nh; MOVW HI, R25; \
	SRL $26, nh, R24; SLL $6, R25; OR R25, R24; AND R15, nh

// func polyBlocksAsm(p *polyState, m *byte, n int)
// n is a multiple of 16, at least 16; every block gets the 2^128 bit.
TEXT ·polyBlocksAsm(SB), NOSPLIT, $0-12
	MOVW p+0(FP), R25
	MOVW 0(R25), R1
	MOVW 4(R25), R2
	MOVW 8(R25), R3
	MOVW 12(R25), R4
	MOVW 16(R25), R5
	MOVW 20(R25), R6
	MOVW 24(R25), R7
	MOVW 28(R25), R8
	MOVW 32(R25), R9
	MOVW 36(R25), R10
	MOVW 40(R25), R11
	MOVW 44(R25), R12
	MOVW 48(R25), R13
	MOVW 52(R25), R14
	MOVW $0x3ffffff, R15
	MOVW $1, R17
	MOVW m+4(FP), R16
	MOVW n+8(FP), R24
	ADDU R16, R24
	MOVW R24, n+8(FP) // from here on: the end of the message

pblock:
	// h += the block, split into 26-bit limbs, plus 2^128.
	LOADLE(0, R16, R18)
	LOADLE(4, R16, R19)
	LOADLE(8, R16, R20)
	LOADLE(12, R16, R21)
	AND R15, R18, R22
	ADDU R22, R1
	SRL $26, R18, R22
	SLL $6, R19, R24
	OR R24, R22
	AND R15, R22
	ADDU R22, R2
	SRL $20, R19, R22
	SLL $12, R20, R24
	OR R24, R22
	AND R15, R22
	ADDU R22, R3
	SRL $14, R20, R22
	SLL $18, R21, R24
	OR R24, R22
	AND R15, R22
	ADDU R22, R4
	SRL $8, R21, R22
	ADDU R22, R5
	MOVW $0x1000000, R22
	ADDU R22, R5

	// h *= r, partly reduced.
	MULU R1, R6
	MADD R2, R14
	MADD R3, R13
	MADD R4, R12
	MADD R5, R11
	LIMB(R18)
	MULU R1, R7
	MADD R2, R6
	MADD R3, R14
	MADD R4, R13
	MADD R5, R12
	MADD R24, R17
	LIMB(R19)
	MULU R1, R8
	MADD R2, R7
	MADD R3, R6
	MADD R4, R14
	MADD R5, R13
	MADD R24, R17
	LIMB(R20)
	MULU R1, R9
	MADD R2, R8
	MADD R3, R7
	MADD R4, R6
	MADD R5, R14
	MADD R24, R17
	LIMB(R21)
	MULU R1, R10
	MADD R2, R9
	MADD R3, R8
	MADD R4, R7
	MADD R5, R6
	MADD R24, R17
	LIMB(R5)
	// h0 += 5*carry; h1 += h0>>26.
	SLL $2, R24, R25
	ADDU R25, R24
	ADDU R24, R18
	SRL $26, R18, R24
	AND R15, R18, R1
	ADDU R24, R19, R2
	MOVW R20, R3
	MOVW R21, R4

	ADDU $16, R16
	MOVW n+8(FP), R24
	BNE R16, R24, pblock

	MOVW p+0(FP), R25
	MOVW R1, 0(R25)
	MOVW R2, 4(R25)
	MOVW R3, 8(R25)
	MOVW R4, 12(R25)
	MOVW R5, 16(R25)
	RET
