//go:build amd64 || arm64

package chacha20poly1305

import (
	"crypto/cipher"

	xcrypto "golang.org/x/crypto/chacha20poly1305"
)

// New returns ChaCha20-Poly1305 with the given 32-byte key: here
// x/crypto's, which has assembly for this CPU.
func New(key []byte) (cipher.AEAD, error) { return xcrypto.New(key) }

// NewX returns XChaCha20-Poly1305 (24-byte nonces): here x/crypto's.
func NewX(key []byte) (cipher.AEAD, error) { return xcrypto.NewX(key) }
