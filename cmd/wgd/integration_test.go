package main

// Integration tests: the real wgd binary in network namespaces (internal/lab's
// home-gateway scenario). They need root and skip without it.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"wgd/api"
	"wgd/internal/lab"
)

// wgdBin is the wgd binary under test, built once by TestMain (root only).
var wgdBin string

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(wgdArgsEnv); ok {
		// A child of a test that wants wgd itself, not the tests.
		os.Exit(run(strings.Split(args, "\n"), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Geteuid() == 0 {
		dir, err := os.MkdirTemp("", "wgd-integration-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		wgdBin = filepath.Join(dir, "wgd")
		args := []string{"build", "-o", wgdBin}
		// A race-enabled test run gets a race-enabled daemon: data races in
		// the daemon then show up in its log and fail the test (lab.ForTest).
		if raceEnabled() {
			args = append(args, "-race")
			// The race runtime otherwise sleeps 1 s at every exit, and the
			// tests run the CLI (genkey, status, reload) many times.
			os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
		}
		cmd := exec.Command("go", append(args, ".")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building wgd for the integration tests: %v\n%s", err, out)
			return 1
		}
	}
	return m.Run()
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// newGateway builds the scenario for one test, logging its steps to the test.
func newGateway(t *testing.T, ctx context.Context) *lab.Gateway {
	t.Helper()
	l := lab.ForTest(t)
	if wgdBin == "" {
		t.Fatal("wgd binary was not built")
	}
	start := time.Now()
	// Steps carry the time since the start: where a slow test spends it.
	logf := func(format string, args ...any) {
		t.Logf("%6.2fs %s", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	g, err := lab.NewGateway(ctx, l, wgdBin, logf)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// testContext bounds a whole test: generous, so only a hang ends it.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustReach(t *testing.T, ctx context.Context, lt *lab.Laptop) {
	t.Helper()
	if err := lab.WaitReachable(ctx, lt.Host, lab.LANHostIP); err != nil {
		t.Fatalf("%s cannot reach the LAN host through the tunnel: %v", lt.Name, err)
	}
	if _, err := lab.Ping(ctx, lt.Host, lab.LANHostIP, 3); err != nil {
		t.Fatalf("%s: %v", lt.Name, err)
	}
	if _, err := lab.Fetch(ctx, lt.Host, lab.LANHostIP); err != nil {
		t.Fatalf("%s: TCP to the LAN host: %v", lt.Name, err)
	}
}

func status(t *testing.T, ctx context.Context, g *lab.Gateway, h *lab.Host, socket, iface string) *api.InterfaceStatus {
	t.Helper()
	var st api.Status
	if err := g.Status(ctx, h, socket, &st); err != nil {
		t.Fatal(err)
	}
	is := st.Interface(iface)
	if is == nil {
		t.Fatalf("%s: wgd status has no interface %s: %+v", h.Name, iface, st)
	}
	return is
}

// nameServer runs dnsmasq on the gateway's inet host and makes h ask it.
func nameServer(t *testing.T, ctx context.Context, g *lab.Gateway, h *lab.Host) *lab.DNS {
	t.Helper()
	dns, err := lab.StartDNS(ctx, g.Inet, lab.InetWANIP)
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.UseDNS(h, lab.InetWANIP); err != nil {
		t.Fatal(err)
	}
	return dns
}

// addLaptop adds a laptop host of kind to the gateway, or fails the test.
func addLaptop(t *testing.T, ctx context.Context, g *lab.Gateway, name string, kind lab.ClientKind) *lab.Laptop {
	t.Helper()
	lt, err := g.AddLaptop(ctx, name, kind)
	if err != nil {
		t.Fatal(err)
	}
	return lt
}

// runningGateway is the home gateway with wgd on the router and on one
// laptop, both running.
func runningGateway(t *testing.T, ctx context.Context) (*lab.Gateway, *lab.Laptop) {
	t.Helper()
	g := newGateway(t, ctx)
	laptop := addLaptop(t, ctx, g, "laptop", lab.ClientWGD)
	if err := g.StartRouter(ctx); err != nil {
		t.Fatal(err)
	}
	if err := laptop.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return g, laptop
}

// TestGatewayDemo is the demo: wgd on the router and on the laptop; the laptop
// pings the LAN host and fetches its TCP service through the tunnel.
func TestGatewayDemo(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g, laptop := runningGateway(t, ctx)

	// Without the tunnel, the LAN is not reachable from the internet side.
	if _, err := lab.Ping(ctx, g.Inet, lab.LANHostIP, 1); err == nil {
		t.Fatal("inet reaches the LAN host without a tunnel: the scenario proves nothing")
	}
	mustReach(t, ctx, laptop)

	// The router's view (contract: wgd status --json).
	r := status(t, ctx, g, g.Router, g.RouterSocket, g.RouterIface)
	if r.PublicKey.String() != g.RouterKey.Public {
		t.Errorf("router public_key = %q, want %q", r.PublicKey, g.RouterKey.Public)
	}
	if r.ListenPort != lab.ListenPort {
		t.Errorf("router listen_port = %d, want %d", r.ListenPort, lab.ListenPort)
	}
	if !slices.Contains(r.Addresses, netip.MustParsePrefix(lab.RouterTunIP+"/24")) {
		t.Errorf("router addresses = %q, want %s/24", r.Addresses, lab.RouterTunIP)
	}
	p := r.Peer(laptop.Key.Public)
	if p == nil {
		t.Fatalf("router status lacks the laptop peer: %+v", r)
	}
	if p.Description != "laptop" {
		t.Errorf("peer description = %q, want %q", p.Description, "laptop")
	}
	if !slices.Contains(p.AllowedIPs, netip.MustParsePrefix(laptop.TunnelIP+"/32")) {
		t.Errorf("peer allowed_ips = %q, want %s/32", p.AllowedIPs, laptop.TunnelIP)
	}
	if p.LatestHandshake == 0 || p.RxBytes == 0 || p.TxBytes == 0 {
		t.Errorf("peer after traffic: latest_handshake=%d rx=%d tx=%d, want all > 0", p.LatestHandshake, p.RxBytes, p.TxBytes)
	}
	if want := laptop.WANIP + ":"; !strings.HasPrefix(p.Endpoint, want) {
		t.Errorf("peer endpoint = %q, want the laptop's address %s<port>", p.Endpoint, want)
	}

	// The laptop's view.
	c := status(t, ctx, g, laptop.Host, laptop.Socket, laptop.Iface)
	rp := c.Peer(g.RouterKey.Public)
	if rp == nil {
		t.Fatalf("laptop status lacks the router peer: %+v", c)
	}
	if want := fmt.Sprintf("%s:%d", lab.RouterWANIP, lab.ListenPort); rp.Endpoint != want {
		t.Errorf("laptop's router endpoint = %q, want %q", rp.Endpoint, want)
	}
	if rp.PersistentKeepalive != 25 {
		t.Errorf("laptop's persistent_keepalive = %d, want 25", rp.PersistentKeepalive)
	}
	if rp.LatestHandshake == 0 {
		t.Error("laptop's router peer: no handshake after traffic")
	}

	// The human-readable table names the interface, its key and the peer
	// (by its description).
	out, err := g.WGDCmd(ctx, g.Router, "status", "--socket", g.RouterSocket)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{g.RouterIface, g.RouterKey.Public, "laptop"} {
		if !strings.Contains(out, want) {
			t.Errorf("wgd status table lacks %q:\n%s", want, out)
		}
	}
}

// TestInteropWireGuardGo: the laptop runs Debian's wireguard-go configured
// with wg(8); wg(8) also reads the router's wgd interface over UAPI.
func TestInteropWireGuardGo(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	laptop := addLaptop(t, ctx, g, "laptop", lab.ClientWireGuardGo)
	if err := g.StartRouter(ctx); err != nil {
		t.Fatal(err)
	}
	if err := laptop.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mustReach(t, ctx, laptop)

	out, err := g.Router.Run(ctx, "wg", "show", g.RouterIface, "latest-handshakes")
	if err != nil {
		t.Fatal(err)
	}
	handshakes := parseWGPairs(out)
	ts, ok := handshakes[laptop.Key.Public]
	if !ok {
		t.Fatalf("wg show %s does not list the laptop peer %s:\n%s", g.RouterIface, laptop.Key.Public, out)
	}
	if ts == "0" || ts == "" {
		t.Errorf("wg show %s: laptop peer has no latest handshake (%q)", g.RouterIface, ts)
	}
	out, err = g.Router.Run(ctx, "wg", "show", g.RouterIface, "listen-port")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got != strconv.Itoa(lab.ListenPort) {
		t.Errorf("wg show %s listen-port = %q, want %d", g.RouterIface, got, lab.ListenPort)
	}
}

// parseWGPairs reads `wg show IFACE <field>` output: "<public key>\t<value>".
func parseWGPairs(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok {
			m[k] = v
		}
	}
	return m
}

// TestLiveReload: while laptop1 pings the LAN host every 50 ms, the router's
// UCI gains a peer (laptop2) and loses another (phone), each applied with
// `wgd reload`. The running tunnel must not notice; the TUN must not be
// recreated.
func TestLiveReload(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	laptop1 := addLaptop(t, ctx, g, "laptop1", lab.ClientWGD)
	phone := addLaptop(t, ctx, g, "phone", lab.ClientWireGuardGo)
	if err := g.StartRouter(ctx); err != nil {
		t.Fatal(err)
	}
	for _, lt := range []*lab.Laptop{laptop1, phone} {
		if err := lt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		mustReach(t, ctx, lt)
	}
	ifindex, err := lab.LinkIndex(ctx, g.Router, g.RouterIface)
	if err != nil {
		t.Fatal(err)
	}

	// Bounded in count and time; stopped with SIGINT once the reloads are
	// done, so the reloads certainly happen while it runs.
	ping, err := laptop1.Host.Start("ping", "-n", "-i", "0.05", "-c", "2400", "-w", "150", lab.LANHostIP)
	if err != nil {
		t.Fatal(err)
	}
	waitReplies := func(n int) {
		t.Helper()
		err := lab.Poll(ctx, 30*time.Second, func(context.Context) error {
			if ping.Exited() {
				return lab.GiveUp(fmt.Errorf("ping ended early (%s)", ping.ExitStatus()))
			}
			if got := len(pingSeqs(ping.Output())); got < n {
				return fmt.Errorf("%d replies so far, waiting for %d", got, n)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("laptop1's ping: %v\n%s", err, ping.Output())
		}
	}
	waitReplies(20)

	// Add laptop2: the router learns it first, so its first handshake counts.
	laptop2 := addLaptop(t, ctx, g, "laptop2", lab.ClientWGD)
	if err := g.WriteRouterConfig(); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := laptop2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mustReach(t, ctx, laptop2)

	// Remove the phone, a peer unrelated to laptop1.
	if err := g.RemovePeer("phone"); err != nil {
		t.Fatal(err)
	}
	if err := g.WriteRouterConfig(); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	err = lab.Poll(ctx, 15*time.Second, func(ctx context.Context) error {
		if _, err := lab.Ping(ctx, phone.Host, lab.LANHostIP, 1); err == nil {
			return fmt.Errorf("the removed phone still reaches the LAN host")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if _, err := lab.Fetch(ctx, phone.Host, lab.LANHostIP); err == nil {
		t.Error("the removed phone still connects to the LAN service")
	}

	// Let laptop1's ping run on past the reloads, then stop it.
	waitReplies(len(pingSeqs(ping.Output())) + 20)
	if err := ping.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := ping.Wait(ctx); err != nil {
		t.Logf("ping: %v", err) // non-zero when any reply was missing; judged below
	}
	out := ping.Output()
	seqs := pingSeqs(out)
	var missing []int
	maxSeq := 0
	for s := range seqs {
		maxSeq = max(maxSeq, s)
	}
	// Only up to the last reply: a request in flight at SIGINT is not a loss.
	for s := 1; s <= maxSeq; s++ {
		if !seqs[s] {
			missing = append(missing, s)
		}
	}
	t.Logf("laptop1's ping: %d replies up to icmp_seq %d, missing %v", len(seqs), maxSeq, missing)
	if len(missing) > 1 {
		t.Errorf("laptop1 lost %d packets during the reloads (at most 1 allowed): icmp_seq %v\n%s", len(missing), missing, out)
	}

	mustReach(t, ctx, laptop2)
	after, err := lab.LinkIndex(ctx, g.Router, g.RouterIface)
	if err != nil {
		t.Fatal(err)
	}
	if after != ifindex {
		t.Errorf("router's TUN was recreated by reload: ifindex %d -> %d", ifindex, after)
	}

	r := status(t, ctx, g, g.Router, g.RouterSocket, g.RouterIface)
	if r.Peer(laptop1.Key.Public) == nil || r.Peer(laptop2.Key.Public) == nil {
		t.Errorf("router status after reloads lacks laptop1 or laptop2: %+v", r.Peers)
	}
	if r.Peer(phone.Key.Public) != nil {
		t.Errorf("router status still lists the removed phone: %+v", r.Peers)
	}
	if g.RouterProc.Exited() {
		t.Errorf("router's wgd exited during the test: %s", g.RouterProc.ExitStatus())
	}
}

var icmpSeq = regexp.MustCompile(`icmp_seq=(\d+) `)

// pingSeqs returns the icmp_seq numbers of the replies in ping's output.
func pingSeqs(out string) map[int]bool {
	seqs := map[int]bool{}
	for _, line := range strings.Split(out, "\n") {
		// Only replies: "64 bytes from ...: icmp_seq=N ttl=... time=..."
		if !strings.Contains(line, " bytes from ") {
			continue
		}
		if m := icmpSeq.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			seqs[n] = true
		}
	}
	return seqs
}

// TestStopCleanup: SIGTERM stops wgd cleanly, and everything it made (TUN,
// addresses, routes, UAPI socket, control socket) is gone afterwards; on the
// router and on the laptop, whose routes lead to the LAN.
func TestStopCleanup(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g, laptop := runningGateway(t, ctx)
	mustReach(t, ctx, laptop)

	for _, d := range []struct {
		host    *lab.Host
		proc    *lab.Proc
		iface   string
		socket  string
		address string   // an address wgd added
		routes  []string // destinations of routes wgd added
	}{
		{g.Router, g.RouterProc, g.RouterIface, g.RouterSocket, lab.RouterTunIP, []string{laptop.TunnelIP}},
		{laptop.Host, laptop.Proc, laptop.Iface, laptop.Socket, laptop.TunnelIP, []string{lab.TunnelPrefix, lab.LANPrefix}},
	} {
		// Before: the things whose removal is checked below exist, so the
		// checks below can fail.
		routes, err := d.host.IP(ctx, "route", "show", "table", "all")
		if err != nil {
			t.Fatal(err)
		}
		for _, dst := range d.routes {
			if !routeVia(routes, dst, d.iface) {
				t.Errorf("%s: before stop, no route to %s dev %s:\n%s", d.host, dst, d.iface, routes)
			}
		}
		addrs, err := d.host.IP(ctx, "addr", "show")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(addrs, "inet "+d.address+"/") {
			t.Errorf("%s: before stop, address %s missing:\n%s", d.host, d.address, addrs)
		}
		for _, path := range []string{lab.UAPISocket(d.iface), d.socket} {
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s: before stop: %v", d.host, err)
			}
		}

		if err := d.proc.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err = d.proc.Wait(waitCtx)
		cancel()
		if err != nil {
			t.Errorf("%s: wgd after SIGTERM: %v (want a clean exit, status 0)", d.host, err)
		}

		if out, err := d.host.IP(ctx, "link", "show", "dev", d.iface); err == nil {
			t.Errorf("%s: TUN %s still exists after stop:\n%s", d.host, d.iface, out)
		}
		addrs, err = d.host.IP(ctx, "addr", "show")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(addrs, "inet "+d.address+"/") {
			t.Errorf("%s: address %s still present after stop:\n%s", d.host, d.address, addrs)
		}
		routes, err = d.host.IP(ctx, "route", "show", "table", "all")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(routes, d.iface) {
			t.Errorf("%s: routes via %s remain after stop:\n%s", d.host, d.iface, routes)
		}
		for _, dst := range d.routes {
			if routeVia(routes, dst, "") {
				t.Errorf("%s: route to %s remains after stop:\n%s", d.host, dst, routes)
			}
		}
		for _, path := range []string{lab.UAPISocket(d.iface), d.socket} {
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("%s: %s still exists after stop (stat: %v)", d.host, path, err)
			}
		}
	}
}

// routeVia reports whether `ip route show` output has a route to dst (an
// address or prefix), through dev when dev is not empty.
func routeVia(routes, dst, dev string) bool {
	for _, line := range strings.Split(routes, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		// "local 10.99.0.1 dev ..." style lines name a type first.
		if f[0] == "local" || f[0] == "broadcast" || f[0] == "unicast" {
			f = f[1:]
		}
		if len(f) == 0 || (f[0] != dst && f[0] != dst+"/32") {
			continue
		}
		if dev == "" || strings.Contains(" "+line+" ", " dev "+dev+" ") {
			return true
		}
	}
	return false
}
