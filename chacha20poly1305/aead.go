// Package chacha20poly1305 is the ChaCha20-Poly1305 AEAD of RFC 8439 and
// its XChaCha20 variant, with the API of golang.org/x/crypto/chacha20poly1305
// so the data plane can use either. On amd64 and arm64 New and NewX return
// x/crypto's AEAD, which has assembly there. Elsewhere they return this
// package's own: generic Go, with assembly for the router CPUs that
// x/crypto leaves to generic code (mips and mipsle; arm with GOARM=7).
//
// The package sits outside internal/ because the patched data plane module
// (golang.zx2c4.com/wireguard, see patches/0020) imports it through wgd's
// go.work.
package chacha20poly1305

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"slices"
	"unsafe"
)

const (
	// KeySize is the size of the key, in bytes.
	KeySize = 32
	// NonceSize is the size of the nonce of New's AEAD.
	NonceSize = 12
	// NonceSizeX is the size of the nonce of NewX's AEAD.
	NonceSizeX = 24
	// Overhead is the size of the authentication tag.
	Overhead = 16
)

var errOpen = errors.New("chacha20poly1305: message authentication failed")

// maxPlaintext: the 32-bit block counter starts at 1 for the message.
const maxPlaintext = (1<<32 - 1) * 64

// aead is this package's ChaCha20-Poly1305 with a 12-byte nonce.
type aead struct {
	key [8]uint32
}

// newOwn returns this package's implementation whatever the CPU (the tests
// compare it with x/crypto's on every architecture).
func newOwn(key []byte) (*aead, error) {
	if len(key) != KeySize {
		return nil, errors.New("chacha20poly1305: bad key length")
	}
	a := new(aead)
	for i := range a.key {
		a.key[i] = binary.LittleEndian.Uint32(key[4*i:])
	}
	return a, nil
}

func (a *aead) NonceSize() int { return NonceSize }
func (a *aead) Overhead() int  { return Overhead }

// state returns the ChaCha20 input block for nonce at block counter 0.
func (a *aead) state(nonce []byte) [16]uint32 {
	return [16]uint32{
		sigma0, sigma1, sigma2, sigma3,
		a.key[0], a.key[1], a.key[2], a.key[3],
		a.key[4], a.key[5], a.key[6], a.key[7],
		0,
		binary.LittleEndian.Uint32(nonce[0:]),
		binary.LittleEndian.Uint32(nonce[4:]),
		binary.LittleEndian.Uint32(nonce[8:]),
	}
}

// begin derives the one-time Poly1305 key from block 0 and leaves st at
// block 1, where the message's keystream starts.
func begin(st *[16]uint32, p *polyState) {
	var block [64]byte
	xorKeyStream(st, block[:], block[:])
	p.init(block[:32])
	clear(block[:])
}

func (a *aead) Seal(dst, nonce, plaintext, additionalData []byte) []byte {
	if len(nonce) != NonceSize {
		panic("chacha20poly1305: bad nonce length passed to Seal")
	}
	if uint64(len(plaintext)) > maxPlaintext {
		panic("chacha20poly1305: plaintext too large")
	}
	ret, out := grow(dst, len(plaintext)+Overhead)
	if inexactOverlap(out, plaintext) {
		panic("chacha20poly1305: invalid buffer overlap")
	}
	st := a.state(nonce)
	var p polyState
	begin(&st, &p)
	xorKeyStream(&st, out[:len(plaintext)], plaintext)
	p.aeadTag(out[len(plaintext):], additionalData, out[:len(plaintext)])
	return ret
}

func (a *aead) Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error) {
	if len(nonce) != NonceSize {
		panic("chacha20poly1305: bad nonce length passed to Open")
	}
	if len(ciphertext) < Overhead {
		return nil, errOpen
	}
	if uint64(len(ciphertext)) > maxPlaintext+Overhead {
		panic("chacha20poly1305: ciphertext too large")
	}
	ct, tag := ciphertext[:len(ciphertext)-Overhead], ciphertext[len(ciphertext)-Overhead:]
	ret, out := grow(dst, len(ct))
	if inexactOverlap(out, ct) {
		panic("chacha20poly1305: invalid buffer overlap")
	}
	st := a.state(nonce)
	var p polyState
	begin(&st, &p)
	var want [Overhead]byte
	p.aeadTag(want[:], additionalData, ct)
	if subtle.ConstantTimeCompare(want[:], tag) != 1 {
		return nil, errOpen
	}
	xorKeyStream(&st, out, ct)
	return ret, nil
}

// aeadTag writes the tag of RFC 8439 section 2.8: Poly1305 over the
// additional data and the ciphertext, each padded with zeros to 16 bytes,
// then both lengths.
func (p *polyState) aeadTag(tag, ad, ct []byte) {
	p.padded(ad)
	p.padded(ct)
	var lens [16]byte
	binary.LittleEndian.PutUint64(lens[0:], uint64(len(ad)))
	binary.LittleEndian.PutUint64(lens[8:], uint64(len(ct)))
	polyBlocks(p, lens[:])
	p.finish((*[16]byte)(tag))
}

// padded absorbs b followed by zeros up to a multiple of 16 bytes.
func (p *polyState) padded(b []byte) {
	full := len(b) &^ 15
	if full > 0 {
		polyBlocks(p, b[:full])
	}
	if rest := b[full:]; len(rest) > 0 {
		var last [16]byte
		copy(last[:], rest)
		polyBlocks(p, last[:])
	}
}

// xorKeyStream XORs src with the keystream from st's block counter on into
// dst (len(dst) >= len(src)) and advances the counter past the blocks used.
func xorKeyStream(st *[16]uint32, dst, src []byte) {
	full := len(src) &^ 63
	if full > 0 {
		xorBlocks(st, dst[:full], src[:full])
	}
	if rest := src[full:]; len(rest) > 0 {
		var block [64]byte
		copy(block[:], rest)
		xorBlocks(st, block[:], block[:])
		copy(dst[full:], block[:len(rest)])
	}
}

// grow appends n bytes to in (reallocating when its capacity is short)
// and returns the whole slice and the n new bytes.
func grow(in []byte, n int) (whole, added []byte) {
	whole = slices.Grow(in, n)[:len(in)+n]
	return whole, whole[len(in):]
}

// inexactOverlap reports whether x and y share memory at different
// offsets: in-place use (same start) is fine, a shifted overlap is not.
func inexactOverlap(x, y []byte) bool {
	if len(x) == 0 || len(y) == 0 || &x[0] == &y[0] {
		return false
	}
	xs, ys := uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&y[0]))
	return xs <= ys+uintptr(len(y)-1) && ys <= xs+uintptr(len(x)-1)
}

// Interface checks.
var _ cipher.AEAD = (*aead)(nil)
