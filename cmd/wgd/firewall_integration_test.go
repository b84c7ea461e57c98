package main

// Firewall integration (issue 4): the router's wgd opens exactly its
// WireGuard listen port in the router's firewall, moves the opening with
// listen_port, survives kill -9 without duplicating it, and leaves the
// ruleset as it found it when it stops.
//
// Contract with the daemon (what these tests expect):
//   - /etc/config/wgd (here <config-dir>/wgd): `config wgd 'main'` with
//     `option firewall 'auto|fw4|nftables|iptables|none'`.
//   - An interface with `option open_firewall '0'` gets no opening.
//   - On start wgd flushes leftovers of its tag; after every apply it syncs
//     one opening per up interface (that did not opt out) on its actual
//     listen port; on stop it flushes.
//   - `wgd status --json` has a "firewall" object, {"backend": "<kind in
//     use>", "holes": [...], "error": "..."} (firewall.Status).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"wgd/firewall"
	"wgd/internal/lab"
)

// routerFirewall is the router's own firewall, which drops input from the
// WAN by default.
type routerFirewall struct {
	kind    string // option firewall
	tools   []string
	install func(wanDev string) string // shell script
	list    string                     // shell command listing the ruleset (stable text)
	perPort int                        // rules one open port takes
}

var nftFirewall = routerFirewall{
	kind:  "nftables",
	tools: []string{"nft"},
	// What firewall4 renders, plus two more tables that drop input.
	install: func(wan string) string { return "nft -f - <<'EOF'\n" + lab.Fw4Ruleset(wan) + "EOF\n" },
	list:    "nft list ruleset 2>/dev/null",
	perPort: 3, // inet fw4, ip guard, ip6 guard6
}

var iptablesFirewall = routerFirewall{
	kind:  "iptables",
	tools: []string{"iptables", "ip6tables"},
	// fw3's shape: INPUT drops, the WAN device goes to a zone chain that
	// rejects.
	install: func(wan string) string {
		var b strings.Builder
		for _, ipt := range []string{"iptables", "ip6tables"} {
			b.WriteString(strings.NewReplacer("IPT", ipt, "WAN", wan).Replace(`
IPT -w -P INPUT DROP
IPT -w -A INPUT -i lo -j ACCEPT
IPT -w -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
IPT -w -N zone_wan_input
IPT -w -A INPUT -i WAN -j zone_wan_input
IPT -w -A zone_wan_input -j REJECT
`))
		}
		return b.String()
	},
	// stderr: iptables-nft warns when iptables-legacy tables exist.
	list:    "iptables -w -S 2>/dev/null; ip6tables -w -S 2>/dev/null",
	perPort: 2, // IPv4 and IPv6
}

func TestFirewallNftables(t *testing.T) { testFirewall(t, nftFirewall) }
func TestFirewallIptables(t *testing.T) { testFirewall(t, iptablesFirewall) }

