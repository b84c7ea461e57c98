package pkgtest

// The protocol handler and a real wgd under a stand-in of netifd that
// applies the handler's messages to the kernel as netifd does (in a
// network namespace of internal/lab): daemon restarts, full tunnels next
// to a WAN, live peer changes and auto '0'.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"wgd/internal/lab"
)

// standinNetifd is netifd's side of one interface of protocol wgd: it
// runs the handler (setup, renew, teardown) in the scratch root and
// applies each update the handler sends (notify_proto, action 0) to the
// kernel the way netifd does:
//
//   - proto_ext_update_link (proto-ext.c) with keep=false claims the
//     device named in the update and sets it up, then
//     interface_update_start/interface_update_complete (interface-ip.c)
//     compare the new addresses and routes with the ones of the last
//     update (a vlist keyed by target, mask and metric):
//     __interface_update_route and interface_update_proto_addr leave an
//     entry that is in both untouched (no kernel call at all, even when
//     the kernel lost it meanwhile), delete one that is gone and add a
//     new one.
//   - Routes are added with NLM_F_CREATE|NLM_F_REPLACE (system_rt in
//     system-linux.c): a route of the same network and metric through
//     another link (the WAN's default route, its subnet) is replaced, and
//     deleting the tunnel's route later leaves neither. Addresses too are
//     added with NLM_F_REPLACE (system_addr).
//   - Taking the interface down (interface_proto_event teardown, then
//     interface_ip_flush) deletes every address and route of its last
//     update.
//
// It keeps its state across daemon restarts, as netifd does: the daemon
// going away is nothing netifd hears of (a TUN losing its carrier only
// matters to handlers that set teardown-on-l3-link-down, which wgd's does
// not).
type standinNetifd struct {
	t      *testing.T
	s      *liveSetup
	iface  string
	data   string          // the interface's config data, as netifd passes it
	seen   int             // updates of the interface applied so far
	ifname string          // the device of the last update
	addrs  map[string]bool // "ADDR/MASK" as ip(8) takes them
	routes map[string]bool // "TARGET/MASK METRIC"
}

func newStandinNetifd(t *testing.T, s *liveSetup, iface, data string) *standinNetifd {
	return &standinNetifd{t: t, s: s, iface: iface, data: data, addrs: map[string]bool{}, routes: map[string]bool{}}
}

// handler runs the protocol handler's action as netifd does.
func (n *standinNetifd) handler(action string) {
	n.t.Helper()
	out, err := n.s.inRoot(n.t, `cd /lib/netifd/proto && ./wgd.sh wgd "$ACT" "$IF" "$DATA" "$IF"`,
		"ACT="+action, "IF="+n.iface, "DATA="+n.data)
	if err != nil {
		n.t.Fatalf("handler %s: %v\n%s", action, err, out)
	}
}

// up is `ifup`: setup, then the update applied.
func (n *standinNetifd) up() { n.handler("setup"); n.apply() }

// renew is `ubus call network.interface.NAME renew`.
func (n *standinNetifd) renew() { n.handler("renew"); n.apply() }

// down is `ifdown`: teardown, then what the interface had is flushed.
func (n *standinNetifd) down() {
	n.handler("teardown")
	n.sync(nil, nil)
}

func (n *standinNetifd) ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := n.s.host.IP(ctx, args...)
	return err
}

