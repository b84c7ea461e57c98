package peers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Files with keys (--conf, --qr-png) are created private and never
// through a symbolic link or into another user's file.
func TestWritePrivate(t *testing.T) {
	dir := t.TempDir()
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	fresh := filepath.Join(dir, "fresh.conf")
	if err := WritePrivate(fresh, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o600 || read(fresh) != "secret" {
		t.Errorf("new file: mode %v, %q", fi.Mode(), read(fresh))
	}

	// One's own file is replaced, and loses its wider permissions.
	own := filepath.Join(dir, "own.conf")
	if err := os.WriteFile(own, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WritePrivate(own, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(own); fi.Mode().Perm() != 0o600 || read(own) != "secret" {
		t.Errorf("own file: mode %v, %q", fi.Mode(), read(own))
	}

	// A planted symbolic link, to an existing file or to none.
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{target, filepath.Join(dir, "nowhere")} {
		link := filepath.Join(dir, "link-"+filepath.Base(to))
		if err := os.Symlink(to, link); err != nil {
			t.Fatal(err)
		}
		err := WritePrivate(link, []byte("secret"))
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("through a symlink to %s: %v", to, err)
		}
	}
	if read(target) != "theirs" {
		t.Errorf("the link's target was written")
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere")); err == nil {
		t.Errorf("a file was created where the dangling link points")
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, ".*.wgd-*")); len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}

	t.Run("another user's file", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to make a file of another user")
		}
		foreign := filepath.Join(dir, "foreign.conf")
		if err := os.WriteFile(foreign, []byte("theirs"), 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(foreign, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if err := WritePrivate(foreign, []byte("secret")); err == nil || !strings.Contains(err.Error(), "another user") {
			t.Errorf("into another user's file: %v", err)
		}
		if read(foreign) != "theirs" {
			t.Errorf("another user's file was written")
		}
	})
}

// A copy left by a writer killed before its rename holds a private key:
// the next write removes it. Fresh copies (a writer at work), other
// names, and symbolic links are left alone, and no link is followed.
func TestWritePrivateRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "phone.conf")
	old := time.Now().Add(-time.Hour)
	plant := func(name string, age time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("PrivateKey = ..."), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, age, age); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := plant(".phone.conf.wgd-123456", old)
	fresh := plant(".phone.conf.wgd-654321", time.Now())
	other := plant(".phone.conf.wgd-12x", old)
	otherFile := plant(".tablet.conf.wgd-123456", old)
	target := plant("target", old)
	keep := []string{fresh, other, otherFile, target}
	if os.Geteuid() == 0 { // another user's file of that name is theirs
		theirs := plant(".phone.conf.wgd-424242", old)
		if err := os.Lchown(theirs, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		keep = append(keep, theirs)
	}
	link := filepath.Join(dir, ".phone.conf.wgd-777")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(link, old, old); err != nil { // sets the target's times
		t.Fatal(err)
	}

	for _, existing := range []bool{false, true} { // created, then replaced
		if err := WritePrivate(path, []byte("secret")); err != nil {
			t.Fatalf("existing %v: %v", existing, err)
		}
		if _, err := os.Lstat(stale); err == nil {
			t.Errorf("existing %v: the stale copy %s is left", existing, stale)
		}
		stale = plant(".phone.conf.wgd-123456", old)
	}
	for _, p := range append(keep, link) {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "PrivateKey = ..." {
		t.Errorf("the link's target changed: %q", b)
	}
}
