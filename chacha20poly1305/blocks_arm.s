//go:build arm && arm.7 && !purego

#include "textflag.h"

// ChaCha20 and Poly1305 for ARMv7 (little-endian; ARMv7 Linux loads and
// stores unaligned words in hardware, so any alignment takes the same
// path). R10 is g and R13 the stack pointer; R11 and R14 (the link
// register, saved by the prologue of a function with a frame) are free
// here because nothing below needs the assembler's temporary.

// ChaCha20 rows: a = x0-x3 in R0-R3, b = x4-x7 in R4-R7, d = x12-x15 in
// R8, R9, R12, R14, c = x8-x11 in the frame (one at a time in R11).
// Rotations are deferred into the next instruction's shifted operand: b
// is kept rotated right by 7 against its value and d by 8, so a quarter
// round is 8 instructions.
#define QR(a, b, c, d) \
	ADD b@>25, a; EOR d@>24, a, d; ADD d@>16, c; EOR b@>25, c, b; \
	ADD b@>20, a; EOR d@>16, a, d; ADD d@>24, c; EOR b@>20, c, b

#define QRM(a, b, cslot, d) \
	MOVW cslot(R13), R11; QR(a, b, R11, d); MOVW R11, cslot(R13)

// Frame: 4-16 c row, 20 round counter, 24 st, 28 dst, 32 src, 36 end of
// src, 40-52 d row at the end.
#define C8 4
#define C9 8
#define C10 12
#define C11 16

// Output of keystream word i: the word plus the input word, XORed into
// the message (R8 st, R9 src, R12 dst).
#define OUTA(i, x) \
	MOVW (4*i)(R8), R11; ADD R11, x; MOVW (4*i)(R9), R11; EOR R11, x; MOVW x, (4*i)(R12)
#define OUTB(i, x) \
	MOVW (4*i)(R8), R11; ADD x@>25, R11; MOVW (4*i)(R9), R14; EOR R14, R11; MOVW R11, (4*i)(R12)
#define OUTC(i, slot) \
	MOVW slot(R13), R0; MOVW (4*i)(R8), R11; ADD R0, R11; MOVW (4*i)(R9), R14; EOR R14, R11; MOVW R11, (4*i)(R12)
#define OUTD(i, slot) \
	MOVW slot(R13), R0; MOVW (4*i)(R8), R11; ADD R0@>24, R11; MOVW (4*i)(R9), R14; EOR R14, R11; MOVW R11, (4*i)(R12)

// func xorBlocksAsm(st *[16]uint32, dst, src *byte, n int)
// n is a multiple of 64, at least 64. st[12], the block counter, advances.
TEXT ·xorBlocksAsm(SB), NOSPLIT, $56-16
	MOVW st+0(FP), R0
	MOVW dst+4(FP), R1
	MOVW src+8(FP), R2
	MOVW n+12(FP), R3
	ADD R2, R3
	MOVW R0, 24(R13)
	MOVW R1, 28(R13)
	MOVW R2, 32(R13)
	MOVW R3, 36(R13)

block:
	MOVW 24(R13), R11
	MOVW 32(R11), R8
	MOVW R8, C8(R13)
	MOVW 36(R11), R8
	MOVW R8, C9(R13)
	MOVW 40(R11), R8
	MOVW R8, C10(R13)
	MOVW 44(R11), R8
	MOVW R8, C11(R13)
	MOVW 0(R11), R0
	MOVW 4(R11), R1
	MOVW 8(R11), R2
	MOVW 12(R11), R3
	MOVW 16(R11), R4
	MOVW 20(R11), R5
	MOVW 24(R11), R6
	MOVW 28(R11), R7
	MOVW 48(R11), R8
	MOVW 52(R11), R9
	MOVW 56(R11), R12
	MOVW 60(R11), R14
	MOVW R4@>7, R4
	MOVW R5@>7, R5
	MOVW R6@>7, R6
	MOVW R7@>7, R7
	MOVW R8@>8, R8
	MOVW R9@>8, R9
	MOVW R12@>8, R12
	MOVW R14@>8, R14
	MOVW $10, R11
	MOVW R11, 20(R13)

round:
	QRM(R0, R4, C8, R8)
	QRM(R1, R5, C9, R9)
	QRM(R2, R6, C10, R12)
	QRM(R3, R7, C11, R14)
	QRM(R0, R5, C10, R14)
	QRM(R1, R6, C11, R8)
	QRM(R2, R7, C8, R9)
	QRM(R3, R4, C9, R12)
	MOVW 20(R13), R11
	SUB.S $1, R11
	MOVW R11, 20(R13)
	BNE round

	MOVW R8, 40(R13)
	MOVW R9, 44(R13)
	MOVW R12, 48(R13)
	MOVW R14, 52(R13)
	MOVW 24(R13), R8
	MOVW 32(R13), R9
	MOVW 28(R13), R12
	OUTA(0, R0)
	OUTA(1, R1)
	OUTA(2, R2)
	OUTA(3, R3)
	OUTB(4, R4)
	OUTB(5, R5)
	OUTB(6, R6)
	OUTB(7, R7)
	OUTC(8, C8)
	OUTC(9, C9)
	OUTC(10, C10)
	OUTC(11, C11)
	OUTD(12, 40)
	OUTD(13, 44)
	OUTD(14, 48)
	OUTD(15, 52)

	MOVW 48(R8), R11
	ADD $1, R11
	MOVW R11, 48(R8)
	ADD $64, R9
	ADD $64, R12
	MOVW R9, 32(R13)
	MOVW R12, 28(R13)
	MOVW 36(R13), R11
	CMP R11, R9
	BNE block
	RET

