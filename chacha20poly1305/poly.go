package chacha20poly1305

import "encoding/binary"

// polyState is Poly1305 in radix 2^26: the accumulator h and the key r in
// five 26-bit limbs, so every product fits a 32x32->64 multiply (the one
// 32-bit CPUs have) and five of them add up without overflow, even as
// signed 64-bit sums. The assembly depends on this layout.
type polyState struct {
	h  [5]uint32 // accumulator, limbs below 2^26 (h1 a little above) between blocks
	r  [5]uint32 // clamped key
	r5 [4]uint32 // 5*r[1..4]: 2^130 = 5 mod p folds the high products back
	s  [4]uint32 // the key's second half, added at the end
}

const mask26 = 1<<26 - 1

// init sets the one-time key: r clamped as RFC 8439 says (top 4 bits of
// every 32-bit word and bottom 2 bits of words 1-3 cleared), then split.
func (p *polyState) init(key []byte) {
	t0 := binary.LittleEndian.Uint32(key[0:]) & 0x0fffffff
	t1 := binary.LittleEndian.Uint32(key[4:]) & 0x0ffffffc
	t2 := binary.LittleEndian.Uint32(key[8:]) & 0x0ffffffc
	t3 := binary.LittleEndian.Uint32(key[12:]) & 0x0ffffffc
	p.h = [5]uint32{}
	p.r[0] = t0 & mask26
	p.r[1] = (t0>>26 | t1<<6) & mask26
	p.r[2] = (t1>>20 | t2<<12) & mask26
	p.r[3] = (t2>>14 | t3<<18) & mask26
	p.r[4] = t3 >> 8
	for i := range p.r5 {
		p.r5[i] = 5 * p.r[i+1]
	}
	for i := range p.s {
		p.s[i] = binary.LittleEndian.Uint32(key[16+4*i:])
	}
}

// polyBlocksGeneric absorbs len(m)/16 full blocks (len(m) a multiple of
// 16), each with the 2^128 bit set.
func polyBlocksGeneric(p *polyState, m []byte) {
	h0, h1, h2, h3, h4 := p.h[0], p.h[1], p.h[2], p.h[3], p.h[4]
	r0, r1, r2, r3, r4 := uint64(p.r[0]), uint64(p.r[1]), uint64(p.r[2]), uint64(p.r[3]), uint64(p.r[4])
	s1, s2, s3, s4 := uint64(p.r5[0]), uint64(p.r5[1]), uint64(p.r5[2]), uint64(p.r5[3])
	for len(m) >= 16 {
		t0 := binary.LittleEndian.Uint32(m[0:])
		t1 := binary.LittleEndian.Uint32(m[4:])
		t2 := binary.LittleEndian.Uint32(m[8:])
		t3 := binary.LittleEndian.Uint32(m[12:])
		h0 += t0 & mask26
		h1 += (t0>>26 | t1<<6) & mask26
		h2 += (t1>>20 | t2<<12) & mask26
		h3 += (t2>>14 | t3<<18) & mask26
		h4 += t3>>8 | 1<<24

		a0, a1, a2, a3, a4 := uint64(h0), uint64(h1), uint64(h2), uint64(h3), uint64(h4)
		d0 := a0*r0 + a1*s4 + a2*s3 + a3*s2 + a4*s1
		d1 := a0*r1 + a1*r0 + a2*s4 + a3*s3 + a4*s2
		d2 := a0*r2 + a1*r1 + a2*r0 + a3*s4 + a4*s3
		d3 := a0*r3 + a1*r2 + a2*r1 + a3*r0 + a4*s4
		d4 := a0*r4 + a1*r3 + a2*r2 + a3*r1 + a4*r0

		d1 += d0 >> 26
		h0 = uint32(d0) & mask26
		d2 += d1 >> 26
		h1 = uint32(d1) & mask26
		d3 += d2 >> 26
		h2 = uint32(d2) & mask26
		d4 += d3 >> 26
		h3 = uint32(d3) & mask26
		c := uint32(d4 >> 26)
		h4 = uint32(d4) & mask26
		h0 += c * 5
		h1 += h0 >> 26
		h0 &= mask26
		m = m[16:]
	}
	p.h = [5]uint32{h0, h1, h2, h3, h4}
}

// finish writes the tag: h fully reduced mod 2^130-5, plus s mod 2^128.
func (p *polyState) finish(tag *[16]byte) {
	h0, h1, h2, h3, h4 := p.h[0], p.h[1], p.h[2], p.h[3], p.h[4]
	h2 += h1 >> 26
	h1 &= mask26
	h3 += h2 >> 26
	h2 &= mask26
	h4 += h3 >> 26
	h3 &= mask26
	h0 += (h4 >> 26) * 5
	h4 &= mask26
	h1 += h0 >> 26
	h0 &= mask26

	// g = h + 5 - 2^130; keep it when it does not go negative (h >= p).
	g0 := h0 + 5
	g1 := h1 + g0>>26
	g0 &= mask26
	g2 := h2 + g1>>26
	g1 &= mask26
	g3 := h3 + g2>>26
	g2 &= mask26
	g4 := h4 + g3>>26 - 1<<26
	g3 &= mask26
	keepH := uint32(int32(g4) >> 31) // all ones when g4 went negative
	keepG := ^keepH
	h0 = h0&keepH | g0&keepG
	h1 = h1&keepH | g1&keepG
	h2 = h2&keepH | g2&keepG
	h3 = h3&keepH | g3&keepG
	h4 = h4&keepH | g4&keepG
	// h1 may have been left at 2^26 by the first pass: carry once more
	// (h < p here, so nothing leaves h4).
	h2 += h1 >> 26
	h1 &= mask26
	h3 += h2 >> 26
	h2 &= mask26
	h4 += h3 >> 26
	h3 &= mask26

	// To 32-bit words, then add s with carries.
	w0 := uint64(h0 | h1<<26)
	w1 := uint64(h1>>6 | h2<<20)
	w2 := uint64(h2>>12 | h3<<14)
	w3 := uint64(h3>>18 | h4<<8)
	w0 += uint64(p.s[0])
	w1 += uint64(p.s[1]) + w0>>32
	w2 += uint64(p.s[2]) + w1>>32
	w3 += uint64(p.s[3]) + w2>>32
	binary.LittleEndian.PutUint32(tag[0:], uint32(w0))
	binary.LittleEndian.PutUint32(tag[4:], uint32(w1))
	binary.LittleEndian.PutUint32(tag[8:], uint32(w2))
	binary.LittleEndian.PutUint32(tag[12:], uint32(w3))
	*p = polyState{}
}
