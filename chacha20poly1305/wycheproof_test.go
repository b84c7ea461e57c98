package chacha20poly1305

import (
	"bytes"
	"crypto/cipher"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// wycheproofModule is Wycheproof's repository as a Go module at a pinned
// commit. The proxy serves it by this version (listing its versions or
// asking for @latest is refused); the test downloads it into the module
// cache and reads its vectors from there.
const wycheproofModule = "github.com/C2SP/wycheproof@v0.0.0-20250901140545-b51abcfb8daf"

// wycheproofEnv names the module's directory for the test binaries
// TestEmulated runs under qemu-user (they do not run the go command).
const wycheproofEnv = "WGD_WYCHEPROOF_DIR"

var wycheproof struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

// wycheproofDir returns the directory of the downloaded module.
func wycheproofDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv(wycheproofEnv); dir != "" {
		return dir
	}
	w := &wycheproof
	w.once.Do(func() {
		cmd := exec.Command("go", "mod", "download", "-json", wycheproofModule)
		w.out, w.err = cmd.Output()
		if w.err != nil {
			return
		}
		var m struct{ Dir, Error string }
		if w.err = json.Unmarshal(w.out, &m); w.err == nil {
			w.dir = m.Dir
		}
	})
	if w.err != nil || w.dir == "" {
		t.Fatalf("go mod download -json %s: %v\n%s", wycheproofModule, w.err, w.out)
	}
	return w.dir
}

type hexBytes []byte

func (h *hexBytes) UnmarshalText(s []byte) error {
	b, err := hex.DecodeString(string(s))
	*h = b
	return err
}

// wycheproofFile is the part of Wycheproof's AEAD schema (version 1) the
// test reads.
type wycheproofFile struct {
	Algorithm     string
	NumberOfTests int
	TestGroups    []struct {
		Tests []struct {
			TcID                       int `json:"tcId"`
			Comment                    string
			Key, IV, AAD, Msg, CT, Tag hexBytes
			Result                     string
		}
	}
}

// TestWycheproof runs Wycheproof's ChaCha20-Poly1305 and
// XChaCha20-Poly1305 vectors: every valid one seals to its ciphertext and
// tag (into an unaligned buffer too) and opens back; every invalid one is
// refused, by Open's error without plaintext in the output or, for a
// nonce of the wrong size, by a panic as with x/crypto.
func TestWycheproof(t *testing.T) {
	dir := wycheproofDir(t)
	for _, c := range []struct {
		name, file string
		nonceSize  int
		new        func(key []byte) (cipher.AEAD, error)
	}{
		{"own", "chacha20_poly1305_test.json", NonceSize, func(k []byte) (cipher.AEAD, error) { return newOwn(k) }},
		{"New", "chacha20_poly1305_test.json", NonceSize, New},
		{"own", "xchacha20_poly1305_test.json", NonceSizeX, func(k []byte) (cipher.AEAD, error) { return newOwnX(k) }},
		{"NewX", "xchacha20_poly1305_test.json", NonceSizeX, NewX},
	} {
		raw, err := os.ReadFile(filepath.Join(dir, "testvectors_v1", c.file))
		if err != nil {
			t.Fatal(err)
		}
		var f wycheproofFile
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		valid, invalid := 0, 0
		for _, g := range f.TestGroups {
			for _, v := range g.Tests {
				a, err := c.new(v.Key)
				if err != nil {
					t.Fatalf("%s, %s #%d: %v", c.name, c.file, v.TcID, err)
				}
				sealed := append(bytes.Clone(v.CT), v.Tag...)
				switch {
				case v.Result == "valid":
					valid++
					if got := a.Seal(nil, v.IV, v.Msg, v.AAD); !bytes.Equal(got, sealed) {
						t.Errorf("%s, %s #%d (%s): Seal\n got %x\nwant %x", c.name, c.file, v.TcID, v.Comment, got, sealed)
					}
					odd := make([]byte, 1+len(sealed))
					if got := a.Seal(odd[1:1], v.IV, v.Msg, v.AAD); !bytes.Equal(got, sealed) {
						t.Errorf("%s, %s #%d (%s): Seal into an odd address differs", c.name, c.file, v.TcID, v.Comment)
					}
					if got, err := a.Open(nil, v.IV, sealed, v.AAD); err != nil || !bytes.Equal(got, v.Msg) {
						t.Errorf("%s, %s #%d (%s): Open: %v", c.name, c.file, v.TcID, v.Comment, err)
					}
				case len(v.IV) != c.nonceSize:
					invalid++
					if !panics(func() { a.Open(nil, v.IV, sealed, v.AAD) }) {
						t.Errorf("%s, %s #%d (%s): Open took a %d-byte nonce", c.name, c.file, v.TcID, v.Comment, len(v.IV))
					}
				default:
					invalid++
					out := bytes.Repeat([]byte{0xa5}, len(v.CT))
					if _, err := a.Open(out[:0], v.IV, sealed, v.AAD); err == nil {
						t.Errorf("%s, %s #%d (%s): Open accepted it", c.name, c.file, v.TcID, v.Comment)
					}
					// No plaintext out: the output is untouched (this
					// package checks the tag first) or zeroed (x/crypto's
					// assembly decrypts first, then clears it).
					if !bytes.Equal(out, bytes.Repeat([]byte{0xa5}, len(v.CT))) && !bytes.Equal(out, make([]byte, len(v.CT))) {
						t.Errorf("%s, %s #%d (%s): refused, but Open wrote output %x", c.name, c.file, v.TcID, v.Comment, out)
					}
				}
			}
		}
		if valid+invalid != f.NumberOfTests || valid == 0 || invalid == 0 {
			t.Errorf("%s, %s: ran %d valid and %d invalid vectors of %d", c.name, c.file, valid, invalid, f.NumberOfTests)
		}
		t.Logf("%s, %s (%s): %d valid and %d invalid vectors", c.name, c.file, f.Algorithm, valid, invalid)
	}
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}
