package dataplane

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"wgd/internal/lab"
)

// The tests build their own wgd binaries with the lean data plane, made
// from the patches by scripts/wireguard-overlay.sh, whatever GOWORK the
// caller has: they test the profile routers get, also under a plain
// `go test`.
var (
	buildDir  string
	buildErr  error
	buildOnce sync.Once
	buildMu   sync.Mutex
	built     = map[string]string{}
	works     = map[string]string{} // profile: its go.work
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// profileWork returns the go.work of the patched data plane with profile
// (lean or throughput), made by scripts/wireguard-overlay.sh on first use.
func profileWork(t *testing.T, profile string) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "wgd-dataplane-")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if w, ok := works[profile]; ok {
		return w
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(root, "scripts", "wireguard-overlay.sh"), profile,
		filepath.Join(buildDir, "wireguard-"+profile)).CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/wireguard-overlay.sh %s: %v\n%s", profile, err, out)
	}
	works[profile] = strings.TrimSpace(string(out))
	return works[profile]
}

// leanWGD returns a wgd binary with the lean data plane for arch (nil: this
// machine), building it on first use.
func leanWGD(t *testing.T, arch *Arch) string {
	t.Helper()
	leanWork := profileWork(t, "lean")
	name := "native"
	if arch != nil {
		name = arch.Name
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[name]; ok {
		return bin
	}
	bin := filepath.Join(buildDir, "wgd-"+name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	if err := Build(ctx, bin, "./cmd/wgd", arch, leanWork); err != nil {
		t.Fatal(err)
	}
	t.Logf("built wgd for %s with the lean data plane in %.1fs", name, time.Since(start).Seconds())
	if p, err := BuildProfile(ctx, bin); err != nil || p != "lean" {
		t.Fatalf("%s has data plane %q (%v), want lean", bin, p, err)
	}
	built[name] = bin
	return bin
}

// logf logs a test's steps with the time since its start.
func logf(t *testing.T) func(string, ...any) {
	start := time.Now()
	return func(format string, args ...any) {
		t.Logf("%6.2fs %s", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
}

// testContext bounds a whole test: generous, so only a hang ends it.
func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// needTools skips t unless every command is installed.
func needTools(t *testing.T, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("needs %s: run scripts/deps.sh", c)
		}
	}
}

// forTest is lab.ForTest plus the tools every test here uses.
func forTest(t *testing.T, cmds ...string) *lab.Lab {
	t.Helper()
	l := lab.ForTest(t)
	needTools(t, append([]string{"wg", "ping"}, cmds...)...)
	return l
}