// apply applies the updates of the interface the handler sent since the
// last call; errors from the handler fail the test.
func (n *standinNetifd) apply() {
	n.t.Helper()
	var updates []map[string]any
	for _, m := range n.s.r.UbusCalls("network.interface", "notify_proto") {
		if m["interface"] != n.iface {
			continue
		}
		switch m["action"] {
		case float64(0):
			updates = append(updates, m)
		case float64(3), float64(4), float64(7):
			n.t.Fatalf("the handler reported an error to netifd: %v", m)
		}
	}
	for _, u := range updates[n.seen:] {
		n.ifname, _ = u["ifname"].(string)
		if err := n.ip("link", "set", "dev", n.ifname, "up"); err != nil {
			n.t.Fatalf("netifd: device %s: %v", n.ifname, err)
		}
		addrs := map[string]bool{}
		for _, key := range []string{"ipaddr", "ip6addr"} {
			list, _ := u[key].([]any)
			for _, a := range list {
				m, _ := a.(map[string]any)
				addrs[fmt.Sprintf("%s/%s", m["ipaddr"], m["mask"])] = true
			}
		}
		routes := map[string]bool{}
		for _, key := range []string{"routes", "routes6"} {
			list, _ := u[key].([]any)
			for _, r := range list {
				m, _ := r.(map[string]any)
				metric := 0.0
				if v, ok := m["metric"].(float64); ok {
					metric = v
				}
				routes[fmt.Sprintf("%s/%s %d", m["target"], m["netmask"], int(metric))] = true
			}
		}
		n.sync(addrs, routes)
	}
	n.seen = len(updates)
}

// sync moves the kernel from the last update's entries to these.
func (n *standinNetifd) sync(addrs, routes map[string]bool) {
	n.t.Helper()
	for r := range n.routes {
		if !routes[r] {
			target, metric, _ := strings.Cut(r, " ")
			n.ip("route", "del", target, "dev", n.ifname, "metric", metric) // may be gone with the link
		}
	}
	for a := range n.addrs {
		if !addrs[a] {
			n.ip("addr", "del", a, "dev", n.ifname)
		}
	}
	for a := range addrs {
		if !n.addrs[a] {
			if err := n.ip("addr", "replace", a, "dev", n.ifname); err != nil {
				n.t.Errorf("netifd: address %s: %v", a, err)
			}
		}
	}
	for r := range routes {
		if !n.routes[r] {
			target, metric, _ := strings.Cut(r, " ")
			if err := n.ip("route", "replace", target, "dev", n.ifname, "metric", metric); err != nil {
				n.t.Errorf("netifd: route %s: %v", r, err)
			}
		}
	}
	n.addrs, n.routes = addrs, routes
	if n.addrs == nil {
		n.addrs, n.routes = map[string]bool{}, map[string]bool{}
	}
}

// addWAN gives the lab host a WAN as DHCP and odhcp6c would leave it: a
// link with a subnet and default routes through its gateway.
func addWAN(t *testing.T, h *lab.Host) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, args := range [][]string{
		{"link", "add", "wan", "type", "veth", "peer", "name", "wanpeer"},
		{"link", "set", "wanpeer", "up"},
		{"link", "set", "wan", "up"},
		{"addr", "add", "192.0.2.2/24", "dev", "wan"},
		{"-6", "addr", "add", "2001:db8:77::2/64", "dev", "wan", "nodad"},
		{"route", "add", "default", "via", "192.0.2.1", "dev", "wan"},
		{"-6", "route", "add", "default", "via", "2001:db8:77::1", "dev", "wan"},
	} {
		if out, err := h.IP(ctx, args...); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	return "wan"
}

func (s *liveSetup) ipOut(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.host.IP(ctx, args...)
	if err != nil {
		t.Fatalf("ip %v: %v\n%s", args, err, out)
	}
	return out
}

// wanIntact checks that the WAN's default routes and subnet route are
// there, through the WAN.
func wanIntact(t *testing.T, s *liveSetup, when string) {
	t.Helper()
	for _, c := range []struct{ args []string }{
		{[]string{"-4", "route", "show", "default"}},
		{[]string{"-6", "route", "show", "default"}},
		{[]string{"-4", "route", "show", "192.0.2.0/24"}},
	} {
		if out := s.ipOut(t, c.args...); !strings.Contains(out, "dev wan") {
			t.Errorf("%s: %v is not through the WAN any more:\n%s", when, c.args, out)
		}
	}
}

func (s *liveSetup) netifdState() string { return s.r.Path("var/run/wgd.netifd") }

