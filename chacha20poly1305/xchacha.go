package chacha20poly1305

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
)

// xaead is XChaCha20-Poly1305: HChaCha20 of the key and the nonce's first
// 16 bytes gives the key of ChaCha20-Poly1305, whose nonce is four zero
// bytes and the last 8 bytes.
type xaead struct {
	key [KeySize]byte
}

func newOwnX(key []byte) (*xaead, error) {
	if len(key) != KeySize {
		return nil, errors.New("chacha20poly1305: bad key length")
	}
	x := new(xaead)
	copy(x.key[:], key)
	return x, nil
}

func (x *xaead) NonceSize() int { return NonceSizeX }
func (x *xaead) Overhead() int  { return Overhead }

func (x *xaead) inner(nonce []byte) (*aead, [NonceSize]byte) {
	a := &aead{key: hChaCha20(&x.key, nonce[:16])}
	var n [NonceSize]byte
	copy(n[4:], nonce[16:24])
	return a, n
}

func (x *xaead) Seal(dst, nonce, plaintext, additionalData []byte) []byte {
	if len(nonce) != NonceSizeX {
		panic("chacha20poly1305: bad nonce length passed to Seal")
	}
	a, n := x.inner(nonce)
	return a.Seal(dst, n[:], plaintext, additionalData)
}

func (x *xaead) Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error) {
	if len(nonce) != NonceSizeX {
		panic("chacha20poly1305: bad nonce length passed to Open")
	}
	a, n := x.inner(nonce)
	return a.Open(dst, n[:], ciphertext, additionalData)
}

// hChaCha20 is ChaCha20's 20 rounds without the final addition, keeping
// words 0-3 and 12-15 as the derived key.
func hChaCha20(key *[KeySize]byte, nonce []byte) [8]uint32 {
	var s [16]uint32
	s[0], s[1], s[2], s[3] = sigma0, sigma1, sigma2, sigma3
	for i := 0; i < 8; i++ {
		s[4+i] = binary.LittleEndian.Uint32(key[4*i:])
	}
	for i := 0; i < 4; i++ {
		s[12+i] = binary.LittleEndian.Uint32(nonce[4*i:])
	}
	rounds(&s)
	return [8]uint32{s[0], s[1], s[2], s[3], s[12], s[13], s[14], s[15]}
}

var _ cipher.AEAD = (*xaead)(nil)