func testFirewall(t *testing.T, fw routerFirewall) {
	t.Parallel()
	for _, tool := range append([]string{"socat", "wg", "wireguard-go", "ss"}, fw.tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: run scripts/deps.sh", tool)
		}
	}
	ctx := testContext(t)
	g := newGateway(t, ctx)
	laptop := addLaptop(t, ctx, g, "laptop", lab.ClientWireGuardGo)
	wan := routerWANDev(t, ctx, g)
	sh := func(h *lab.Host, script string) string {
		t.Helper()
		out, err := h.Run(ctx, "sh", "-ec", script)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// Listeners on the router that a port scan from the WAN must not reach.
	// First without a firewall: the scan sees them, so it can see them.
	sc := &portScan{g: g, from: laptop.Host, udp: []int{53, 123, 51821}, tcp: []int{22, 80, lab.ListenPort}}
	sc.start(t, ctx)
	sc.mustBeOpen(t, ctx, "without a firewall")

	sh(g.Router, fw.install(wan))
	before := sh(g.Router, fw.list)
	sc.mustBeClosed(t, ctx, "firewall installed, before wgd")
	rules := func(port int) (ours, forPort int) {
		t.Helper()
		for _, line := range strings.Split(sh(g.Router, fw.list), "\n") {
			_, c, ok := strings.Cut(line, `comment "`+firewall.Tag+":")
			if !ok {
				continue
			}
			ours++
			if strings.Contains(c, ":"+strconv.Itoa(port)) {
				forPort++
			}
		}
		return ours, forPort
	}
	expectRules := func(port int, when string) {
		t.Helper()
		ours, forPort := rules(port)
		if ours != fw.perPort || forPort != fw.perPort {
			t.Errorf("%s: %d rules tagged %s, %d of them for port %d; want exactly %d for port %d\n%s",
				when, ours, firewall.Tag, forPort, port, fw.perPort, port, sh(g.Router, fw.list))
		}
	}

	// wgd with the interface opted out: listening, but not reachable.
	wgdConf := "\nconfig wgd 'main'\n\toption log_level 'debug'\n\toption firewall '" + fw.kind + "'\n"
	network := g.RouterNetworkConfig()
	optOut := strings.Replace(network, "\toption proto 'wgd'\n", "\toption proto 'wgd'\n\toption open_firewall '0'\n", 1)
	if optOut == network {
		t.Fatal("router network config has no proto 'wgd' line to add open_firewall to")
	}
	writeRouterConfig(t, g, optOut, wgdConf)
	startRouterWGD(t, ctx, g)
	st := firewallStatus(t, ctx, g)
	if st.Backend != fw.kind {
		t.Errorf("status firewall backend %q, want %q (option firewall)", st.Backend, fw.kind)
	}
	if err := laptop.Start(ctx); err != nil {
		t.Fatal(err)
	}
	laptopPort := 41000
	mustNotHandshake(t, ctx, g, laptop, lab.ListenPort, &laptopPort, "open_firewall '0'")
	if ours, _ := rules(lab.ListenPort); ours != 0 {
		t.Errorf("open_firewall '0': %d rules tagged %s, want none", ours, firewall.Tag)
	}

	// Opted in, reload: the port opens, nothing else does.
	writeRouterConfig(t, g, network, wgdConf)
	if err := g.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	expectRules(lab.ListenPort, "after reload with the opening")
	resetLaptop(t, ctx, g, laptop, lab.ListenPort, &laptopPort)
	mustReach(t, ctx, laptop)
	if err := g.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	expectRules(lab.ListenPort, "after a second reload")
	sc.mustBeClosed(t, ctx, "wgd running")
	if st := firewallStatus(t, ctx, g); st.Error != "" || len(st.Holes) != 1 || int(st.Holes[0].Port) != lab.ListenPort {
		t.Errorf("status firewall %+v, want one hole on port %d and no error", st, lab.ListenPort)
	}

	// kill -9 leaves the rule; the next start replaces it: exactly one.
	if err := g.RouterProc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	g.RouterProc.Wait(ctx)
	startRouterWGD(t, ctx, g)
	expectRules(lab.ListenPort, "after kill -9 and a new start")
	resetLaptop(t, ctx, g, laptop, lab.ListenPort, &laptopPort)
	mustReach(t, ctx, laptop)

	// listen_port changes: the opening moves with it. A UDP listener on the
	// old port shows that it is closed again.
	const newPort = 51830
	moved := strings.Replace(network, fmt.Sprintf("option listen_port '%d'", lab.ListenPort), fmt.Sprintf("option listen_port '%d'", newPort), 1)
	writeRouterConfig(t, g, moved, wgdConf)
	if err := g.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	expectRules(newPort, "after the listen_port change")
	resetLaptop(t, ctx, g, laptop, newPort, &laptopPort)
	mustReach(t, ctx, laptop)
	sc.udp = append(sc.udp, lab.ListenPort)
	sc.mustBeClosed(t, ctx, "after the listen_port change")

	// Stop: no rule left, the ruleset as before, nothing reachable.
	if err := g.RouterProc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err := g.RouterProc.Wait(waitCtx)
	cancel()
	if err != nil {
		t.Errorf("wgd after SIGTERM: %v (want a clean exit)", err)
	}
	if ours, _ := rules(newPort); ours != 0 {
		t.Errorf("after stop: %d rules tagged %s remain", ours, firewall.Tag)
	}
	if after := sh(g.Router, fw.list); after != before {
		t.Errorf("ruleset after wgd stopped differs from before it started:\n--- before\n%s\n--- after\n%s", before, after)
	}
	sc.mustBeClosed(t, ctx, "after stop")
}