// A full tunnel (IPv4 and IPv6) with a peer that also claims the WAN's
// own subnet, on an interface with auto '0': netifd's ifup brings it up
// (auto is only netifd's boot-time flag), the tunnel takes the traffic
// by the halves of the address space, and the WAN's default routes and
// subnet route stay, also after ifdown.
func TestNetifdFullTunnel(t *testing.T) {
	getTools(t)
	s := newLive(t, "wgf")
	addWAN(t, s.host)
	network := strings.Replace(s.r.ReadFile("etc/config/network"), "\toption tunlink 'wan'\n", "\toption tunlink 'wan'\n\toption auto '0'\n", 1)
	network = strings.Replace(network, "\tlist allowed_ips '192.168.77.0/24'\n",
		"\tlist allowed_ips '0.0.0.0/0'\n\tlist allowed_ips '::/0'\n\tlist allowed_ips '192.0.2.0/24'\n", 1)
	s.r.WriteFile("etc/config/network", network, 0o600)
	s.startDaemon(t, "run", "--netifd", "--netifd-state", s.netifdState())
	n := newStandinNetifd(t, s, s.iface, s.protoDat)
	wanIntact(t, s, "before ifup")

	n.up()
	wanIntact(t, s, "with the full tunnel up")
	for _, args := range [][]string{{"-4", "route", "show", "0.0.0.0/1"}, {"-4", "route", "show", "128.0.0.0/1"},
		{"-6", "route", "show", "::/1"}, {"-6", "route", "show", "8000::/1"}, {"-4", "route", "show", "192.0.2.0/24"}} {
		if out := s.ipOut(t, args...); !strings.Contains(out, "dev "+s.iface) {
			t.Errorf("%v: no route through the tunnel:\n%s", args, out)
		}
	}
	if out := s.ipOut(t, "-4", "route", "get", "203.0.113.9"); !strings.Contains(out, "dev "+s.iface) {
		t.Errorf("traffic does not take the tunnel:\n%s", out)
	}

	n.down()
	wanIntact(t, s, "after ifdown")
}

