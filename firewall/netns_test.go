package firewall

// Tests against the real nft, iptables and ip6tables in network namespaces
// (internal/lab): a router namespace with a firewall that drops input by
// default, a remote namespace on its WAN link, WireGuard between the two
// (Debian's wireguard-go, configured with wg), and UDP/TCP listeners on the
// router that must stay unreachable from the WAN.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"wgd/internal/lab"
)

const (
	routerV4 = "198.51.100.1"
	remoteV4 = "198.51.100.2"
	routerV6 = "2001:db8:51::1"
	remoteV6 = "2001:db8:51::2"

	tunRouter = "10.77.0.1"
	tunRemote = "10.77.0.2"
)

// wan is a router namespace and a remote namespace on the router's WAN link.
type wan struct {
	lab            *lab.Lab
	router, remote *lab.Host
	wanDev         string // the router's end of the link
	run            runner // runs a command inside the router
}

func newWAN(t *testing.T, ctx context.Context, tools ...string) *wan {
	t.Helper()
	for _, tool := range append([]string{"socat", "wg", "wireguard-go", "ping"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: run scripts/deps.sh", tool)
		}
	}
	l := lab.ForTest(t)
	router, err := l.Host(ctx, "router")
	if err != nil {
		t.Fatal(err)
	}
	remote, err := l.Host(ctx, "remote")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := l.Connect(ctx, router, remote, routerV4+"/24", remoteV4+"/24")
	if err != nil {
		t.Fatal(err)
	}
	// nodad: the addresses are usable at once, not after duplicate detection.
	if _, err := router.IP(ctx, "addr", "add", routerV6+"/64", "dev", ln.ADev, "nodad"); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.IP(ctx, "addr", "add", remoteV6+"/64", "dev", ln.BDev, "nodad"); err != nil {
		t.Fatal(err)
	}
	return &wan{lab: l, router: router, remote: remote, wanDev: ln.ADev,
		run: runCommand([]string{"ip", "netns", "exec", router.NS})}
}

// host is the router as the backends see it.
func (w *wan) host() host {
	return host{run: w.run, lookPath: exec.LookPath}
}