// Poly1305 in radix 2^26 (see polyState): h in R0-R4, r0 in R8 and 5*r4
// in R14 (the most used), the other key limbs loaded from p (R12) as
// needed, d_i accumulated by UMULL/UMLAL in R6:R5, the message in R9.
// The new limbs wait in the frame (4-20) while the products still need
// the old ones; 24 holds the end of the message.
#define MASK $0xfc000000

// New limb at slot from d_i in R6:R5; the carry (below 2^32) starts d_i+1.
#define LIMB(slot) \
	MOVW R5>>26, R11; ORR R6<<6, R11; BIC MASK, R5; MOVW R5, slot(R13); \
	MOVW R11, R5; MOVW $0, R6

// func polyBlocksAsm(p *polyState, m *byte, n int)
// n is a multiple of 16, at least 16; every block gets the 2^128 bit.
TEXT ·polyBlocksAsm(SB), NOSPLIT, $24-12
	MOVW p+0(FP), R12
	MOVW m+4(FP), R9
	MOVW n+8(FP), R11
	ADD R9, R11
	MOVW R11, 24(R13)
	MOVW 0(R12), R0
	MOVW 4(R12), R1
	MOVW 8(R12), R2
	MOVW 12(R12), R3
	MOVW 16(R12), R4
	MOVW 20(R12), R8
	MOVW 52(R12), R14

pblock:
	// h += the block, split into 26-bit limbs, plus 2^128.
	MOVW 0(R9), R5
	MOVW 4(R9), R6
	MOVW 8(R9), R7
	MOVW 12(R9), R11
	BIC MASK, R5, R12
	ADD R12, R0
	MOVW R5>>26, R12
	ORR R6<<6, R12
	BIC MASK, R12
	ADD R12, R1
	MOVW R6>>20, R12
	ORR R7<<12, R12
	BIC MASK, R12
	ADD R12, R2
	MOVW R7>>14, R12
	ORR R11<<18, R12
	BIC MASK, R12
	ADD R12, R3
	ADD R11>>8, R4
	ADD $0x1000000, R4
	MOVW p+0(FP), R12

	// d0 = h0*r0 + h1*s4 + h2*s3 + h3*s2 + h4*s1
	MULLU R0, R8, (R6, R5)
	MULALU R1, R14, (R6, R5)
	MOVW 48(R12), R7
	MULALU R2, R7, (R6, R5)
	MOVW 44(R12), R7
	MULALU R3, R7, (R6, R5)
	MOVW 40(R12), R7
	MULALU R4, R7, (R6, R5)
	LIMB(4)
	// d1 = h0*r1 + h1*r0 + h2*s4 + h3*s3 + h4*s2
	MOVW 24(R12), R7
	MULALU R0, R7, (R6, R5)
	MULALU R1, R8, (R6, R5)
	MULALU R2, R14, (R6, R5)
	MOVW 48(R12), R7
	MULALU R3, R7, (R6, R5)
	MOVW 44(R12), R7
	MULALU R4, R7, (R6, R5)
	LIMB(8)
	// d2 = h0*r2 + h1*r1 + h2*r0 + h3*s4 + h4*s3
	MOVW 28(R12), R7
	MULALU R0, R7, (R6, R5)
	MOVW 24(R12), R7
	MULALU R1, R7, (R6, R5)
	MULALU R2, R8, (R6, R5)
	MULALU R3, R14, (R6, R5)
	MOVW 48(R12), R7
	MULALU R4, R7, (R6, R5)
	LIMB(12)
	// d3 = h0*r3 + h1*r2 + h2*r1 + h3*r0 + h4*s4
	MOVW 32(R12), R7
	MULALU R0, R7, (R6, R5)
	MOVW 28(R12), R7
	MULALU R1, R7, (R6, R5)
	MOVW 24(R12), R7
	MULALU R2, R7, (R6, R5)
	MULALU R3, R8, (R6, R5)
	MULALU R4, R14, (R6, R5)
	LIMB(16)
	// d4 = h0*r4 + h1*r3 + h2*r2 + h3*r1 + h4*r0
	MOVW 36(R12), R7
	MULALU R0, R7, (R6, R5)
	MOVW 32(R12), R7
	MULALU R1, R7, (R6, R5)
	MOVW 28(R12), R7
	MULALU R2, R7, (R6, R5)
	MOVW 24(R12), R7
	MULALU R3, R7, (R6, R5)
	MULALU R4, R8, (R6, R5)
	MOVW R5>>26, R11
	ORR R6<<6, R11
	BIC MASK, R5, R4
	// h0 = nh0 + 5*carry; h1 = nh1 + h0>>26.
	ADD R11<<2, R11
	MOVW 4(R13), R0
	ADD R11, R0
	MOVW 8(R13), R1
	ADD R0>>26, R1
	BIC MASK, R0
	MOVW 12(R13), R2
	MOVW 16(R13), R3

	ADD $16, R9
	MOVW 24(R13), R11
	CMP R11, R9
	BNE pblock

	MOVW R0, 0(R12)
	MOVW R1, 4(R12)
	MOVW R2, 8(R12)
	MOVW R3, 12(R12)
	MOVW R4, 16(R12)
	RET
