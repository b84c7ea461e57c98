package chacha20poly1305

import (
	"bufio"
	"bytes"
	"crypto/cipher"
	"encoding/hex"
	"flag"
	"math/rand/v2"
	"strings"
	"testing"

	xcrypto "golang.org/x/crypto/chacha20poly1305"
)

// -cases sets how many random cases the cross-checks run per length class;
// make test runs few under emulation, by hand run many.
var cases = flag.Int("cases", 4, "random cases per length in the cross-checks")

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 8439 section 2.8.2: the AEAD example.
func TestRFC8439(t *testing.T) {
	key := unhex(t, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
	nonce := unhex(t, "070000004041424344454647")
	ad := unhex(t, "50515253c0c1c2c3c4c5c6c7")
	pt := []byte("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")
	want := unhex(t, "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"+
		"3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"+
		"92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"+
		"3ff4def08e4b7a9de576d26586cec64b6116"+
		"1ae10b594f09e26a7e902ecbd0600691")
	for _, impl := range impls(t) {
		a := impl.new(key)
		got := a.Seal(nil, nonce, pt, ad)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: Seal\n got %x\nwant %x", impl.name, got, want)
		}
		back, err := a.Open(nil, nonce, got, ad)
		if err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("%s: Open: %v %q", impl.name, err, back)
		}
	}
}

// draft-irtf-cfrg-xchacha-03 appendix A.3.1: the XChaCha20-Poly1305 example.
func TestXChaChaDraft(t *testing.T) {
	key := unhex(t, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
	nonce := unhex(t, "404142434445464748494a4b4c4d4e4f5051525354555657")
	ad := unhex(t, "50515253c0c1c2c3c4c5c6c7")
	pt := []byte("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")
	wantTag := unhex(t, "c0875924c1c7987947deafd8780acf49")
	x, err := newOwnX(key)
	if err != nil {
		t.Fatal(err)
	}
	got := x.Seal(nil, nonce, pt, ad)
	if tag := got[len(got)-Overhead:]; !bytes.Equal(tag, wantTag) {
		t.Fatalf("tag %x, want %x", tag, wantTag)
	}
	if !bytes.HasPrefix(got, unhex(t, "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb")) {
		t.Fatalf("ciphertext %x", got)
	}
}

type impl struct {
	name string
	new  func(key []byte) cipher.AEAD
}

// impls are the implementations every vector must hold for: this
// package's own code and what New returns on this CPU.
func impls(t *testing.T) []impl {
	return []impl{
		{"own", func(k []byte) cipher.AEAD {
			a, err := newOwn(k)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}},
		{"New", func(k []byte) cipher.AEAD {
			a, err := New(k)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}},
	}
}

// TestCrossCheck compares Seal and Open with x/crypto's for every length
// from 0 to 2100 (additional data 0 to 40 bytes), input and output at
// every offset modulo 8 and in place, and checks that a changed tag,
// ciphertext byte or additional data byte is rejected without touching
// the output.
func TestCrossCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, uint64(*cases)))
	key := make([]byte, KeySize)
	for i := 0; i < *cases; i++ {
		fill(rng, key)
		own, _ := newOwn(key)
		ref, _ := xcrypto.New(key)
		ownX, _ := newOwnX(key)
		refX, _ := xcrypto.NewX(key)
		for n := 0; n <= 2100; n++ {
			crossOne(t, rng, own, ref, n)
			if n%97 == 0 {
				crossOne(t, rng, ownX, refX, n)
			}
		}
	}
}