// routerWANDev is the router's device that carries lab.RouterWANIP.
func routerWANDev(t *testing.T, ctx context.Context, g *lab.Gateway) string {
	t.Helper()
	out, err := g.Router.IP(ctx, "-o", "addr", "show", "to", lab.RouterWANIP+"/32")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(out)
	if len(f) < 2 {
		t.Fatalf("no device with %s on the router: %q", lab.RouterWANIP, out)
	}
	return f[1]
}

func writeRouterConfig(t *testing.T, g *lab.Gateway, network, wgd string) {
	t.Helper()
	for name, content := range map[string]string{"network": network, "wgd": wgd} {
		path := filepath.Join(g.RouterDir, name)
		if err := os.WriteFile(path+".tmp", []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
}

// startRouterWGD starts `wgd run` on the router with the files as written
// (StartRouter would write its own wgd file) and waits for the interface.
func startRouterWGD(t *testing.T, ctx context.Context, g *lab.Gateway) {
	t.Helper()
	if err := g.RunRouter(ctx); err != nil {
		t.Fatalf("router: %v", err)
	}
}

// firewallStatus is the "firewall" object of `wgd status --json`.
func firewallStatus(t *testing.T, ctx context.Context, g *lab.Gateway) firewall.Status {
	t.Helper()
	out, err := g.WGDCmd(ctx, g.Router, "status", "--json", "--socket", g.RouterSocket)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &top); err != nil {
		t.Fatalf("wgd status --json: %v\n%s", err, out)
	}
	raw, ok := top["firewall"]
	if !ok {
		t.Fatalf("wgd status --json has no \"firewall\" field:\n%s", out)
	}
	var st firewall.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("wgd status --json: firewall: %v\n%s", err, raw)
	}
	return st
}

// resetLaptop makes the laptop (wireguard-go) forget its session with the
// router and point at port, sending from a fresh source port: a new
// handshake on a new conntrack flow, which the ruleset's "established"
// rule cannot let through on the strength of an earlier flow.
func resetLaptop(t *testing.T, ctx context.Context, g *lab.Gateway, lt *lab.Laptop, port int, laptopPort *int) {
	t.Helper()
	*laptopPort++
	for _, argv := range [][]string{
		{"wg", "set", lt.Iface, "peer", g.RouterKey.Public, "remove"},
		{"wg", "set", lt.Iface, "listen-port", strconv.Itoa(*laptopPort), "peer", g.RouterKey.Public,
			"endpoint", fmt.Sprintf("%s:%d", lab.RouterWANIP, port),
			"allowed-ips", lab.TunnelPrefix + "," + lab.LANPrefix, "persistent-keepalive", "25"},
	} {
		if _, err := lt.Host.Run(ctx, argv...); err != nil {
			t.Fatal(err)
		}
	}
}

// mustNotHandshake: for 3 s the laptop tries, and gets no handshake (an
// admitted one takes milliseconds here).
func mustNotHandshake(t *testing.T, ctx context.Context, g *lab.Gateway, lt *lab.Laptop, port int, laptopPort *int, when string) {
	t.Helper()
	resetLaptop(t, ctx, g, lt, port, laptopPort)
	for i := 0; i < 3; i++ {
		lt.Host.Run(ctx, "ping", "-n", "-c", "1", "-W", "1", lab.LANHostIP)
	}
	out, err := lt.Host.Run(ctx, "wg", "show", lt.Iface, "latest-handshakes")
	if err != nil {
		t.Fatal(err)
	}
	if ts := parseWGPairs(out)[g.RouterKey.Public]; ts != "0" {
		t.Errorf("%s: the laptop completed a handshake (latest-handshake %q), want it blocked by the firewall", when, ts)
	}
}

