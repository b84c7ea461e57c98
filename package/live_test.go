package pkgtest

// The package scripts against a running wgd, in a network namespace of
// internal/lab: the proto handler brings a real interface up through the
// daemon, and LuCI's backend reads the real status. The daemon runs
// outside the scratch root with its control socket inside it, where the
// scripts (in the chroot) look for it.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"wgd/config"
	"wgd/internal/lab"
)

type liveSetup struct {
	r        *Root
	lab      *lab.Lab
	host     *lab.Host
	iface    string
	priv     string   // the interface's private key
	peerPub  string   // the laptop's public key
	protoDat string   // netifd's data for the interface
	env      []string // the daemon's extra environment
}

func newKey(t *testing.T) config.Secret {
	t.Helper()
	k, err := config.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newLive makes the root (wgd and LuCI packages), a lab host and a
// LuCI-style /etc/config/network with one wgd interface: a peer with an
// endpoint IP (TEST-NET-1: the namespace has no route there, nothing
// leaves it), one whose endpoint name does not resolve, one disabled.
func newLive(t *testing.T, prefix string) *liveSetup {
	t.Helper()
	r := NewRoot(t)
	needTool(t, "ip")
	tl := getTools(t)
	r.InstallWGD()
	r.Install(tl.luciIPK)
	l := lab.ForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := l.Host(ctx, "router")
	if err != nil {
		t.Fatal(err)
	}
	s := &liveSetup{r: r, lab: l, host: h, iface: prefix + l.ID}
	priv := newKey(t)
	s.priv = priv.Base64()
	s.peerPub = newKey(t).PublicKey().String()
	network := fmt.Sprintf(`
config interface '%[1]s'
	option proto 'wgd'
	option private_key '%[2]s'
	option listen_port '51820'
	list addresses '10.77.0.1/24'
	list addresses 'fd77::1/64'
	option tunlink 'wan'

config wireguard_%[1]s
	option description 'laptop'
	option public_key '%[3]s'
	list allowed_ips '10.77.0.2/32'
	list allowed_ips '192.168.77.0/24'
	option route_allowed_ips '1'
	option endpoint_host '192.0.2.7'
	option endpoint_port '51820'
	option persistent_keepalive '25'

config wireguard_%[1]s
	option description 'phone'
	option public_key '%[4]s'
	list allowed_ips '10.77.0.3/32'
	option route_allowed_ips '1'
	option endpoint_host 'phone.invalid'

config wireguard_%[1]s
	option description 'old'
	option public_key '%[5]s'
	list allowed_ips '10.77.0.4/32'
	option disabled '1'
`, s.iface, s.priv, s.peerPub, newKey(t).PublicKey(), newKey(t).PublicKey())
	r.WriteFile("etc/config/network", network, 0o600)
	s.protoDat = fmt.Sprintf(`{"private_key":%q,"listen_port":51820,"addresses":"10.77.0.1/24 fd77::1/64","tunlink":"wan"}`, s.priv)
	return s
}

// startDaemon runs wgd with args plus the root's configuration and
// socket, and waits for the socket.
func (s *liveSetup) startDaemon(t *testing.T, args ...string) *lab.Proc {
	t.Helper()
	args = append(append([]string{getTools(t).wgd}, args...),
		"--config-dir", s.r.Path("etc/config"), "--socket", s.r.Path("var/run/wgd.sock"))
	p, err := s.host.StartEnv(s.env, args...)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if fi, err := os.Stat(s.r.Path("var/run/wgd.sock")); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return p
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("wgd %v did not open its socket (%s); log:\n%s", args[1:], p.ExitStatus(), p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inRoot runs script in the chroot, inside the lab host's namespace.
func (s *liveSetup) inRoot(t *testing.T, script string, env ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.host.Run(ctx, s.r.Argv(script, env...)...)
}

// luciStatus is LuCI's live status through the rpcd backend.
func (s *liveSetup) luciStatus(t *testing.T) map[string]any {
	t.Helper()
	out, err := s.inRoot(t, "/usr/libexec/rpcd/luci.wgd call status")
	if err != nil {
		t.Fatalf("luci.wgd call status: %v\n%s", err, out)
	}
	if strings.Contains(out, s.priv) {
		t.Errorf("the private key is in LuCI's status:\n%s", out)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("luci.wgd status is not JSON: %v\n%s", err, out)
	}
	return st
}

func findIface(st map[string]any, name string) map[string]any {
	list, _ := st["interfaces"].([]any)
	for _, i := range list {
		if m, ok := i.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

// LuCI's backend shows each peer of a running wgd (standalone mode here:
// it needs nothing of netifd mode).
func TestRPCDStatusLive(t *testing.T) {
	s := newLive(t, "wgs")
	s.startDaemon(t, "run")
	var iface map[string]any
	deadline := time.Now().Add(15 * time.Second)
	for {
		iface = findIface(s.luciStatus(t), s.iface)
		if (iface != nil && iface["up"] == true) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if iface == nil || iface["up"] != true {
		t.Fatalf("interface %s not up in LuCI's status: %v", s.iface, iface)
	}
	peers, _ := iface["peers"].([]any)
	found := false
	for _, p := range peers {
		m, _ := p.(map[string]any)
		if m["public_key"] == s.peerPub {
			found = true
			if m["description"] != "laptop" || !strings.HasPrefix(fmt.Sprint(m["endpoint_host"]), "192.0.2.7") {
				t.Errorf("laptop's status: %v", m)
			}
			if _, ok := m["latest_handshake"]; !ok {
				t.Errorf("no latest_handshake in %v", m)
			}
		}
	}
	if !found {
		t.Errorf("peer laptop missing from %v", peers)
	}
}

// The proto handler against the real daemon in netifd mode: the daemon
// brings the device up (TUN, keys, peers, port) and leaves its addresses
// to netifd; the handler reports them, the routes and the host
// dependency, and the wgd service publishes the listen port for fw4;
// teardown removes the device and the rule.
func TestProtoLive(t *testing.T) {
	getTools(t)
	wg := needTool(t, "wg")
	s := newLive(t, "wgn")
	s.startDaemon(t, "run", "--netifd", "--netifd-state", s.netifdState())
	r := s.r
	r.WriteFile("etc/config/firewall", firewallConfig, 0o644)
	serviceKnown(r)

	out, err := s.inRoot(t, `cd /lib/netifd/proto && ./wgd.sh wgd setup "$IF" "$DATA" "$IF"`, "IF="+s.iface, "DATA="+s.protoDat)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	n := notifies(r)
	if len(n[3]) != 0 || len(n[4]) != 0 || len(n[7]) != 0 || len(n[0]) != 1 {
		t.Fatalf("setup did not end in one update: %v", r.Records())
	}
	u := n[0][0]
	if u["ifname"] != s.iface {
		t.Errorf("ifname %v", u["ifname"])
	}
	jsonEqual(t, "ipaddr", u["ipaddr"], `[{"ipaddr":"10.77.0.1","mask":"24"}]`)
	jsonEqual(t, "ip6addr", u["ip6addr"], `[{"ipaddr":"fd77::1","mask":"64"}]`)
	routes, _ := json.Marshal(u["routes"])
	for _, want := range []string{`{"netmask":"32","target":"10.77.0.2"}`, `{"netmask":"24","target":"192.168.77.0"}`} {
		if !strings.Contains(string(routes), want) {
			t.Errorf("routes %s lack %s", routes, want)
		}
	}
	if strings.Contains(string(routes), "10.77.0.4") {
		t.Errorf("the disabled peer's route is in %s", routes)
	}
	jsonEqual(t, "host dependencies", n[6], fmt.Sprintf(`[{"action":6,"host":"192.0.2.7","ifname":"wan","interface":%q}]`, s.iface))
	if d, ok := u["data"]; ok {
		t.Errorf("netifd data %v, want none", d)
	}
	sets := r.UbusCalls("service", "set")
	if len(sets) != 1 {
		t.Fatalf("want the service sent once, got %v", r.Records())
	}
	jsonEqual(t, "service data", sets[0]["data"], fmt.Sprintf(`{"firewall":[{"type":"rule","name":"Allow-wgd-%s",`+
		`"src":"wan","proto":"udp","dest_port":"51820","target":"ACCEPT"}]}`, s.iface))
	wantOnly(t, fw4Collect(t, r, s.iface), "input_wan", "udp dport 51820 counter accept")
	noSecret(t, r)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.host.IP(ctx, "link", "show", "dev", s.iface); err != nil {
		t.Fatalf("the daemon did not create %s: %v", s.iface, err)
	}
	if addrs, _ := s.host.IP(ctx, "-4", "addr", "show", "dev", s.iface); strings.Contains(addrs, "inet ") {
		t.Errorf("in netifd mode the daemon must leave addresses to netifd:\n%s", addrs)
	}
	if port, err := s.host.Run(ctx, wg, "show", s.iface, "listen-port"); err != nil || strings.TrimSpace(port) != "51820" {
		t.Errorf("wg show listen-port: %q %v", port, err)
	}
	if peers, err := s.host.Run(ctx, wg, "show", s.iface, "peers"); err != nil || !strings.Contains(peers, s.peerPub) {
		t.Errorf("wg show peers: %q %v", peers, err)
	}
	if iface := findIface(s.luciStatus(t), s.iface); iface == nil || iface["up"] != true {
		t.Errorf("LuCI's status of %s: %v", s.iface, iface)
	}

	if out, err := s.inRoot(t, `cd /lib/netifd/proto && ./wgd.sh wgd teardown "$IF" "$DATA" "$IF"`, "IF="+s.iface, "DATA="+s.protoDat); err != nil {
		t.Fatalf("teardown: %v\n%s", err, out)
	}
	if rules := fw4Collect(t, r); len(rules) != 0 {
		t.Errorf("after teardown fw4 would still get %v", rules)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := s.host.IP(ctx, "link", "show", "dev", s.iface); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists after teardown", s.iface)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