func crossOne(t *testing.T, rng *rand.Rand, own, ref cipher.AEAD, n int) {
	nonce := make([]byte, own.NonceSize())
	fill(rng, nonce)
	ad := make([]byte, rng.IntN(41))
	fill(rng, ad)
	pt := make([]byte, n)
	fill(rng, pt)
	want := ref.Seal(nil, nonce, pt, ad)

	srcOff, dstOff := rng.IntN(8), rng.IntN(8)
	buf := make([]byte, 8+n+Overhead)
	src := buf[srcOff : srcOff+n]
	copy(src, pt)
	dstBuf := make([]byte, 8+n+Overhead)
	got := own.Seal(dstBuf[dstOff:dstOff], nonce, src, ad)
	if !bytes.Equal(got, want) {
		t.Fatalf("Seal, %d bytes, ad %d, offsets %d/%d: differs from x/crypto", n, len(ad), srcOff, dstOff)
	}
	// In place: the ciphertext over the plaintext.
	inPlace := own.Seal(src[:0], nonce, src, ad)
	if !bytes.Equal(inPlace, want) {
		t.Fatalf("Seal in place, %d bytes, offset %d: differs from x/crypto", n, srcOff)
	}
	opened, err := own.Open(dstBuf[dstOff:dstOff], nonce, inPlace, ad)
	if err != nil || !bytes.Equal(opened, pt) {
		t.Fatalf("Open, %d bytes, offsets %d/%d: %v", n, srcOff, dstOff, err)
	}
	opened, err = own.Open(inPlace[:0], nonce, inPlace, ad)
	if err != nil || !bytes.Equal(opened, pt) {
		t.Fatalf("Open in place, %d bytes, offset %d: %v", n, srcOff, err)
	}

	// Forgeries: one bit of the tag, of the ciphertext, of the additional
	// data. The output buffer must stay as it was.
	sealed := ref.Seal(nil, nonce, pt, ad)
	forge := func(what string, ct, ad []byte) {
		out := bytes.Repeat([]byte{0xa5}, n)
		if _, err := own.Open(out[:0], nonce, ct, ad); err == nil {
			t.Fatalf("Open accepted a changed %s (%d bytes)", what, n)
		}
		if !bytes.Equal(out, bytes.Repeat([]byte{0xa5}, n)) {
			t.Fatalf("Open wrote output for a changed %s (%d bytes)", what, n)
		}
	}
	bad := bytes.Clone(sealed)
	bad[len(bad)-1-rng.IntN(Overhead)] ^= 1 << rng.IntN(8)
	forge("tag", bad, ad)
	if n > 0 {
		bad = bytes.Clone(sealed)
		bad[rng.IntN(n)] ^= 1 << rng.IntN(8)
		forge("ciphertext", bad, ad)
	}
	if len(ad) > 0 {
		badAD := bytes.Clone(ad)
		badAD[rng.IntN(len(ad))] ^= 1 << rng.IntN(8)
		forge("additional data", sealed, badAD)
	}
	if _, err := own.Open(nil, nonce, sealed[:rng.IntN(Overhead)], ad); err == nil {
		t.Fatalf("Open accepted a message shorter than a tag")
	}
}

func fill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// TestPolyLimbs drives the accumulator to its extremes: all-ones blocks
// with the largest clamped key (every limb near its bound, the carries
// of the final reduction taken), and keys whose one-time s overflows
// 2^128 when added; x/crypto decides.
func TestPolyLimbs(t *testing.T) {
	for _, fillByte := range []byte{0xff, 0xfe, 0x00, 0x01} {
		key := bytes.Repeat([]byte{fillByte}, KeySize)
		own, _ := newOwn(key)
		ref, _ := xcrypto.New(key)
		for _, n := range []int{0, 1, 15, 16, 17, 63, 64, 65, 1420, 4096} {
			pt := bytes.Repeat([]byte{0xff}, n)
			ad := bytes.Repeat([]byte{0xff}, n%33)
			nonce := bytes.Repeat([]byte{fillByte}, NonceSize)
			if got, want := own.Seal(nil, nonce, pt, ad), ref.Seal(nil, nonce, pt, ad); !bytes.Equal(got, want) {
				t.Fatalf("key %#x, %d bytes: differs from x/crypto", fillByte, n)
			}
		}
	}
}

func TestBadNonce(t *testing.T) {
	a, _ := newOwn(make([]byte, KeySize))
	defer func() {
		if recover() == nil {
			t.Fatal("a bad nonce did not panic")
		}
	}()
	a.Seal(nil, make([]byte, 8), nil, nil)
}

func TestKeySize(t *testing.T) {
	if _, err := New(make([]byte, 31)); err == nil {
		t.Fatal("New took a 31-byte key")
	}
	if _, err := NewX(make([]byte, 33)); err == nil {
		t.Fatal("NewX took a 33-byte key")
	}
}

func BenchmarkSeal1420(b *testing.B) {
	benchSeal(b, func(k []byte) cipher.AEAD { a, _ := New(k); return a })
}

func BenchmarkSeal1420XCrypto(b *testing.B) {
	benchSeal(b, func(k []byte) cipher.AEAD { a, _ := xcrypto.New(k); return a })
}

func benchSeal(b *testing.B, mk func([]byte) cipher.AEAD) {
	a := mk(make([]byte, KeySize))
	buf := make([]byte, 1420+Overhead)
	nonce := make([]byte, NonceSize)
	b.SetBytes(1420)
	for b.Loop() {
		a.Seal(buf[:0], nonce, buf[:1420], nil)
	}
}

func TestIsaHasR2(t *testing.T) {
	for _, c := range []struct {
		cpuinfo string
		want    bool
	}{
		{"system type\t\t: MediaTek MT7621 ver:1 eco:3\ncpu model\t\t: MIPS 1004Kc V2.15\nisa\t\t\t: mips1 mips2 mips32r1 mips32r2\nASEs implemented\t: mips16 dsp mt\n", true},
		{"cpu model\t\t: Broadcom BMIPS4350 V7.5\nisa\t\t\t: mips1 mips2 mips32r1\n", false},
		{"processor\t: 0\nvendor_id\t: GenuineIntel\n", true}, // not a MIPS kernel: qemu-user
	} {
		if got := isaHasR2(bufio.NewScanner(strings.NewReader(c.cpuinfo))); got != c.want {
			t.Errorf("isaHasR2(%q) = %v, want %v", c.cpuinfo, got, c.want)
		}
	}
}