// portScan probes listeners on the router's WAN address from a WAN host.
// TCP listeners fork per connection; a UDP listener answers one datagram
// and ends (socat's forking UDP server can hand a datagram to a child
// still finishing the previous one, which never answers), so UDP
// listeners are started again before each scan when used up.
type portScan struct {
	g        *lab.Gateway
	from     *lab.Host
	udp, tcp []int
	udpProcs map[int]*lab.Proc
}

func (s *portScan) start(t *testing.T, ctx context.Context) {
	t.Helper()
	for _, p := range s.tcp {
		if _, err := s.g.Router.Start("socat", fmt.Sprintf("TCP4-LISTEN:%d,reuseaddr,fork", p), "SYSTEM:echo open"); err != nil {
			t.Fatal(err)
		}
	}
	s.ensureUDP(t, ctx)
	for _, p := range s.tcp {
		err := lab.Poll(ctx, 10*time.Second, func(ctx context.Context) error {
			out, err := s.g.Router.Run(ctx, "ss", "-Htln", fmt.Sprintf("sport = :%d", p))
			if err == nil && strings.TrimSpace(out) == "" {
				err = fmt.Errorf("not listening yet")
			}
			return err
		})
		if err != nil {
			t.Fatalf("tcp/%d listener on the router: %v", p, err)
		}
	}
}

// ensureUDP (re)starts the UDP listeners that are not running.
func (s *portScan) ensureUDP(t *testing.T, ctx context.Context) {
	t.Helper()
	if s.udpProcs == nil {
		s.udpProcs = map[int]*lab.Proc{}
	}
	for _, p := range s.udp {
		if proc := s.udpProcs[p]; proc != nil && !proc.Exited() {
			continue
		}
		proc, err := s.g.Router.Start("socat", fmt.Sprintf("UDP4-RECVFROM:%d", p), "SYSTEM:read x; echo open")
		if err != nil {
			t.Fatal(err)
		}
		s.udpProcs[p] = proc
		err = lab.Poll(ctx, 10*time.Second, func(ctx context.Context) error {
			if proc.Exited() {
				return lab.GiveUp(fmt.Errorf("socat exited: %s", proc.Output()))
			}
			out, err := s.g.Router.Run(ctx, "ss", "-Huln", fmt.Sprintf("sport = :%d", p))
			if err == nil && strings.TrimSpace(out) == "" {
				err = fmt.Errorf("not listening yet")
			}
			return err
		})
		if err != nil {
			t.Fatalf("udp/%d listener on the router: %v", p, err)
		}
	}
}

// scan probes every port at once and returns those that answered.
func (s *portScan) scan(t *testing.T, ctx context.Context) (open, closed []string) {
	t.Helper()
	s.ensureUDP(t, ctx)
	var mu sync.Mutex
	var wg sync.WaitGroup
	probe := func(name string, argv ...string) {
		defer wg.Done()
		out, _ := s.from.Run(ctx, argv...)
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(out, "open") {
			open = append(open, name)
		} else {
			closed = append(closed, name)
		}
	}
	for _, p := range s.udp {
		wg.Add(1)
		go probe(fmt.Sprintf("udp/%d", p), "sh", "-c",
			fmt.Sprintf("(echo probe; sleep 1) | socat -T 2 - UDP4:%s:%d", lab.RouterWANIP, p))
	}
	for _, p := range s.tcp {
		wg.Add(1)
		go probe(fmt.Sprintf("tcp/%d", p), "socat", "-u",
			fmt.Sprintf("TCP4:%s:%d,connect-timeout=1", lab.RouterWANIP, p), "STDOUT")
	}
	wg.Wait()
	return open, closed
}

func (s *portScan) mustBeClosed(t *testing.T, ctx context.Context, when string) {
	t.Helper()
	if open, _ := s.scan(t, ctx); len(open) > 0 {
		t.Errorf("%s: reachable from the WAN, want closed: %s", when, strings.Join(open, ", "))
	}
}

func (s *portScan) mustBeOpen(t *testing.T, ctx context.Context, when string) {
	t.Helper()
	if _, closed := s.scan(t, ctx); len(closed) > 0 {
		t.Fatalf("%s: no answer from the WAN side, want one (the scan could not tell open from closed): %s", when, strings.Join(closed, ", "))
	}
}