// routerSh runs a shell script inside the router.
func (w *wan) routerSh(t *testing.T, ctx context.Context, script string) string {
	t.Helper()
	out, err := w.router.Run(ctx, "sh", "-ec", script)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tunnel is WireGuard between the router and the remote host.
type tunnel struct {
	w          *wan
	rIf, mIf   string // interface names in router and remote
	rPub, mPub string
	rKey, mKey string // private key files
	remotePort int
}

// startTunnel runs wireguard-go in both namespaces, the router listening on
// port. Interface names carry the lab ID: UAPI sockets share one directory.
func (w *wan) startTunnel(t *testing.T, ctx context.Context, port int) *tunnel {
	t.Helper()
	tn := &tunnel{w: w, rIf: "wgr" + w.lab.ID, mIf: "wgm" + w.lab.ID, remotePort: 40000}
	var err error
	if tn.rKey, tn.rPub, err = genKey(ctx, w.lab.Dir, "router"); err != nil {
		t.Fatal(err)
	}
	if tn.mKey, tn.mPub, err = genKey(ctx, w.lab.Dir, "remote"); err != nil {
		t.Fatal(err)
	}
	for _, end := range []struct {
		h     *lab.Host
		iface string
	}{{w.router, tn.rIf}, {w.remote, tn.mIf}} {
		w.lab.RemoveOnClose(lab.UAPISocket(end.iface))
		p, err := end.h.Start("wireguard-go", "-f", end.iface)
		if err != nil {
			t.Fatal(err)
		}
		err = lab.Poll(ctx, 10*time.Second, func(context.Context) error {
			if p.Exited() {
				return lab.GiveUp(fmt.Errorf("wireguard-go exited (%s): %s", p.ExitStatus(), p.Output()))
			}
			_, err := os.Stat(lab.UAPISocket(end.iface))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		h    *lab.Host
		argv []string
	}{
		{w.router, []string{"wg", "set", tn.rIf, "private-key", tn.rKey, "listen-port", strconv.Itoa(port),
			"peer", tn.mPub, "allowed-ips", tunRemote + "/32"}},
		{w.router, []string{"ip", "addr", "add", tunRouter + "/24", "dev", tn.rIf}},
		{w.router, []string{"ip", "link", "set", tn.rIf, "up"}},
		{w.remote, []string{"wg", "set", tn.mIf, "private-key", tn.mKey}},
		{w.remote, []string{"ip", "addr", "add", tunRemote + "/24", "dev", tn.mIf}},
		{w.remote, []string{"ip", "link", "set", tn.mIf, "up"}},
	}
	for _, s := range steps {
		if _, err := s.h.Run(ctx, s.argv...); err != nil {
			t.Fatal(err)
		}
	}
	return tn
}

func genKey(ctx context.Context, dir, name string) (file, pub string, err error) {
	priv, err := exec.CommandContext(ctx, "wg", "genkey").Output()
	if err != nil {
		return "", "", fmt.Errorf("wg genkey: %w", err)
	}
	file = filepath.Join(dir, name+".key")
	if err := os.WriteFile(file, priv, 0o600); err != nil {
		return "", "", err
	}
	cmd := exec.CommandContext(ctx, "wg", "pubkey")
	cmd.Stdin = strings.NewReader(string(priv))
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("wg pubkey: %w", err)
	}
	return file, strings.TrimSpace(string(out)), nil
}

// setRouterPort moves the router's WireGuard to another listen port.
func (tn *tunnel) setRouterPort(t *testing.T, ctx context.Context, port int) {
	t.Helper()
	if _, err := tn.w.router.Run(ctx, "wg", "set", tn.rIf, "listen-port", strconv.Itoa(port)); err != nil {
		t.Fatal(err)
	}
}

// handshake reports whether the remote completes a WireGuard handshake with
// the router at endpoint within wait. Both ends forget the other first, so
// the handshake is a new one; the remote also sends from a fresh source
// port, a new conntrack flow that the ruleset's "established" rule cannot
// let through on the strength of an earlier, admitted flow.
func (tn *tunnel) handshake(t *testing.T, ctx context.Context, endpoint string, wait time.Duration) bool {
	t.Helper()
	tn.remotePort++
	steps := []struct {
		h    *lab.Host
		argv []string
	}{
		{tn.w.remote, []string{"wg", "set", tn.mIf, "peer", tn.rPub, "remove"}},
		{tn.w.remote, []string{"wg", "set", tn.mIf, "listen-port", strconv.Itoa(tn.remotePort),
			"peer", tn.rPub, "endpoint", endpoint, "allowed-ips", tunRouter + "/32"}},
		{tn.w.router, []string{"wg", "set", tn.rIf, "peer", tn.mPub, "remove"}},
		{tn.w.router, []string{"wg", "set", tn.rIf, "peer", tn.mPub, "allowed-ips", tunRemote + "/32"}},
	}
	for _, s := range steps {
		if _, err := s.h.Run(ctx, s.argv...); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(wait)
	for {
		// A packet into the tunnel makes wireguard-go start the handshake.
		tn.w.remote.Run(ctx, "ping", "-n", "-c", "1", "-W", "1", tunRouter)
		out, err := tn.w.remote.Run(ctx, "wg", "show", tn.mIf, "latest-handshakes")
		if err != nil {
			t.Fatal(err)
		}
		if _, ts, ok := strings.Cut(strings.TrimSpace(out), "\t"); ok && ts != "0" {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

func (tn *tunnel) mustHandshake(t *testing.T, ctx context.Context, endpoint, when string) {
	t.Helper()
	if !tn.handshake(t, ctx, endpoint, 15*time.Second) {
		t.Fatalf("%s: no WireGuard handshake with %s within 15 s, want one", when, endpoint)
	}
}

// mustNotHandshake waits 3 s: an admitted handshake over veth takes
// milliseconds (mustHandshake, with the same steps, shows it).
func (tn *tunnel) mustNotHandshake(t *testing.T, ctx context.Context, endpoint, when string) {
	t.Helper()
	if tn.handshake(t, ctx, endpoint, 3*time.Second) {
		t.Fatalf("%s: WireGuard handshake with %s succeeded, want it blocked by the firewall", when, endpoint)
	}
}

// port is a listener on the router.
type port struct {
	proto string // "udp" or "tcp"
	num   int
}

func (p port) String() string { return fmt.Sprintf("%s/%d", p.proto, p.num) }

// listen starts dual-stack listeners on the router that answer "open"
// (this test binary in responder mode, see TestMain), and checks from the
// router itself (loopback, which the rulesets accept) that each answers:
// so a probe that gets no answer from the WAN means the firewall, not a
// missing listener.
func (w *wan) listen(t *testing.T, ctx context.Context, ports ...port) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var spec []string
	for _, p := range ports {
		spec = append(spec, p.String())
	}
	if _, err := w.router.StartEnv([]string{responderEnv + "=" + strings.Join(spec, " ")}, self); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, p := range ports {
		for _, addr := range []string{"127.0.0.1", "::1"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := lab.Poll(ctx, 10*time.Second, func(ctx context.Context) error {
					if !probe(ctx, w.router, addr, p) {
						return fmt.Errorf("no answer")
					}
					return nil
				})
				if err != nil {
					t.Errorf("listener %s on the router does not answer on %s: %v", p, addr, err)
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// probe reports whether p on addr answers from h (this test binary in
// probe mode, see TestMain).
func probe(ctx context.Context, h *lab.Host, addr string, p port) bool {
	self, err := os.Executable()
	if err != nil {
		return false
	}
	out, _ := h.Run(ctx, "env", probeEnv+"="+p.String()+" "+addr, self)
	return strings.Contains(out, "open")
}

// mustBeClosed probes ports on both router addresses from the WAN, all at
// once, and fails for each that answers.
func (w *wan) mustBeClosed(t *testing.T, ctx context.Context, when string, ports ...port) {
	t.Helper()
	var mu sync.Mutex
	var open []string
	var wg sync.WaitGroup
	for _, p := range ports {
		for _, addr := range []string{routerV4, routerV6} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if probe(ctx, w.remote, addr, p) {
					mu.Lock()
					open = append(open, fmt.Sprintf("%s on %s", p, addr))
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(open) > 0 {
		t.Errorf("%s: reachable from the WAN, want closed: %s", when, strings.Join(open, ", "))
	}
}

func (w *wan) mustBeOpen(t *testing.T, ctx context.Context, when string, p port) {
	t.Helper()
	for _, addr := range []string{routerV4, routerV6} {
		if !probe(ctx, w.remote, addr, p) {
			t.Errorf("%s: %s on %s does not answer from the WAN, want open", when, p, addr)
		}
	}
}

// firewallCase is one firewall under test.
type firewallCase struct {
	// setup installs the host's own ruleset, which drops input from the WAN.
	setup func(t *testing.T, ctx context.Context, w *wan)
	// snapshot is the ruleset as text, to compare before and after.
	snapshot func(t *testing.T, ctx context.Context, w *wan) string
	// backend makes a fresh backend, as a (re)started daemon does.
	backend func(t *testing.T, w *wan) Backend
	// rules lists the comments of the rules carrying wgd's tag, one entry
	// per rule, read with the firewall's own listing command.
	rules func(t *testing.T, ctx context.Context, w *wan) []string
	// perHole is how many rules one hole takes (chains or families).
	perHole int
}

// exercise runs the scenario of issue 4 against one firewall.
func exercise(t *testing.T, fc firewallCase) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	w := newWAN(t, ctx)
	fc.setup(t, ctx, w)
	before := fc.snapshot(t, ctx, w)

	const portA, portB = 51820, 51900
	others := []port{{"udp", 53}, {"udp", 123}, {"udp", 51821}, {"tcp", 22}, {"tcp", 80}, {"tcp", portA}, {"tcp", portB}}
	w.listen(t, ctx, others...)
	tn := w.startTunnel(t, ctx, portA)
	v4 := func(p int) string { return fmt.Sprintf("%s:%d", routerV4, p) }
	v6 := func(p int) string { return fmt.Sprintf("[%s]:%d", routerV6, p) }
	expectRules := func(when string, want ...string) {
		t.Helper()
		got := fc.rules(t, ctx, w)
		var exp []string
		for _, c := range want {
			for i := 0; i < fc.perHole; i++ {
				exp = append(exp, c)
			}
		}
		if strings.Join(got, " ") != strings.Join(exp, " ") {
			t.Errorf("%s: wgd's rules %q, want %q", when, got, exp)
		}
	}

	// Closed before anything is opened.
	tn.mustNotHandshake(t, ctx, v4(portA), "before Sync")
	w.mustBeClosed(t, ctx, "before Sync", others...)

	// Opened: the handshake works over IPv4 and IPv6.
	b := fc.backend(t, w)
	holeA := Hole{Interface: tn.rIf, Port: portA, Device: w.wanDev}
	commentA := holeA.comment()
	if err := b.Sync([]Hole{holeA}); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	expectRules("after Sync", commentA)
	tn.mustHandshake(t, ctx, v4(portA), "after Sync, IPv4")
	tn.mustHandshake(t, ctx, v6(portA), "after Sync, IPv6")

	// Again, and from a new backend as after a restart (kill -9 included:
	// the state is read from the kernel): still exactly one rule.
	if err := b.Sync([]Hole{holeA}); err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	if err := fc.backend(t, w).Sync([]Hole{holeA}); err != nil {
		t.Fatalf("Sync of a new backend: %v", err)
	}
	expectRules("after three Syncs", commentA)
	w.mustBeClosed(t, ctx, "after Sync", others...)

	// The listen port moves: the old port closes, the new one opens. A UDP
	// listener on the old port shows it open before and closed after.
	tn.setRouterPort(t, ctx, portB)
	oldA := port{"udp", portA}
	w.listen(t, ctx, oldA)
	w.mustBeOpen(t, ctx, "rule for the old port still there", oldA)
	holeB := Hole{Interface: tn.rIf, Port: portB, Device: w.wanDev}
	if err := b.Sync([]Hole{holeB}); err != nil {
		t.Fatalf("Sync with the new port: %v", err)
	}
	expectRules("after the port change", holeB.comment())
	w.mustBeClosed(t, ctx, "after the port change", append(others, oldA)...)
	tn.mustHandshake(t, ctx, v4(portB), "after the port change, IPv4")
	tn.mustHandshake(t, ctx, v6(portB), "after the port change, IPv6")

	// Flushed by a new backend (a daemon starting after a crash): closed
	// again, and the ruleset is what it was.
	if err := fc.backend(t, w).Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	expectRules("after Flush")
	tn.mustNotHandshake(t, ctx, v4(portB), "after Flush")
	w.mustBeClosed(t, ctx, "after Flush", append(others, oldA)...)
	if after := fc.snapshot(t, ctx, w); after != before {
		t.Errorf("ruleset after Flush differs from before Sync:\n--- before\n%s\n--- after\n%s", before, after)
	}
}

// TestNftables: the scenario against nftables with an fw4-like ruleset.
func TestNftables(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft: run scripts/deps.sh")
	}
	exercise(t, firewallCase{
		setup: func(t *testing.T, ctx context.Context, w *wan) {
			file := filepath.Join(w.lab.Dir, "ruleset.nft")
			if err := os.WriteFile(file, []byte(lab.Fw4Ruleset(w.wanDev)), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := w.router.Run(ctx, "nft", "-f", file); err != nil {
				t.Fatal(err)
			}
		},
		snapshot: func(t *testing.T, ctx context.Context, w *wan) string {
			return w.routerSh(t, ctx, "nft list ruleset 2>/dev/null")
		},
		backend: func(t *testing.T, w *wan) Backend {
			b, err := newOn(w.host(), "nftables", testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		rules: func(t *testing.T, ctx context.Context, w *wan) []string {
			return taggedLines(w.routerSh(t, ctx, "nft list ruleset 2>/dev/null"), `comment "`, `"`)
		},
		perHole: 3, // inet fw4, ip guard, ip6 guard6
	})
}

// TestIptables: the scenario against iptables and ip6tables with policy
// DROP, once with iptables-nft and once with iptables-legacy (each where
// it works here).
func TestIptables(t *testing.T) {
	t.Parallel()
	for _, variant := range []string{"nft", "legacy"} {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			v4, v6 := "iptables-"+variant, "ip6tables-"+variant
			for _, tool := range []string{v4, v6, v4 + "-restore", v6 + "-restore"} {
				if _, err := exec.LookPath(tool); err != nil {
					t.Skipf("needs %s: run scripts/deps.sh", tool)
				}
			}
			exercise(t, firewallCase{
				setup: func(t *testing.T, ctx context.Context, w *wan) {
					// fw3's shape: INPUT drops, the WAN device goes to a
					// zone chain that rejects.
					script := ""
					for _, bin := range []string{v4, v6} {
						script += strings.NewReplacer("IPT", bin, "WAN", w.wanDev).Replace(`
IPT -w -P INPUT DROP
IPT -w -A INPUT -i lo -j ACCEPT
IPT -w -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
IPT -w -N zone_wan_input
IPT -w -A INPUT -i WAN -j zone_wan_input
IPT -w -A zone_wan_input -j REJECT
`)
					}
					script += v6 + " -w -I zone_wan_input 1 -p ipv6-icmp -j ACCEPT\n"
					if out, err := w.router.Run(ctx, "sh", "-ec", script); err != nil {
						if variant == "legacy" && strings.Contains(out, "can't initialize") {
							t.Skipf("iptables-legacy does not work in this kernel: %v", err)
						}
						t.Fatal(err)
					}
				},
				snapshot: func(t *testing.T, ctx context.Context, w *wan) string {
					// stderr: iptables-nft warns when iptables-legacy tables
					// exist, which depends on other tests.
					return w.routerSh(t, ctx, v4+" -w -S 2>/dev/null; "+v6+" -w -S 2>/dev/null")
				},
				backend: func(t *testing.T, w *wan) Backend {
					b, err := newIptables(w.host(), v4, v6, testLogger(t))
					if err != nil {
						t.Fatal(err)
					}
					return b
				},
				rules: func(t *testing.T, ctx context.Context, w *wan) []string {
					return taggedLines(w.routerSh(t, ctx, v4+" -w -S 2>/dev/null; "+v6+" -w -S 2>/dev/null"), `--comment "`, `"`)
				},
				perHole: 2, // IPv4 and IPv6
			})
		})
	}
}

// taggedLines returns, for each line of a listing holding a comment with
// wgd's tag, the comment (between open and close), in listing order.
func taggedLines(listing, open, close string) []string {
	var out []string
	for _, line := range strings.Split(listing, "\n") {
		_, rest, ok := strings.Cut(line, open+Tag+":")
		if !ok {
			continue
		}
		c, _, _ := strings.Cut(rest, close)
		out = append(out, Tag+":"+c)
	}
	return out
}

// newRouter is a lab with one namespace, for tests without traffic.
func newRouter(t *testing.T, ctx context.Context) (*lab.Host, host) {
	t.Helper()
	l := lab.ForTest(t)
	h, err := l.Host(ctx, "router")
	if err != nil {
		t.Fatal(err)
	}
	return h, host{run: runCommand([]string{"ip", "netns", "exec", h.NS}), lookPath: exec.LookPath}
}

// TestDetect: auto picks the firewall that filters input.
func TestDetect(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"nft", "iptables", "ip6tables"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: run scripts/deps.sh", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, h := newRouter(t, ctx)
	for _, step := range []struct {
		cmd  string // run in the router first
		want string
	}{
		{"", "nftables"}, // nothing filters, nft works
		{"iptables -w -P INPUT DROP", "iptables"},
		{"nft add table inet mine && nft add chain inet mine input '{ type filter hook input priority 0; policy accept; }'", "nftables"},
	} {
		if step.cmd != "" {
			if _, err := r.Run(ctx, "sh", "-ec", step.cmd); err != nil {
				t.Fatal(err)
			}
		}
		if k, why := detect(h); k != step.want {
			t.Errorf("after %q: detected %s (%s), want %s", step.cmd, k, why, step.want)
		}
	}
	b, err := newOn(h, "auto", testLogger(t))
	if err != nil || b.Name() != "nftables" {
		t.Errorf("newOn(auto) = %v, %v; want the nftables backend", b, err)
	}
}

// TestLeftoversAndOthers: Sync removes wgd's rules of an earlier run
// (another port, another chain) and leaves everybody else's rules alone,
// also those whose comments look similar; Flush removes only wgd's.
func TestLeftoversAndOthers(t *testing.T) {
	t.Parallel()
	hole := Hole{Interface: "wg0", Port: 51820}
	for _, c := range []struct {
		name    string
		tools   []string
		kind    string
		setup   string
		listing string
		after   []string // wgd's rules after Sync
	}{
		{
			name:  "nftables",
			tools: []string{"nft"},
			kind:  "nftables",
			setup: `nft -f - <<'EOF'
table inet fw4 {
	chain input {
		type filter hook input priority filter; policy drop;
		udp dport 4000 accept comment "wgd:old:4000"
		udp dport 9 accept comment "wgdx:9"
		udp dport 10 accept comment "other"
		jump input_wan
	}
	chain input_wan {
		udp dport 4001 accept comment "wgd:old:4001"
	}
}
EOF`,
			listing: "nft list ruleset",
			after:   []string{`comment "wgd:wg0:51820"`},
		},
		{
			name:  "iptables",
			tools: []string{"iptables", "ip6tables", "iptables-restore", "ip6tables-restore"},
			kind:  "iptables",
			setup: `for ipt in iptables ip6tables; do
	$ipt -w -P INPUT DROP
	$ipt -w -A INPUT -p udp --dport 4000 -m comment --comment wgd:old:4000 -j ACCEPT
	$ipt -w -A INPUT -p udp --dport 9 -m comment --comment wgdx:9 -j ACCEPT
	$ipt -w -A INPUT -p udp --dport 10 -m comment --comment other -j ACCEPT
done`,
			listing: "iptables -w -S 2>/dev/null; ip6tables -w -S 2>/dev/null",
			after:   []string{`--comment "wgd:wg0:51820"`, `--comment "wgd:wg0:51820"`},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for _, tool := range c.tools {
				if _, err := exec.LookPath(tool); err != nil {
					t.Skipf("needs %s: run scripts/deps.sh", tool)
				}
			}
			r, h := newRouter(t, ctx)
			if _, err := r.Run(ctx, "sh", "-ec", c.setup); err != nil {
				t.Fatal(err)
			}
			list := func() string {
				out, err := r.Run(ctx, "sh", "-c", c.listing)
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			b, err := newOn(h, c.kind, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Sync([]Hole{hole}); err != nil {
				t.Fatal(err)
			}
			out := list()
			for _, gone := range []string{"wgd:old:4000", "wgd:old:4001"} {
				if strings.Contains(out, gone) {
					t.Errorf("after Sync, the leftover %s is still there:\n%s", gone, out)
				}
			}
			for _, kept := range []string{"wgdx:9", "other"} {
				if !strings.Contains(out, kept) {
					t.Errorf("after Sync, someone else's rule %s is gone:\n%s", kept, out)
				}
			}
			if got := taggedCount(out); got != len(c.after) || strings.Count(out, c.after[0]) != len(c.after) {
				t.Errorf("after Sync: %d rules tagged wgd, want %d, each %s:\n%s", got, len(c.after), c.after[0], out)
			}
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			out = list()
			if got := taggedCount(out); got != 0 {
				t.Errorf("after Flush: %d rules tagged wgd remain:\n%s", got, out)
			}
			for _, kept := range []string{"wgdx:9", "other"} {
				if !strings.Contains(out, kept) {
					t.Errorf("after Flush, someone else's rule %s is gone:\n%s", kept, out)
				}
			}
		})
	}
}

// taggedCount counts the rules of a listing (nft's or iptables -S) that
// carry wgd's tag.
func taggedCount(listing string) int {
	return len(taggedLines(listing, `comment "`, `"`))
}

// TestNothingFilters: with no input chain, nftables Sync opens nothing,
// says so in the log (once), and is not an error.
func TestNothingFilters(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft: run scripts/deps.sh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, h := newRouter(t, ctx)
	var logged strings.Builder
	b, err := newOn(h, "nftables", slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := b.Sync([]Hole{{Interface: "wg0", Port: 51820}}); err != nil {
			t.Fatalf("Sync without any input chain: %v, want nil", err)
		}
	}
	if n := strings.Count(logged.String(), "nothing filters"); n != 1 {
		t.Errorf("log says %d times that nothing filters, want once:\n%s", n, logged.String())
	}
	if out, _ := r.Run(ctx, "nft", "list", "ruleset"); strings.TrimSpace(out) != "" {
		t.Errorf("Sync without input chains changed the ruleset:\n%s", out)
	}
}

// TestPermissionDenied: nft and iptables run without privileges fail with
// an error that says so (the daemon logs it and keeps its tunnels).
func TestPermissionDenied(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"nft", "iptables", "iptables-restore", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: run scripts/deps.sh", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, _ := newRouter(t, ctx)
	h := host{
		run:      runCommand([]string{"ip", "netns", "exec", r.NS, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}),
		lookPath: exec.LookPath,
	}
	for _, kind := range []string{"nftables", "iptables"} {
		b, err := newOn(h, kind, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		err = b.Sync([]Hole{{Interface: "wg0", Port: 51820}})
		if err == nil || !strings.Contains(err.Error(), "ermi") {
			t.Errorf("%s Sync as nobody: %v, want a permission error", kind, err)
		}
		if err := b.Flush(); err == nil {
			t.Errorf("%s Flush as nobody succeeded, want a permission error", kind)
		}
	}
}
