package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/crypto/curve25519"
)

// KeyLen is the length of every WireGuard key.
const KeyLen = 32

// Key is a public key. It prints as base64, like wg(8).
// It crosses the control socket (package api): api's compatibility rule applies to its JSON.
type Key [KeyLen]byte

// Secret is a private or preshared key. It never prints its value, so that
// no log line, status or error can leak it by accident; use Base64 or Hex
// on purpose where the value must leave the process.
type Secret [KeyLen]byte

func (k Key) String() string               { return base64.StdEncoding.EncodeToString(k[:]) }
func (k Key) Hex() string                  { return hex.EncodeToString(k[:]) }
func (k Key) IsZero() bool                 { return k == Key{} }
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func (k *Key) UnmarshalText(b []byte) error {
	var err error
	*k, err = ParseKey(string(b))
	return err
}

func (s Secret) String() string                { return "(hidden)" }
func (s Secret) GoString() string              { return "(hidden)" }
func (s Secret) MarshalText() ([]byte, error)  { return []byte("(hidden)"), nil }
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, "(hidden)") }
func (s Secret) Base64() string                { return base64.StdEncoding.EncodeToString(s[:]) }
func (s Secret) Hex() string                   { return hex.EncodeToString(s[:]) }
func (s Secret) IsZero() bool                  { return s == Secret{} }

// PublicKey derives the public key of a private key.
func (s Secret) PublicKey() Key {
	var pub Key
	priv := [KeyLen]byte(s)
	clamp(&priv)
	curve25519.ScalarBaseMult((*[KeyLen]byte)(&pub), &priv)
	return pub
}

func clamp(k *[KeyLen]byte) {
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
}

var errKeyFormat = errors.New("not a WireGuard key (want 44 characters of base64 encoding 32 bytes)")

func decodeKey(s string) ([KeyLen]byte, error) {
	var k [KeyLen]byte
	if len(s) != 44 || s[43] != '=' {
		return k, errKeyFormat
	}
	n, err := base64.StdEncoding.Decode(k[:], []byte(s))
	if err != nil || n != KeyLen {
		return k, errKeyFormat
	}
	return k, nil
}

// ParseKey parses a base64 public key.
func ParseKey(s string) (Key, error) {
	k, err := decodeKey(s)
	return Key(k), err
}

// ParseSecret parses a base64 private or preshared key.
func ParseSecret(s string) (Secret, error) {
	k, err := decodeKey(s)
	return Secret(k), err
}

// GeneratePrivateKey returns a new clamped private key, as wg genkey does.
func GeneratePrivateKey() (Secret, error) {
	k, err := GeneratePresharedKey()
	clamp((*[KeyLen]byte)(&k))
	return k, err
}

// GeneratePresharedKey returns 32 random bytes, as wg genpsk does.
func GeneratePresharedKey() (Secret, error) {
	var k Secret
	_, err := rand.Read(k[:])
	return k, err
}
