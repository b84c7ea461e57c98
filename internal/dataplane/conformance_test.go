package dataplane

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestConformance runs wireguard-go's own conformance script, tests/netns.sh
// of the pinned module (read from the module cache, not kept here), against
// wireguard-go's main package built with each of wgd's data-plane profiles:
// two devices in namespaces, pings, iperf3 over IPv4 and IPv6 outer
// transports, a 34 KB MTU, roaming, the allowed-IPs filter, NAT, sticky
// source addresses, and large UAPI configurations.
//
// The lean profile carries at most 2016-byte packets. Where the script
// raises the MTU to 34 KB, its packets are dropped, and answered with an
// ICMP "fragmentation needed" / "packet too big" that makes TCP and UDP
// shrink theirs: the steps pass, and the test requires the drops to be
// logged (the device noticed them) and the device never to close. The
// throughput profile carries such packets: it must drop none.
func TestConformance(t *testing.T) {
	for _, profile := range []string{"lean", "throughput"} {
		t.Run(profile, func(t *testing.T) { conformance(t, profile) })
	}
}

// netnsScript is the pinned module's tests/netns.sh, changed (each change
// is checked to apply exactly once, so a new version of the script that
// moves things fails here rather than running unchanged):
//   - iperf3 moves 50 MB per run instead of 1 GB: its 16 runs stay within
//     about a minute on a loaded machine;
//   - before a device's link is moved to another namespace, the script
//     waits until the device answers on its UAPI socket: wireguard-go
//     daemonizes, and the child sets the link's MTU by name once it starts;
//     moved before that, the child fails ("no such device") and the script
//     with it, which happened here under load.
func netnsScript(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.zx2c4.com/wireguard").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	orig := filepath.Join(strings.TrimSpace(string(out)), "tests", "netns.sh")
	b, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	change := func(old, new string, times int) {
		if n := strings.Count(s, old); n != times {
			t.Fatalf("%s: %q occurs %d times, want %d: the script changed", orig, old, n, times)
		}
		s = strings.ReplaceAll(s, old, new)
	}
	change("-n 1G", "-n 50M", 4)
	for _, n := range []string{"1", "2"} {
		move := fmt.Sprintf("ip0 link set wg%s netns $netns%s\n", n, n)
		change(move, fmt.Sprintf("n0 wg show wg%s >/dev/null\n", n)+move, 1)
	}
	path := filepath.Join(dir, "netns.sh")
	if err := os.WriteFile(path, []byte(s), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func conformance(t *testing.T, profile string) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and TUN devices")
	}
	needTools(t, "bash", "unshare", "ip", "ss", "wg", "iperf3", "ncat", "ping")
	ctx := testContext(t, 8*time.Minute)
	dir := t.TempDir()
	bin := filepath.Join(dir, "wireguard-go-"+profile)
	// GOWORK=off for the script's location: the module cache's pinned
	// copy, not the patched one.
	t.Setenv("GOWORK", "off")
	script := netnsScript(t, dir)
	if err := Build(ctx, bin, "golang.zx2c4.com/wireguard", nil, profileWork(t, profile)); err != nil {
		t.Fatal(err)
	}
	if p, err := BuildProfile(ctx, bin); err != nil || p != profile {
		t.Fatalf("%s has data plane %q (%v), want %s", bin, p, err, profile)
	}

	// The script's names are fixed: wg-test-$$-N namespaces (unique by
	// pid) and wg0/wg1/wg2 UAPI sockets under /var/run/wireguard (shared
	// by every process on the host). A private mount namespace with its
	// own empty /run/wireguard and /run/netns keeps both away from every
	// other test, and takes them along when it ends.
	// A device that closes leaves the script waiting on iperf3: the run is
	// stopped as soon as a device logs that it closed its TUN.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	out := &watchWriter{fatal: deviceDied, stop: stop}
	// The script sets the host's net.core.message_cost and restores it
	// when it ends normally; so does the test, in case it did not.
	if cost, err := os.ReadFile("/proc/sys/net/core/message_cost"); err == nil {
		defer os.WriteFile("/proc/sys/net/core/message_cost", cost, 0o644)
	}
	cmd := exec.CommandContext(runCtx, "unshare", "-m", "--propagation", "private", "sh", "-c",
		`mkdir -p /run/wireguard /run/netns && mount -t tmpfs wgd-conformance /run/wireguard && `+
			`mount -t tmpfs wgd-conformance /run/netns && exec bash "$0" "$1"`, script, bin)
	cmd.Dir = dir
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err := cmd.Run()
	killLeftovers(t, bin)
	log := out.String()
	t.Logf("tests/netns.sh with the %s data plane: %v after %.0fs", profile, err, time.Since(start).Seconds())
	if died := out.hit(); died != "" {
		t.Fatalf("a device closed: it logged %q; the script's last lines:\n%s", died, tail(log, 80))
	}
	if err != nil || !strings.Contains(log, "Objects that were created were also destroyed.") {
		t.Fatalf("tests/netns.sh failed (%v); its last lines:\n%s", err, tail(log, 60))
	}
	drops := regexp.MustCompile(`Dropped \d+ oversized packet`).FindAllString(log, -1)
	switch profile {
	case "lean":
		if len(drops) == 0 {
			t.Errorf("no oversized packet dropped: the 34 KB MTU steps did not reach the lean device's limit")
		}
		t.Logf("lean: the 34 KB MTU steps passed with oversized packets dropped and answered with ICMP (%d drop reports, e.g. %q)", len(drops), firstLine(log, "Dropped "))
	default:
		if len(drops) != 0 {
			t.Errorf("the %s device dropped oversized packets (%d reports): it should carry 34 KB: %q", profile, len(drops), firstLine(log, "Dropped "))
		}
	}
}

// deviceDied are what a wireguard-go device logs when it closes itself on
// a TUN read error (a packet larger than its buffers, before wgd's
// patches 0013 and 0014).
var deviceDied = []string{"Failed to read packet from TUN device", "overflows bufs element"}

// watchWriter keeps a run's output and calls stop at the first of fatal.
type watchWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	fatal []string
	found string
	stop  func()
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	from := max(0, w.buf.Len()-200) // a match may straddle two writes
	w.buf.Write(p)
	if w.found == "" {
		for _, f := range w.fatal {
			if bytes.Contains(w.buf.Bytes()[from:], []byte(f)) {
				w.found = f
				w.stop()
				break
			}
		}
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *watchWriter) hit() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.found
}

// killLeftovers ends the devices the script started that are still
// running (the script kills them when it ends normally; not when it was
// stopped), found by their binary, which only this test runs.
func killLeftovers(t *testing.T, bin string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range procs {
		if exe, err := os.Readlink(p); err == nil && exe == bin {
			var pid int
			if _, err := fmt.Sscanf(p, "/proc/%d/exe", &pid); err == nil {
				t.Logf("stopping leftover device, pid %d", pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

func firstLine(log, substr string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, substr) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
