package chacha20poly1305

import (
	"bytes"
	"math/big"
	"math/rand/v2"
	"testing"
)

// polyBig is Poly1305 over full 16-byte blocks straight from RFC 8439
// section 2.5, in big integers: the reference for the limb code.
func polyBig(key, m []byte) [16]byte {
	le := func(b []byte) *big.Int {
		r := make([]byte, len(b))
		for i := range b {
			r[len(b)-1-i] = b[i]
		}
		return new(big.Int).SetBytes(r)
	}
	clamped := bytes.Clone(key[:16])
	for _, i := range []int{3, 7, 11, 15} {
		clamped[i] &= 15
	}
	for _, i := range []int{4, 8, 12} {
		clamped[i] &= 252
	}
	r, s := le(clamped), le(key[16:32])
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 130), big.NewInt(5))
	h := new(big.Int)
	for ; len(m) >= 16; m = m[16:] {
		h.Add(h, le(m[:16]))
		h.Add(h, two128)
		h.Mod(h.Mul(h, r), p)
	}
	h.Add(h, s)
	var tag [16]byte
	b := h.Bytes()
	for i := 0; i < 16 && i < len(b); i++ {
		tag[i] = b[len(b)-1-i]
	}
	return tag
}

func polyOwn(key, m []byte) [16]byte {
	var p polyState
	p.init(key)
	if len(m) > 0 {
		polyBlocks(&p, m)
	}
	var tag [16]byte
	p.finish(&tag)
	return tag
}

// TestPolyFinalReduction checks the end of Poly1305 where h lies within 5
// of p = 2^130-5, which random data practically never reaches: with r = 1
// two blocks of 2^128-1 and 2^128-4+k sum to exactly p+k (and p-1 for
// k = -1), so the tag is k+s only if finish subtracts p. s of all ones
// carries out of 2^128 too. Then random keys and messages, also against
// the big-integer reference.
func TestPolyFinalReduction(t *testing.T) {
	for _, s := range []byte{0x00, 0xff} {
		for k := -1; k <= 4; k++ {
			key := make([]byte, 32)
			key[0] = 1 // r = 1
			for i := 16; i < 32; i++ {
				key[i] = s
			}
			m := bytes.Repeat([]byte{0xff}, 32)
			m[16] = byte(0xfc + k) // the second block: 2^128-4+k
			got, want := polyOwn(key, m), polyBig(key, m)
			if got != want {
				t.Errorf("r = 1, s = %#x, h = p%+d: tag %x, want %x", s, k, got, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	key := make([]byte, 32)
	for i := 0; i < 200; i++ {
		fill(rng, key)
		m := make([]byte, 16*rng.IntN(100))
		fill(rng, m)
		if got, want := polyOwn(key, m), polyBig(key, m); got != want {
			t.Fatalf("random key and %d bytes: tag %x, want %x", len(m), got, want)
		}
	}
}
