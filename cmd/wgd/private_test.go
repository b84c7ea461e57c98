package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

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
