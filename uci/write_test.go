package uci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "network")
	if err := os.WriteFile(path, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "new\n" {
		t.Fatalf("content %q, %v", got, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the old file's 0640 (%v)", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}

	// A new file gets perm; a link is followed, not replaced.
	fresh := filepath.Join(dir, "fresh")
	if err := WriteFileAtomic(fresh, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v, %v", fi.Mode(), err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("network", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(link, []byte("via link\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced by a file")
	}
	if got, _ := os.ReadFile(path); string(got) != "via link\n" {
		t.Errorf("target holds %q", got)
	}

	// A failed write leaves the old file alone.
	if err := WriteFileAtomic(filepath.Join(dir, "nodir", "x"), []byte("x"), 0o600); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestUncommitted(t *testing.T) {
	tmp := t.TempDir()
	uciDir := filepath.Join(tmp, ".uci")
	rpcd := filepath.Join(tmp, "rpcd", "uci-0123abcd")
	for _, d := range []string{uciDir, rpcd} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	dirs := []string{uciDir, filepath.Join(tmp, "rpcd", "uci-*"), filepath.Join(tmp, "missing")}
	if err := Uncommitted(dirs, "network"); err != nil {
		t.Errorf("no delta files: %v", err)
	}
	// libuci leaves an empty delta file behind after a commit.
	if err := os.WriteFile(filepath.Join(uciDir, "network"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Uncommitted(dirs, "network"); err != nil {
		t.Errorf("empty delta file: %v", err)
	}
	for _, dir := range []string{uciDir, rpcd} {
		delta := filepath.Join(dir, "network")
		if err := os.WriteFile(delta, []byte("network.wg0.mtu='1280'\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		err := Uncommitted(dirs, "network")
		var u *UncommittedError
		if !errors.As(err, &u) || u.Path != delta || !strings.Contains(err.Error(), "uci commit network") {
			t.Errorf("delta in %s: %v", dir, err)
		}
		if err := Uncommitted(dirs, "wireless"); err != nil {
			t.Errorf("another package's delta counted: %v", err)
		}
		os.Remove(delta)
	}
	if err := Uncommitted(nil, "network"); err != nil {
		t.Errorf("no save directories: %v", err)
	}
}

func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "network")
	if err := os.WriteFile(path, []byte("config s a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := LockFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := LockFile(ctx, path); err == nil || !strings.Contains(err.Error(), "locked by another program") {
		t.Fatalf("second lock while held: %v", err)
	}
	// Replacing the file does not let a second holder in: the
	// directory's lock still holds.
	if err := WriteFileAtomic(path, []byte("config s b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := LockFile(ctx2, path); err == nil {
		t.Fatal("second lock after the file was replaced")
	}
	l.Unlock()
	l2, err := LockFile(context.Background(), path)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}

func TestUpdate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "network")
	orig := "# mine\nconfig interface 'wg0'\n\toption proto wgd # keep\n"
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	add := func(d *Doc) error { return d.AddSection("wireguard_wg0", "", newPeer("x"), nil) }

	// An edit that fails, uncommitted changes and a broken file leave the
	// file as it was.
	if err := Update(ctx, dir, "network", UpdateOptions{}, func(d *Doc) error {
		if err := add(d); err != nil {
			return err
		}
		return errors.New("changed my mind")
	}); err == nil || err.Error() != "changed my mind" {
		t.Errorf("failing edit: %v", err)
	}
	saveDir := filepath.Join(dir, "save")
	os.Mkdir(saveDir, 0o700)
	os.WriteFile(filepath.Join(saveDir, "network"), []byte("network.wg0.mtu='1280'\n"), 0o600)
	var u *UncommittedError
	if err := Update(ctx, dir, "network", UpdateOptions{SaveDirs: []string{saveDir}}, add); !errors.As(err, &u) {
		t.Errorf("uncommitted changes: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != orig {
		t.Fatalf("file changed: %q", got)
	}
	if err := Update(ctx, dir, "missing", UpdateOptions{}, add); err == nil {
		t.Error("missing file edited")
	}
	if err := Update(ctx, dir, "../x", UpdateOptions{}, add); err == nil {
		t.Error("package name with a slash accepted")
	}

	if err := Update(ctx, dir, "network", UpdateOptions{}, add); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(got), orig) || !strings.Contains(string(got), "\nconfig wireguard_wg0\n\toption description 'x'\n") {
		t.Errorf("after add:\n%s", got)
	}
}

// Concurrent read-modify-write cycles lose no update.
func TestUpdateConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "network")
	if err := os.WriteFile(path, []byte("config interface 'wg0'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- Update(context.Background(), dir, "network", UpdateOptions{LockWait: time.Minute}, func(d *Doc) error {
				// The next number is read from the file: without the
				// lock, two writers would pick the same one.
				next := len(d.Package().SectionsOfType("peer"))
				return d.AddSection("peer", fmt.Sprintf("p%d", next), []*Option{{Name: "by", Values: []string{fmt.Sprint(i)}}}, nil)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	p, errList := Load(dir, "network")
	if len(errList) != 0 {
		t.Fatal(errList)
	}
	peers := p.SectionsOfType("peer")
	if len(peers) != n {
		t.Fatalf("%d sections after %d concurrent adds", len(peers), n)
	}
	for i, s := range peers {
		if s.Name != fmt.Sprintf("p%d", i) {
			t.Errorf("section %d named %s", i, s.Name)
		}
	}
}