// A daemon that dies (kill -9, procd respawns it) or is restarted (init
// restart, upgrade) while netifd has the interface up: the new daemon
// takes the same link back, with what netifd set up on it still there
// (netifd does not set it up again), and the peers configured.
func TestNetifdDaemonRestart(t *testing.T) {
	getTools(t)
	wg := needTool(t, "wg")
	s := newLive(t, "wgr")
	args := []string{"run", "--netifd", "--netifd-state", s.netifdState()}
	p := s.startDaemon(t, args...)
	n := newStandinNetifd(t, s, s.iface, s.protoDat)
	n.up()
	index := s.ipOut(t, "-o", "link", "show", "dev", s.iface)
	index = index[:strings.Index(index, ":")]
	wantState := func(when string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := lab.Poll(ctx, 15*time.Second, func(ctx context.Context) error {
			peers, err := s.host.Run(ctx, wg, "show", s.iface, "peers")
			if err != nil || !strings.Contains(peers, s.peerPub) {
				return fmt.Errorf("wg show peers: %q %v", peers, err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: the daemon did not take the interface back: %v", when, err)
		}
		link := s.ipOut(t, "-o", "link", "show", "dev", s.iface)
		if !strings.HasPrefix(link, index+":") || strings.Contains(link, "NO-CARRIER") || !strings.Contains(link, ",UP") {
			t.Errorf("%s: link %s, want index %s, up, with carrier", when, link, index)
		}
		if addrs := s.ipOut(t, "-o", "addr", "show", "dev", s.iface); !strings.Contains(addrs, "10.77.0.1/24") || !strings.Contains(addrs, "fd77::1/64") {
			t.Errorf("%s: netifd's addresses are gone:\n%s", when, addrs)
		}
		if routes := s.ipOut(t, "-4", "route", "show", "dev", s.iface); !strings.Contains(routes, "192.168.77.0/24") {
			t.Errorf("%s: netifd's routes are gone:\n%s", when, routes)
		}
	}
	wantState("after ifup")

	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	p = s.startDaemon(t, args...)
	wantState("after kill -9 and a new daemon")

	if err := p.Stop(10 * time.Second); err != nil && !strings.Contains(err.Error(), "exit status") {
		t.Logf("stop: %v", err)
	}
	p = s.startDaemon(t, args...)
	wantState("after SIGTERM and a new daemon")

	// ifdown removes the link for good, also across a restart.
	n.down()
	if _, err := s.host.IP(context.Background(), "link", "show", "dev", s.iface); err == nil {
		t.Errorf("%s outlived ifdown", s.iface)
	}
	p.Stop(10 * time.Second)
	s.startDaemon(t, args...)
	if _, err := s.host.IP(context.Background(), "link", "show", "dev", s.iface); err == nil {
		t.Errorf("%s came back after ifdown and a restart", s.iface)
	}
}

// Peers changed live (`wgd reload`, as procd's reload trigger, LuCI's
// Save & Apply and `wgd peer add` do) under netifd: the daemon has netifd
// renew the interface, and netifd's routes follow: an added peer's
// network is routed into the tunnel, a removed one's route goes; the link
// stays (same index) and the other peer's route is left alone.
func TestNetifdLivePeerRoutes(t *testing.T) {
	getTools(t)
	s := newLive(t, "wgl")
	// ubus for the daemon: it only records what netifd is asked.
	bin := t.TempDir()
	asked := filepath.Join(bin, "asked")
	if err := os.WriteFile(filepath.Join(bin, "ubus"), []byte("#!/bin/sh\necho \"$*\" >>"+asked+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s.env = []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
	s.startDaemon(t, "run", "--netifd", "--netifd-state", s.netifdState())
	n := newStandinNetifd(t, s, s.iface, s.protoDat)
	n.up()
	index := s.ipOut(t, "-o", "link", "show", "dev", s.iface)
	index = index[:strings.Index(index, ":")]
	network := s.r.ReadFile("etc/config/network")

	// waitRenew waits for the daemon to ask netifd for a renew, and does it.
	waitRenew := func(when string) {
		t.Helper()
		want := "call network.interface." + s.iface + " renew"
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(asked)
			if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); slices.Contains(lines, want) {
				os.Remove(asked)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the daemon did not ask netifd to renew %s (asked: %q)", when, s.iface, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
		n.renew()
	}
	reload := func() {
		t.Helper()
		if out, err := s.inRoot(t, "wgd reload"); err != nil {
			t.Fatalf("wgd reload: %v\n%s", err, out)
		}
	}
	routes := func() string { return s.ipOut(t, "route", "show", "dev", s.iface) }

	s.r.WriteFile("etc/config/network", network+fmt.Sprintf(`
config wireguard_%s 'tablet'
	option public_key '%s'
	list allowed_ips '10.77.0.5/32'
	list allowed_ips '172.16.77.0/24'
	option route_allowed_ips '1'
`, s.iface, newKey(t).PublicKey()), 0o600)
	reload()
	waitRenew("peer added")
	if r := routes(); !strings.Contains(r, "172.16.77.0/24") || !strings.Contains(r, "10.77.0.5") || !strings.Contains(r, "192.168.77.0/24") {
		t.Errorf("routes after adding a peer:\n%s", r)
	}

	s.r.WriteFile("etc/config/network", network, 0o600)
	reload()
	waitRenew("peer removed")
	if r := routes(); strings.Contains(r, "172.16.77.0/24") || !strings.Contains(r, "192.168.77.0/24") {
		t.Errorf("routes after removing the peer:\n%s", r)
	}
	if now := s.ipOut(t, "-o", "link", "show", "dev", s.iface); !strings.HasPrefix(now, index+":") {
		t.Errorf("the link was recreated: %s (was index %s)", now, index)
	}

	// A reload that changes nothing netifd knows asks nothing of it. The
	// status read that follows each renew (NetifdUbus) may still land
	// here; it changes nothing, so only other methods count.
	reload()
	time.Sleep(500 * time.Millisecond)
	b, _ := os.ReadFile(asked)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line != "" && !strings.HasSuffix(line, " status") {
			t.Errorf("an unchanged reload asked netifd: %s", line)
		}
	}
	n.down()
}
