// Command aeadloop seals (or opens) n packets of one size with one
// ChaCha20-Poly1305 implementation, and nothing else: the program whose
// guest instructions scripts/insnbench counts under qemu-user. Two runs
// with different n give the instructions per packet without the
// program's startup.
package main

import (
	"crypto/cipher"
	"encoding/binary"
	"flag"
	"fmt"
	"os"

	"wgd/chacha20poly1305"

	xcrypto "golang.org/x/crypto/chacha20poly1305"
)

func main() {
	impl := flag.String("impl", "wgd", "wgd (this module's chacha20poly1305) or xcrypto")
	op := flag.String("op", "seal", "seal or open")
	n := flag.Int("n", 1000, "packets")
	size := flag.Int("size", 1420, "plaintext bytes per packet")
	flag.Parse()

	key := make([]byte, chacha20poly1305.KeySize)
	for i := range key {
		key[i] = byte(i)
	}
	var a cipher.AEAD
	var err error
	switch *impl {
	case "wgd":
		a, err = chacha20poly1305.New(key)
	case "xcrypto":
		a, err = xcrypto.New(key)
	default:
		err = fmt.Errorf("unknown -impl %q", *impl)
	}
	if *op != "seal" && *op != "open" {
		err = fmt.Errorf("unknown -op %q", *op)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "aeadloop:", err)
		os.Exit(2)
	}
	// The data plane's layout: a 16-byte transport header, then the
	// packet, sealed in place; opened into it (the ciphertext stays).
	buf := make([]byte, 16+*size+chacha20poly1305.Overhead)
	pkt := buf[16 : 16+*size]
	nonce := make([]byte, chacha20poly1305.NonceSize)
	sealed := a.Seal(nil, nonce, pkt, nil)
	for i := 0; i < *n; i++ {
		switch *op {
		case "seal":
			binary.LittleEndian.PutUint64(nonce[4:], uint64(i))
			a.Seal(pkt[:0], nonce, pkt, nil)
		case "open":
			if _, err := a.Open(pkt[:0], nonce, sealed, nil); err != nil {
				fmt.Fprintln(os.Stderr, "aeadloop:", err)
				os.Exit(1)
			}
		}
	}
}
