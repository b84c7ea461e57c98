package chacha20poly1305

import (
	"encoding/binary"
	"math/bits"
)

// "expand 32-byte k", little-endian words.
const (
	sigma0 = 0x61707865
	sigma1 = 0x3320646e
	sigma2 = 0x79622d32
	sigma3 = 0x6b206574
)

func quarter(a, b, c, d uint32) (uint32, uint32, uint32, uint32) {
	a += b
	d = bits.RotateLeft32(d^a, 16)
	c += d
	b = bits.RotateLeft32(b^c, 12)
	a += b
	d = bits.RotateLeft32(d^a, 8)
	c += d
	b = bits.RotateLeft32(b^c, 7)
	return a, b, c, d
}

// rounds applies ChaCha's 20 rounds (10 column and diagonal double rounds).
func rounds(s *[16]uint32) {
	x0, x1, x2, x3 := s[0], s[1], s[2], s[3]
	x4, x5, x6, x7 := s[4], s[5], s[6], s[7]
	x8, x9, x10, x11 := s[8], s[9], s[10], s[11]
	x12, x13, x14, x15 := s[12], s[13], s[14], s[15]
	for i := 0; i < 10; i++ {
		x0, x4, x8, x12 = quarter(x0, x4, x8, x12)
		x1, x5, x9, x13 = quarter(x1, x5, x9, x13)
		x2, x6, x10, x14 = quarter(x2, x6, x10, x14)
		x3, x7, x11, x15 = quarter(x3, x7, x11, x15)
		x0, x5, x10, x15 = quarter(x0, x5, x10, x15)
		x1, x6, x11, x12 = quarter(x1, x6, x11, x12)
		x2, x7, x8, x13 = quarter(x2, x7, x8, x13)
		x3, x4, x9, x14 = quarter(x3, x4, x9, x14)
	}
	s[0], s[1], s[2], s[3] = x0, x1, x2, x3
	s[4], s[5], s[6], s[7] = x4, x5, x6, x7
	s[8], s[9], s[10], s[11] = x8, x9, x10, x11
	s[12], s[13], s[14], s[15] = x12, x13, x14, x15
}

// xorBlocksGeneric XORs len(src)/64 keystream blocks (len(src) a multiple
// of 64) into dst, starting at the block counter st[12], which it
// advances.
func xorBlocksGeneric(st *[16]uint32, dst, src []byte) {
	for len(src) >= 64 {
		x := *st
		rounds(&x)
		for i := range x {
			k := x[i] + st[i]
			binary.LittleEndian.PutUint32(dst[4*i:], binary.LittleEndian.Uint32(src[4*i:])^k)
		}
		st[12]++
		src, dst = src[64:], dst[64:]
	}
}
