package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
	if err := writePrivate(fresh, []byte("secret")); err != nil {
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
	if err := writePrivate(own, []byte("secret")); err != nil {
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
		err := writePrivate(link, []byte("secret"))
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
		if err := writePrivate(foreign, []byte("secret")); err == nil || !strings.Contains(err.Error(), "another user") {
			t.Errorf("into another user's file: %v", err)
		}
		if read(foreign) != "theirs" {
			t.Errorf("another user's file was written")
		}
	})
}

func TestParseDNSNoneAlone(t *testing.T) {
	for _, s := range []string{"none,1.1.1.1", "1.1.1.1 none"} {
		if got, err := parseDNS(s); err == nil || !strings.Contains(err.Error(), "none") {
			t.Errorf("parseDNS(%q) = %q, %v; want an error about none", s, got, err)
		}
	}
	if got, err := parseDNS("none"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("parseDNS(none) = %q, %v", got, err)
	}
}

// A user other than root asking for the status is told the socket is
// root's, not that wgd is not running.
func TestStatusNotRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a command as another user")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed: scripts/deps.sh installs util-linux")
	}
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The daemon's socket as listenControl leaves it: root's, mode 0600.
	sock := filepath.Join(dir, "wgd.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Chmod(sock, 0o600); err != nil {
		t.Fatal(err)
	}
	// This test binary runs as wgd (wgdArgsEnv), from where uid 65534 may run it.
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "wgd")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", bin)
	cmd.Env = append(os.Environ(), wgdArgsEnv+"=status\n--socket\n"+sock)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "permission denied") || strings.Contains(string(out), "not running") {
		t.Errorf("wgd status as uid 65534: %v\n%s", err, out)
	}
}
