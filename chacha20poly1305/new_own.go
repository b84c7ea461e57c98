//go:build !amd64 && !arm64

package chacha20poly1305

import "crypto/cipher"

// New returns ChaCha20-Poly1305 with the given 32-byte key.
func New(key []byte) (cipher.AEAD, error) {
	a, err := newOwn(key)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// NewX returns XChaCha20-Poly1305 (24-byte nonces) with the given key.
func NewX(key []byte) (cipher.AEAD, error) {
	x, err := newOwnX(key)
	if err != nil {
		return nil, err
	}
	return x, nil
}
