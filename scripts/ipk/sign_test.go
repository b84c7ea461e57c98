package main

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// blocks splits a package into its blocks (type, payload).
func blocks(t *testing.T, apk []byte) (types []int, payloads [][]byte) {
	t.Helper()
	if !bytes.HasPrefix(apk, []byte("ADBd")) {
		t.Fatal("no ADBd")
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(apk[4:])))
	if err != nil || !bytes.HasPrefix(raw, []byte("ADB.pckg")) {
		t.Fatalf("inflate: %v", err)
	}
	for rest := raw[8:]; len(rest) > 0; {
		w := binary.LittleEndian.Uint32(rest)
		n := int(w & 0x3fffffff)
		types = append(types, int(w>>30))
		payloads = append(payloads, rest[4:n])
		rest = rest[(n+7)&^7:]
	}
	return types, payloads
}

func blocksOf(t *testing.T, apk []byte) []int {
	types, _ := blocks(t, apk)
	return types
}

// A signed package carries one signature block after the database that
// verifies with the key's public half, over what apk-tools signs.
func TestSignedAPK(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rk)
	ecPoint, _ := ec.PublicKey.ECDH()
	for name, c := range map[string]struct {
		pemType string
		der     []byte
		pub     crypto.PublicKey
		pubRaw  []byte
	}{
		"ec":  {"EC PRIVATE KEY", ecDER, &ec.PublicKey, ecPoint.Bytes()},
		"rsa": {"PRIVATE KEY", pkcs8, &rk.PublicKey, x509.MarshalPKCS1PublicKey(&rk.PublicKey)},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "key.pem")
			os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: c.pemType, Bytes: c.der}), 0o600)
			key, err := LoadAPKKey(file)
			if err != nil {
				t.Fatal(err)
			}
			p := &Package{Name: "x", Version: "1.0-r1", Arch: "noarch",
				Files: []File{{Path: "/etc/x", Mode: 0o644, Data: []byte("x\n")}}}
			apk, err := p.APK(p.APKMeta(), StockAPKScripts("x", "", ""), time.Unix(1, 0), key)
			if err != nil {
				t.Fatal(err)
			}
			types, payloads := blocks(t, apk)
			if len(types) < 2 || types[0] != 0 || types[1] != 1 {
				t.Fatalf("blocks %v: want the database, then a signature", types)
			}
			sig := payloads[1]
			id := sha512.Sum512(c.pubRaw)
			if sig[0] != 0 || sig[1] != 4 || !bytes.Equal(sig[2:18], id[:16]) {
				t.Fatalf("signature header % x", sig[:18])
			}
			md := sha512.Sum512(payloads[0])
			msg := binary.LittleEndian.AppendUint32(nil, 0x676b6370)
			msg = append(append(msg, sig[:18]...), md[:]...)
			h := sha512.Sum512(msg)
			ok := false
			switch pub := c.pub.(type) {
			case *ecdsa.PublicKey:
				ok = ecdsa.VerifyASN1(pub, h[:], sig[18:])
			case *rsa.PublicKey:
				ok = rsa.VerifyPKCS1v15(pub, crypto.SHA512, h[:], sig[18:]) == nil
			}
			if !ok {
				t.Error("the signature does not verify")
			}
			unsigned, _ := p.APK(p.APKMeta(), StockAPKScripts("x", "", ""), time.Unix(1, 0), nil)
			for i, typ := range blocksOf(t, unsigned) {
				if (i == 0) != (typ == 0) || typ == 1 {
					t.Errorf("unsigned package: block %d has type %d", i, typ)
				}
			}
		})
	}
}
