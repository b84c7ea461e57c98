package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"wgd/api"
	"wgd/internal/netnstest"
)

func linkExists(name string) bool { return exec.Command("ip", "link", "show", name).Run() == nil }

// Under netifd only the interfaces the protocol handler asks for run, with
// no addresses of wgd's; a reload does not bring up others; the answer
// carries what netifd must set up; a respawned daemon restores them.
func TestNetifdMode(t *testing.T) {
	netnstest.Root(t)
	k, peerKey := secretKey(t), secretKey(t).PublicKey()
	dir := t.TempDir()
	writeNetwork(t, dir, iface("wgna", k, "\toption listen_port '51870'\n\tlist addresses '10.66.0.1/24'")+
		peer("wgna", peerKey, "\tlist allowed_ips '10.66.0.2/32'\n\tlist allowed_ips '192.168.66.0/24'\n\toption route_allowed_ips '1'\n\toption endpoint_host '192.0.2.66'")+
		iface("wgnb", secretKey(t), "")+
		"config interface 'wgnc'\n\toption proto 'wgd'\n\toption private_key 'broken'\n")
	state := filepath.Join(dir, "netifd.state")
	ctx := context.Background()
	td := runDaemon(t, dir, Options{Netifd: true, NetifdState: state}, nil, nil)

	if linkExists("wgna") || linkExists("wgnb") {
		t.Fatal("interfaces came up without netifd asking")
	}
	var up api.IfupResult
	if err := api.Call(ctx, td.socket, "ifup", map[string]string{"interface": "wgna"}, &up); err != nil {
		t.Fatal(err)
	}
	if up.Interface != "wgna" || up.ListenPort != 51870 || len(up.Addresses) != 1 || up.Addresses[0].String() != "10.66.0.1/24" ||
		len(up.Routes) != 2 || len(up.Endpoints) != 1 || up.Endpoints[0].String() != "192.0.2.66" ||
		len(up.Firewall) != 1 || up.Firewall[0].DestPort != "51870" {
		t.Errorf("ifup answer %+v", up)
	}
	if !linkExists("wgna") || linkExists("wgnb") {
		t.Fatal("want wgna only")
	}
	if out, _ := exec.Command("ip", "-o", "addr", "show", "dev", "wgna").Output(); strings.Contains(string(out), "10.66.0.1") {
		t.Errorf("wgd set an address under netifd: %s", out)
	}
	var client api.IfupResult
	if err := api.Call(ctx, td.socket, "ifup", map[string]string{"interface": "wgnb"}, &client); err != nil {
		t.Fatal(err)
	}
	if len(client.Firewall) != 0 || client.ListenPort == 0 {
		t.Errorf("an interface without listen_port opens nothing (its port is random): %+v", client)
	}
	if err := api.Call(ctx, td.socket, "ifdown", map[string]string{"interface": "wgnb"}, nil); err != nil {
		t.Fatal(err)
	}
	if r := td.reload(t); len(r.Up) != 0 {
		t.Errorf("reload brought up %v", r.Up)
	}
	err := api.Call(ctx, td.socket, "ifup", map[string]string{"interface": "wgnc"}, nil)
	if err == nil || !strings.Contains(err.Error(), "not a WireGuard key") {
		t.Errorf("ifup of a broken interface: %v", err)
	}
	if err := api.Call(ctx, td.socket, "ifup", map[string]string{"interface": "nope"}, nil); err == nil {
		t.Errorf("ifup of an unknown interface succeeded")
	}
	if b, _ := os.ReadFile(state); strings.TrimSpace(string(b)) != "wgna" {
		t.Errorf("state file %q", b)
	}

	// A respawned daemon brings back what netifd asked for, on the same
	// link: it outlived the daemon with what netifd set up on it.
	mustIP(t, "addr", "add", "10.66.0.1/24", "dev", "wgna")
	mustIP(t, "link", "set", "wgna", "up")
	index := linkIndex(t, "wgna")
	td.stop(t)
	if !linkExists("wgna") || linkExists("wgnb") {
		t.Fatal("under netifd a stopping daemon keeps (only) the links netifd has up")
	}
	var calls netifdCalls
	td = runDaemon(t, dir, Options{Netifd: true, NetifdState: state, NetifdCall: calls.record}, nil, nil)
	calls.td = td
	if !linkExists("wgna") || linkIndex(t, "wgna") != index {
		t.Fatal("wgna not restored on its link after a restart")
	}
	if out, _ := exec.Command("ip", "-o", "addr", "show", "dev", "wgna").Output(); !strings.Contains(string(out), "10.66.0.1/24") {
		t.Errorf("netifd's address is gone after a restart: %s", out)
	}
	if s := td.status(t); len(s.Interfaces) == 0 || !s.Interfaces[0].Up || len(s.Interfaces[0].Peers) != 1 {
		t.Errorf("restored interface: %+v", s.Interfaces)
	}
	if c := calls.get(); !slices.Equal(c, []string{"wgna renew"}) {
		t.Errorf("a link that was attached to is only renewed (the configuration may have changed meanwhile); asked %v", c)
	}
	if err := api.Call(ctx, td.socket, "ifdown", map[string]string{"interface": "wgna"}, nil); err != nil {
		t.Fatal(err)
	}
	if linkExists("wgna") {
		t.Error("wgna still up after ifdown")
	}
	if err := api.Call(ctx, td.socket, "ifdown", map[string]string{"interface": "wgna"}, nil); err != nil {
		t.Errorf("second ifdown: %v", err)
	}
}

func mustIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v: %v\n%s", args, err, out)
	}
}

func linkIndex(t *testing.T, name string) int {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show", "dev", name).Output()
	if err != nil {
		t.Fatalf("ifindex of %s: %v", name, err)
	}
	n, _ := strconv.Atoi(strings.SplitN(string(out), ":", 2)[0])
	return n
}

// netifdCalls records what the daemon asked of netifd.
type netifdCalls struct {
	td    *testDaemon
	mu    sync.Mutex
	calls []string
}

func (c *netifdCalls) record(_ context.Context, iface string, methods ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, iface+" "+strings.Join(methods, " "))
}

// get returns the calls made, once those queued have run.
func (c *netifdCalls) get() []string {
	if c.td != nil {
		c.td.flushNetifd()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

func (c *netifdCalls) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = nil
}

// A link of the interface's name that cannot be attached to (here: not
// a TUN: a veth here) is replaced, and netifd, whose addresses and routes went with
// it, is asked to set the interface up again.
func TestNetifdRestoreOnNewLink(t *testing.T) {
	netnstest.Root(t)
	dir := t.TempDir()
	writeNetwork(t, dir, iface("wgnr", secretKey(t), "\toption listen_port '51871'"))
	state := filepath.Join(dir, "netifd.state")
	os.WriteFile(state, []byte("wgnr\n"), 0o600)
	mustIP(t, "link", "add", "wgnr", "type", "veth", "peer", "name", "wgnrp")
	var calls netifdCalls
	td := runDaemon(t, dir, Options{Netifd: true, NetifdState: state, NetifdCall: calls.record}, nil, nil)
	calls.td = td
	if out, _ := exec.Command("ip", "-d", "link", "show", "wgnr").Output(); !strings.Contains(string(out), "tun") {
		t.Errorf("wgnr is not a TUN now:\n%s", out)
	}
	if c := calls.get(); !slices.Equal(c, []string{"wgnr down up"}) {
		t.Errorf("asked netifd %v, want wgnr down up", c)
	}
	// netifd's down and up: ifdown removes the link, ifup makes it anew
	// and asks nothing more.
	ctx := context.Background()
	if err := api.Call(ctx, td.socket, "ifdown", map[string]string{"interface": "wgnr"}, nil); err != nil {
		t.Fatal(err)
	}
	if linkExists("wgnr") {
		t.Error("ifdown left the link")
	}
	if err := api.Call(ctx, td.socket, "ifup", map[string]string{"interface": "wgnr"}, &api.IfupResult{}); err != nil {
		t.Fatal(err)
	}
	if c := calls.get(); len(c) != 1 {
		t.Errorf("asked netifd %v", c)
	}
}

// Peers changed live (reload) under netifd: the daemon asks netifd to
// renew the interface when the answer netifd acts on changed (routes,
// endpoints, the firewall rule), once, and not otherwise; the link stays.
func TestNetifdRenew(t *testing.T) {
	k := secretKey(t)
	laptop, phone := secretKey(t).PublicKey(), secretKey(t).PublicKey()
	dir := t.TempDir()
	base := iface("wgnw", k, "\toption listen_port '51872'\n\tlist addresses '10.67.0.1/24'") +
		peer("wgnw", laptop, "\tlist allowed_ips '10.67.0.2/32'\n\tlist allowed_ips '192.168.67.0/24'\n\toption route_allowed_ips '1'")
	writeNetwork(t, dir, base)
	var calls netifdCalls
	td := startDaemonWith(t, dir, Options{Netifd: true, NetifdCall: calls.record}, nil)
	calls.td = td
	ctx := context.Background()
	ifup := func() *api.IfupResult {
		t.Helper()
		var up api.IfupResult
		if err := api.Call(ctx, td.socket, "ifup", map[string]string{"interface": "wgnw"}, &up); err != nil {
			t.Fatal(err)
		}
		return &up
	}
	routes := func(up *api.IfupResult) string {
		var out []string
		for _, r := range up.Routes {
			out = append(out, r.Target.String())
		}
		return strings.Join(out, " ")
	}
	if r := routes(ifup()); r != "10.67.0.2/32 192.168.67.0/24" {
		t.Errorf("routes %s", r)
	}
	first := td.running("wgnw")
	if r := td.reload(t); len(r.Updated) != 0 || len(calls.get()) != 0 {
		t.Errorf("an unchanged reload updated %v, asked netifd %v", r.Updated, calls.get())
	}

	writeNetwork(t, dir, base+peer("wgnw", phone, "\tlist allowed_ips '10.67.0.3/32'\n\tlist allowed_ips '172.16.67.0/24'\n\toption route_allowed_ips '1'"))
	td.reload(t)
	td.reload(t) // asked once until netifd comes back
	if c := calls.get(); !slices.Equal(c, []string{"wgnw renew"}) {
		t.Fatalf("after adding a peer asked netifd %v, want one renew", c)
	}
	if r := routes(ifup()); r != "10.67.0.2/32 192.168.67.0/24 10.67.0.3/32 172.16.67.0/24" {
		t.Errorf("routes after renew %s", r)
	}
	calls.reset()
	writeNetwork(t, dir, base)
	td.reload(t)
	if c := calls.get(); !slices.Equal(c, []string{"wgnw renew"}) {
		t.Fatalf("after removing a peer asked netifd %v, want one renew", c)
	}
	if r := routes(ifup()); r != "10.67.0.2/32 192.168.67.0/24" {
		t.Errorf("routes after renew %s", r)
	}
	if td.running("wgnw") != first {
		t.Error("the link was recreated")
	}
	// Down: nothing more to renew.
	calls.reset()
	if err := api.Call(ctx, td.socket, "ifdown", map[string]string{"interface": "wgnw"}, nil); err != nil {
		t.Fatal(err)
	}
	writeNetwork(t, dir, base+peer("wgnw", phone, "\tlist allowed_ips '10.67.0.3/32'\n\toption route_allowed_ips '1'"))
	td.reload(t)
	if c := calls.get(); len(c) != 0 {
		t.Errorf("asked netifd %v about an interface that is down", c)
	}
}

// The routes netifd gets never take the place of another link's route:
// a full tunnel is the two halves, and a network the WAN has (its own
// subnet) gets a metric above the WAN's route.
func TestNetifdRoutes(t *testing.T) {
	netnstest.Root(t)
	mustIP(t, "link", "add", "wanx", "type", "veth", "peer", "name", "wanxp")
	mustIP(t, "link", "set", "wanxp", "up")
	mustIP(t, "addr", "add", "192.0.2.2/24", "dev", "wanx")
	mustIP(t, "link", "set", "wanx", "up")
	mustIP(t, "route", "add", "198.51.100.0/24", "dev", "wanx", "metric", "7")
	dir := t.TempDir()
	writeNetwork(t, dir, iface("wgnt", secretKey(t), "")+
		peer("wgnt", secretKey(t).PublicKey(), "\tlist allowed_ips '0.0.0.0/0'\n\tlist allowed_ips '::/0'\n\tlist allowed_ips '192.0.2.0/24'\n"+
			"\tlist allowed_ips '198.51.100.0/24'\n\tlist allowed_ips '203.0.113.0/24'\n\toption route_allowed_ips '1'"))
	td := runDaemon(t, dir, Options{Netifd: true}, nil, nil)
	var up api.IfupResult
	if err := api.Call(context.Background(), td.socket, "ifup", map[string]string{"interface": "wgnt"}, &up); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range up.Routes {
		got = append(got, fmt.Sprintf("%s:%d", r.Target, r.Metric))
	}
	want := "0.0.0.0/1:0 128.0.0.0/1:0 ::/1:0 8000::/1:0 192.0.2.0/24:1 198.51.100.0/24:8 203.0.113.0/24:0"
	if strings.Join(got, " ") != want {
		t.Errorf("routes %v, want %s", got, want)
	}
}

// auto '0' is netifd's "not at boot": netifd's ifup (LuCI's Connect)
// brings it up. Standalone, it is not brought up at start, but `wgd ifup`
// does. disabled '1' stays down.
func TestAutoOff(t *testing.T) {
	dir := t.TempDir()
	writeNetwork(t, dir, iface("wgau", secretKey(t), "\toption auto '0'")+iface("wgdi", secretKey(t), "\toption disabled '1'"))
	ctx := context.Background()
	for _, netifd := range []bool{true, false} {
		td := startDaemonWith(t, dir, Options{Netifd: netifd}, nil)
		linkExists := func(name string) bool { return td.running(name) != nil }
		if linkExists("wgau") {
			t.Errorf("netifd %v: auto '0' came up at start", netifd)
		}
		var up api.IfupResult
		if err := api.Call(ctx, td.socket, "ifup", map[string]string{"interface": "wgau"}, &up); err != nil || !linkExists("wgau") {
			t.Errorf("netifd %v: ifup of auto '0': %v", netifd, err)
		}
		if err := api.Call(ctx, td.socket, "ifup", map[string]string{"interface": "wgdi"}, &up); err == nil || linkExists("wgdi") {
			t.Errorf("netifd %v: ifup of disabled '1' succeeded", netifd)
		}
		if err := api.Call(ctx, td.socket, "ifdown", map[string]string{"interface": "wgau"}, nil); err != nil || linkExists("wgau") {
			t.Errorf("netifd %v: ifdown of auto '0': %v", netifd, err)
		}
		td.stop(t)
	}
}

// The ifup answer carries the problems of its own interface only: wg0's
// never those of wg01 (its name's prefix), found by value, not by text.
func TestIfupProblemsOfItsInterface(t *testing.T) {
	dir := t.TempDir()
	writeNetwork(t, dir, iface("wgp", secretKey(t), "")+iface("wgp1", secretKey(t), "")+
		"config wireguard_wgp1\n\toption public_key 'broken'\n\n"+
		"config wireguard_wgp 'phone'\n\toption public_key '"+secretKey(t).PublicKey().String()+"'\n\tlist allowed_ips 'nonsense'\n")
	td := startDaemonWith(t, dir, Options{Netifd: true}, nil)
	var up api.IfupResult
	if err := api.Call(context.Background(), td.socket, "ifup", map[string]string{"interface": "wgp"}, &up); err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(up.Problems, "\n")
	if strings.Contains(joined, "wireguard_wgp1") || !strings.Contains(joined, "section phone") {
		t.Errorf("problems of wgp:\n%s", joined)
	}
}

// The ifup answer's firewall rule is the one fw4 gets: its zone is the
// one of /etc/config/firewall listing the uplink (tunlink, else
// wan_interface, else wan/wan6); with none, every zone, and a problem
// saying so.
func TestIfupFirewallZone(t *testing.T) {
	dir := t.TempDir()
	writeNetwork(t, dir, iface("wgz", secretKey(t), "\toption listen_port '51873'")+
		iface("wgz1", secretKey(t), "\toption listen_port '51874'\n\toption tunlink 'lte'"))
	if err := os.WriteFile(filepath.Join(dir, "firewall"), []byte("config zone\n\toption name 'wan'\n\tlist network 'wan'\n\tlist network 'wan6'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	td := startDaemonWith(t, dir, Options{Netifd: true}, nil)
	for _, c := range []struct{ name, src, problem string }{
		{"wgz", "wan", ""},
		{"wgz1", "*", "no firewall zone covers lte: the listen port is opened in every zone"},
	} {
		var up api.IfupResult
		if err := api.Call(context.Background(), td.socket, "ifup", map[string]string{"interface": c.name}, &up); err != nil {
			t.Fatal(err)
		}
		if len(up.Firewall) != 1 || up.Firewall[0].Src != c.src || up.Firewall[0].Family != "" {
			t.Errorf("%s: firewall %+v, want one rule from zone %s", c.name, up.Firewall, c.src)
		}
		if got := strings.Join(up.Problems, "; "); got != c.problem {
			t.Errorf("%s: problems %q, want %q", c.name, got, c.problem)
		}
	}
}

// NetifdUbus runs ubus in the background; after a renew it reads the
// interface's status, and one netifd has down (a renew of it was
// ignored) is reported, one that is up or being set up is not.
func TestNetifdUbus(t *testing.T) {
	bin := t.TempDir()
	log := filepath.Join(bin, "calls")
	script := "#!/bin/sh\necho \"$*\" >>" + log + "\n[ \"$3\" = status ] && cat " + filepath.Join(bin, "status") + "\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "ubus"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	for _, c := range []struct {
		status  string
		methods []string
		calls   string
		down    bool
	}{
		{`{"up": false, "pending": false, "autostart": true}`, []string{"renew"}, "renew status", true},
		{`{"up": true, "pending": false}`, []string{"renew"}, "renew status", false},
		{`{"up": false, "pending": true}`, []string{"renew"}, "renew status", false},
		{`{"up": false}`, []string{"down", "up"}, "down up", false},
	} {
		os.Remove(log)
		os.WriteFile(filepath.Join(bin, "status"), []byte(c.status), 0o644)
		downs := make(chan string, 1)
		NetifdUbus(slog.New(slog.NewTextHandler(testWriter{t}, nil)), func(_ context.Context, iface string) { downs <- iface })(context.Background(), "wgu", c.methods...)
		var want []string
		for _, m := range strings.Fields(c.calls) {
			want = append(want, "call network.interface.wgu "+m)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(log)
			if strings.Join(strings.Split(strings.TrimSpace(string(b)), "\n"), "|") == strings.Join(want, "|") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%v: ubus calls %q, want %q", c.methods, b, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		select {
		case iface := <-downs:
			if !c.down || iface != "wgu" {
				t.Errorf("%s: reported %s down", c.status, iface)
			}
		case <-time.After(300 * time.Millisecond):
			if c.down {
				t.Errorf("%s: not reported down", c.status)
			}
		}
	}
}
