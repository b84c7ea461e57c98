package main

// Hardening of the real wgd binary: its metrics endpoint under settings
// changes and connection floods.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"wgd/api"
	"wgd/internal/lab"
)

// writeRouterWGD replaces the router's /etc/config/wgd.
func writeRouterWGD(t *testing.T, g *lab.Gateway, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(g.RouterDir, "wgd"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Changing only metrics_endpoint_labels keeps /metrics served (the
// listener stays); changing metrics_listen moves it, the old address
// closed before the new one is bound.
func TestMetricsSettingsReload(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	addLaptop(t, ctx, g, "laptop", lab.ClientWGD)
	startRouterWithMetrics(t, ctx, g, "")
	if out, err := fetchMetrics(ctx, g.Router, metricsAddr); err != nil || strings.Contains(out, "remote_ip=") {
		t.Fatalf("first scrape: %v\n%s", err, out)
	}

	writeRouterWGD(t, g, fmt.Sprintf("config wgd 'main'\n\toption log_level 'debug'\n\toption metrics_listen '%s'\n\toption metrics_endpoint_labels '1'\n", metricsAddr))
	if err := g.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := fetchMetrics(ctx, g.Router, metricsAddr)
	if err != nil || !strings.Contains(out, "wireguard_interface_up") {
		t.Errorf("after a reload that changed metrics_endpoint_labels: %v\n%s\nlog:\n%s", err, out, g.RouterProc.Output())
	} else if !strings.Contains(out, `remote_ip=""`) {
		t.Errorf("endpoint labels not applied:\n%s", out)
	}

	moved := "127.0.0.1:9587"
	writeRouterWGD(t, g, fmt.Sprintf("config wgd 'main'\n\toption log_level 'debug'\n\toption metrics_listen '%s'\n", moved))
	if err := g.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := fetchMetrics(ctx, g.Router, moved); err != nil || strings.Contains(out, "remote_ip=") {
		t.Errorf("after moving metrics_listen to %s: %v\n%s", moved, err, out)
	}
	if _, err := fetchMetrics(ctx, g.Router, metricsAddr); err == nil {
		t.Errorf("the old metrics address %s still answers", metricsAddr)
	}
	if log := g.RouterProc.Output(); strings.Contains(log, "address already in use") || strings.Contains(log, "metrics not served") {
		t.Errorf("wgd's log:\n%s", log)
	}
}

var plain struct {
	once sync.Once
	path string
	err  error
}

// plainWGD is wgd built without the race detector, whose shadow memory
// would drown what a memory bound measures; built once, on first use.
func plainWGD(t *testing.T) string {
	t.Helper()
	plain.once.Do(func() {
		plain.path = filepath.Join(filepath.Dir(wgdBin), "wgd-plain")
		if !raceEnabled() {
			plain.path = wgdBin
			return
		}
		out, err := exec.Command("go", "build", "-o", plain.path, ".").CombinedOutput()
		if err != nil {
			plain.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if plain.err != nil {
		t.Fatal(plain.err)
	}
	return plain.path
}

// vmRSS is a process's resident memory in KiB.
func vmRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no VmRSS for %d", pid)
	return 0
}

// A local user (uid 65534) holding 1500 half-sent requests to /metrics
// grows wgd by a bounded amount (the connections beyond the cap are
// closed at once), and wgd goes on serving metrics and its control
// socket. Without a cap each connection costs wgd some 16 KiB.
func TestMetricsConnectionFlood(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	g.WGD = plainWGD(t)
	startRouterWithMetrics(t, ctx, g, "")
	if _, err := fetchMetrics(ctx, g.Router, metricsAddr); err != nil {
		t.Fatal(err)
	}
	pid := g.RouterProc.Pid()
	before := vmRSS(t, pid)
	// The memory of a small router: the kernel kills wgd if the flood
	// takes it past this.
	oomKills := memoryCap(t, g.Lab.ID, pid, 24<<20)

	host, port, _ := strings.Cut(metricsAddr, ":")
	const conns = 1500
	script := fmt.Sprintf(`trap '' PIPE; ulimit -n 4096
for i in $(seq %d); do
	exec {fd}<>/dev/tcp/%s/%s || { echo "connect $i failed"; exit 1; }
	printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n' >&$fd 2>/dev/null
done
echo opened; sleep 6`, conns, host, port)
	flood, err := g.Router.Start("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "bash", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	peak := before
	err = lab.Poll(ctx, 60*time.Second, func(context.Context) error {
		peak = max(peak, vmRSS(t, pid))
		if flood.Exited() {
			return lab.GiveUp(fmt.Errorf("flood ended early (%s): %s", flood.ExitStatus(), flood.Output()))
		}
		if !strings.Contains(flood.Output(), "opened") {
			return fmt.Errorf("opening connections")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// While the flood holds its connections.
	for i := 0; i < 10; i++ {
		peak = max(peak, vmRSS(t, pid))
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("wgd VmRSS: %d KiB before, %d KiB at most during %d half-sent requests", before, peak, conns)
	if grown := peak - before; grown > 6<<10 {
		t.Errorf("wgd grew by %d KiB under %d half-sent requests (bound 6 MiB)", grown, conns)
	}
	if err := g.Status(ctx, g.Router, g.RouterSocket, &api.Status{}); err != nil {
		t.Errorf("control socket during the flood: %v", err)
	}
	flood.Stop(time.Second)
	err = lab.Poll(ctx, 20*time.Second, func(ctx context.Context) error {
		_, err := fetchMetrics(ctx, g.Router, metricsAddr)
		return err
	})
	if err != nil {
		t.Errorf("metrics after the flood: %v", err)
	}
	if g.RouterProc.Exited() {
		t.Errorf("wgd exited: %s", g.RouterProc.ExitStatus())
	}
	if n := oomKills(); n != 0 {
		t.Errorf("%d out-of-memory kills under the 24 MiB cap", n)
	}
}

// memoryCap puts pid into a memory cgroup limited to limit bytes,
// removed again at the end of the test, and returns a reader of the
// cgroup's out-of-memory kills. Both hierarchies: cgroup v2 (a fresh
// Debian 12) and v1's memory controller.
func memoryCap(t *testing.T, id string, pid int, limit int64) func() int {
	t.Helper()
	root, limitFile, killsFile := "/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.oom_control"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		root, limitFile, killsFile = "/sys/fs/cgroup", "memory.max", "memory.events"
	}
	dir := filepath.Join(root, "wgd-test-"+id)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("memory cgroup: %v", err)
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(root, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
		os.Remove(dir)
	})
	for _, f := range [][2]string{{limitFile, strconv.FormatInt(limit, 10)}, {"cgroup.procs", strconv.Itoa(pid)}} {
		if err := os.WriteFile(filepath.Join(dir, f[0]), []byte(f[1]), 0o644); err != nil {
			t.Fatalf("memory cgroup %s: %v", f[0], err)
		}
	}
	return func() int {
		b, err := os.ReadFile(filepath.Join(dir, killsFile))
		if err != nil {
			t.Fatalf("memory cgroup: %v", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		t.Fatalf("%s has no oom_kill count:\n%s", killsFile, b)
		return 0
	}
}

// logTimes returns the times of the log lines of wgd's log that contain
// msg, in order.
func logTimes(t *testing.T, log, msg string) []time.Time {
	t.Helper()
	var out []time.Time
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "time=") {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(f[0], "time="))
		if err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, at)
	}
	return out
}

// A peer whose endpoint is a name handshakes as soon as the name
// resolves (a real dnsmasq that answers at once). The engine's first
// attempt, at start, has nowhere to go and holds its next one back for
// 5 s; so a handshake response within 3 s of that first attempt proves
// the handshake was sent again on resolution. Times are the laptop's
// own log stamps, so a slow start of the process does not count.
func TestEndpointNameHandshakesOnResolution(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	laptop := addLaptop(t, ctx, g, "laptop", lab.ClientWGD)
	dns := nameServer(t, ctx, g, laptop.Host)
	if err := dns.Set(ctx, laptop.Host, lab.VPNName, lab.RouterWANIP); err != nil {
		t.Fatal(err)
	}
	if err := g.StartRouter(ctx); err != nil {
		t.Fatal(err)
	}
	if err := laptop.StartWith(ctx, lab.LaptopOptions{EndpointHost: lab.VPNName}); err != nil {
		t.Fatal(err)
	}
	var attempts, resolved, responses []time.Time
	err := lab.Poll(ctx, 20*time.Second, func(context.Context) error {
		log := laptop.Proc.Output()
		attempts = logTimes(t, log, "Sending handshake initiation")
		resolved = logTimes(t, log, "endpoint resolved")
		responses = logTimes(t, log, "Received handshake response")
		if len(responses) == 0 {
			return fmt.Errorf("no handshake response yet")
		}
		return nil
	})
	if err != nil || len(attempts) == 0 || len(resolved) == 0 {
		t.Fatalf("%v (attempts %v, resolved %v)\nlog:\n%s", err, attempts, resolved, laptop.Proc.Output())
	}
	took := responses[0].Sub(attempts[0])
	t.Logf("first attempt %s, name resolved %s, first response %s: %v after the first attempt",
		attempts[0].Format(time.StampMilli), resolved[0].Format(time.StampMilli), responses[0].Format(time.StampMilli), took.Round(time.Millisecond))
	if took >= 3*time.Second {
		t.Errorf("first handshake response %v after the first attempt: it waited for the engine's retry\nlog:\n%s", took, laptop.Proc.Output())
	}
	mustReach(t, ctx, laptop)
}
