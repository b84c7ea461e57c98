package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// APKKey signs packages as apk-tools v3 does: a signature block holding
// a version byte (0), the hash (4, SHA-512), the key's id (the first 16
// bytes of the SHA-512 of its public key in OpenSSL's i2d_PublicKey form:
// PKCS #1 for RSA, the uncompressed point for EC) and the signature, by
// SHA-512, of the schema (little-endian), those 18 bytes and the SHA-512
// of the database. apk trusts it with the public key in /etc/apk/keys.
type APKKey struct {
	signer crypto.Signer
	id     [16]byte
}

// LoadAPKKey reads a PEM private key (RSA or EC; PKCS #8, #1 or SEC 1),
// as OpenWrt's key-build makes them.
func LoadAPKKey(file string) (*APKKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", file)
	}
	var key any
	switch blk.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		err = fmt.Errorf("PEM block %q is not a private key", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var pub []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		pub = x509.MarshalPKCS1PublicKey(&k.PublicKey)
	case *ecdsa.PrivateKey:
		e, err := k.PublicKey.ECDH()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		pub = e.Bytes()
	default:
		return nil, fmt.Errorf("%s: only RSA and EC keys sign packages", file)
	}
	sum := sha512.Sum512(pub)
	k := &APKKey{signer: key.(crypto.Signer)}
	copy(k.id[:], sum[:16])
	return k, nil
}

// signature is the payload of the signature block for the database db.
func (k *APKKey) signature(db []byte) ([]byte, error) {
	if k == nil {
		return nil, errors.New("no key")
	}
	hdr := append([]byte{0, 4}, k.id[:]...)
	md := sha512.Sum512(db)
	msg := binary.LittleEndian.AppendUint32(nil, apkSchemaPackage)
	msg = append(append(msg, hdr...), md[:]...)
	h := sha512.Sum512(msg)
	sig, err := k.signer.Sign(rand.Reader, h[:], crypto.SHA512)
	if err != nil {
		return nil, err
	}
	return append(hdr, sig...), nil
}
