package peers

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"wgd/config"
	"wgd/hotplug"
	"wgd/uci"
)

const routerKey = "oK5T0Yk8xZ1n0QqzG2sC3z8vF4Y5sV7m6W1d2E3f4Gs="

// network is a router's /etc/config/network with a wgd interface, a LuCI
// peer (anonymous, found by its description) and a netifd WireGuard one.
const network = `# my router
config interface 'lan'
	option device 'br-lan'
	option proto 'static'
	option ipaddr '192.168.1.1'
	option netmask '255.255.255.0'
	option ip6assign '60'

config globals 'globals'
	option ula_prefix 'fd12:3456:789a::/48'

config interface 'wg0'
	option proto 'wgd'
	option private_key '` + routerKey + `'
	option listen_port '51820'
	list addresses '10.0.0.1/24'
	list addresses 'fd00:10::1/64'
	option mtu '1420'

config wireguard_wg0
	option description 'laptop'
	option public_key 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg='
	list allowed_ips '10.0.0.2/32'
	list allowed_ips 'fd00:10::2/128'

# parked, keeps its address
config wireguard_wg0
	option description 'old phone'
	option public_key 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0='
	list allowed_ips '10.0.0.3/32'
	option disabled '1'

config interface 'vpn'
	option proto 'wireguard'
	option private_key '` + routerKey + `'

config interface 'wg1'
	option proto 'wgd'
	option private_key '` + routerKey + `'
	list addresses '10.1.0.1/30'
`

const wgdConf = "config wgd 'main'\n\toption public_endpoint 'vpn.example.com'\n"

func docs(t *testing.T, network, wgd string) (*uci.Doc, *uci.Package) {
	t.Helper()
	d, err := uci.NewDoc("network", []byte(network))
	if err != nil {
		t.Fatal(err)
	}
	var w *uci.Package
	if wgd != "" {
		var errs []*uci.Error
		if w, errs = uci.Parse("wgd", []byte(wgd)); len(errs) > 0 {
			t.Fatal(errs)
		}
	}
	return d, w
}

func TestAdd(t *testing.T) {
	d, w := docs(t, network, wgdConf)
	added, err := Add(d, w, AddRequest{Name: "phone", Interface: "wg0", Keepalive: 25})
	if err != nil {
		t.Fatal(err)
	}
	if added.Interface != "wg0" || join(added.Addresses) != "10.0.0.4/32, fd00:10::3/128" {
		t.Errorf("added %+v", added)
	}
	c := added.Client
	if c.Endpoint != "vpn.example.com:51820" || c.MTU != 1420 || c.Keepalive != 25 || c.DNS != nil || c.PresharedKey.IsZero() {
		t.Errorf("client %+v", c)
	}
	if got := join(c.AllowedIPs); got != "10.0.0.0/24, fd00:10::/64, 192.168.1.0/24, fd12:3456:789a::/48" {
		t.Errorf("split tunnel allowed IPs %s", got)
	}
	if c.ServerKey != mustSecret(t, routerKey).PublicKey() {
		t.Error("server key is not the interface's")
	}

	// The file now holds the peer, after the interface's last one, and
	// the router's model reads it with the client's public key.
	text := string(d.Bytes())
	if !strings.HasPrefix(text, network[:strings.Index(network, "config interface 'vpn'")]) ||
		!strings.HasSuffix(text, network[strings.Index(network, "\nconfig interface 'vpn'"):]) {
		t.Errorf("text around the new section changed:\n%s", text)
	}
	cfg, problems := config.FromUCI(d.Package(), w)
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	p := cfg.Interface("wg0").Peer(c.PrivateKey.PublicKey())
	if p == nil || p.Description != "phone" || p.PresharedKey != c.PresharedKey || join(p.AllowedIPs) != "10.0.0.4/32, fd00:10::3/128" {
		t.Fatalf("router model: %+v", p)
	}
	s := d.Package().SectionsOfType("wireguard_wg0")[2]
	if s.Name != "phone" || s.Get("private_key") != nil || s.Get(optClientAllowedIPs) != nil {
		t.Errorf("section without --keep-key:\n%s", text[s.Start:s.End])
	}
	if strings.Contains(text, c.PrivateKey.Base64()) {
		t.Error("the client's private key was written without --keep-key")
	}

	// The next one gets the next addresses.
	added, err = Add(d, w, AddRequest{Name: "tablet", Interface: "wg0"})
	if err != nil || join(added.Addresses) != "10.0.0.5/32, fd00:10::4/128" {
		t.Errorf("second add: %v %v", added, err)
	}
}

func TestAddFullTunnelAndOptions(t *testing.T) {
	d, w := docs(t, network, "")
	added, err := Add(d, w, AddRequest{Name: "phone", Interface: "wg0", FullTunnel: true, Endpoint: "[2001:db8::1]:4500"})
	if err != nil {
		t.Fatal(err)
	}
	c := added.Client
	if join(c.AllowedIPs) != "0.0.0.0/0, ::/0" || strings.Join(c.DNS, ",") != "192.168.1.1" || c.Endpoint != "[2001:db8::1]:4500" {
		t.Errorf("full tunnel client %+v", c)
	}

	d, _ = docs(t, network, "")
	added, err = Add(d, nil, AddRequest{Name: "p", Interface: "wg0", FullTunnel: true, DNS: []string{}, Endpoint: "192.0.2.7",
		AllowedIPs: []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")}})
	if err != nil {
		t.Fatal(err)
	}
	if c := added.Client; join(c.AllowedIPs) != "192.168.1.0/24" || len(c.DNS) != 0 || c.Endpoint != "192.0.2.7:51820" {
		t.Errorf("explicit options: %+v", c)
	}
}

func TestAddKeepKeyAndShow(t *testing.T) {
	d, w := docs(t, network, wgdConf)
	added, err := Add(d, w, AddRequest{Name: "phone", Interface: "wg0", KeepKey: true, FullTunnel: true, Keepalive: 15})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Find(d.Package(), "", "phone")
	if err != nil || p.Interface != "wg0" {
		t.Fatal(err)
	}
	if s, _ := section(d.Package(), p); s.Get("private_key").Values[0] != added.Client.PrivateKey.Base64() || !p.KeyKept {
		t.Error("private key not kept")
	}
	again, warning, err := ClientOf(d.Package(), w, p, "")
	if err != nil || warning != "" {
		t.Fatal(err, warning)
	}
	if again.Config() != added.Client.Config() {
		t.Errorf("shown again:\n%s\nadded:\n%s", again.Config(), added.Client.Config())
	}

	// Without the key there is nothing to show.
	p, _ = Find(d.Package(), "", "laptop")
	if _, _, err := ClientOf(d.Package(), w, p, ""); !errors.Is(err, ErrNoKey) {
		t.Errorf("show of a peer without a key: %v", err)
	}
}

func TestAddRefuses(t *testing.T) {
	full := strings.Replace(network, "list addresses '10.1.0.1/30'", "list addresses '10.1.0.1/30'\n\nconfig wireguard_wg1\n\tlist allowed_ips '10.1.0.2'\n\toption public_key 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg='", 1)
	for _, c := range []struct {
		name    string
		network string
		wgd     string
		req     AddRequest
		want    string
	}{
		{"name with a dash", network, "", AddRequest{Name: "bobs-phone", Interface: "wg0"}, "letters, digits and '_' only"},
		{"name with a space", network, "", AddRequest{Name: "my phone", Interface: "wg0"}, "letters, digits and '_' only"},
		{"empty name", network, "", AddRequest{Name: "", Interface: "wg0"}, "letters, digits"},
		{"section name taken", network, "", AddRequest{Name: "lan", Interface: "wg0"}, "the name lan is taken"},
		{"peer name taken", network, "", AddRequest{Name: "laptop", Interface: "wg0"}, "already has a peer called laptop"},
		{"no such interface", network, "", AddRequest{Name: "x", Interface: "wg9"}, `no interface "wg9" (wgd interfaces: wg0, wg1)`},
		{"not a wgd interface", network, "", AddRequest{Name: "x", Interface: "vpn"}, "proto 'wireguard', not 'wgd'"},
		{"not an interface", network, "", AddRequest{Name: "x", Interface: "globals"}, `no interface "globals"`},
		{"which interface", network, "", AddRequest{Name: "x"}, "several wgd interfaces (wg0, wg1)"},
		{"full subnet", full, "", AddRequest{Name: "x", Interface: "wg1", Endpoint: "vpn.example.com"}, "10.1.0.0/30 is full"},
		{"no listen port", network, "", AddRequest{Name: "x", Interface: "wg1", Endpoint: "vpn.example.com"}, "no fixed listen_port"},
		{"bad endpoint", network, "", AddRequest{Name: "x", Interface: "wg0", Endpoint: "bad host"}, "not a host name"},
		{"bad public_endpoint", network, "config wgd 'main'\n\toption public_endpoint 'a b'\n", AddRequest{Name: "x", Interface: "wg0"}, "not a host name"},
		{"disabled interface", strings.Replace(network, "option mtu '1420'", "option mtu '1420'\n\toption disabled '1'", 1), "", AddRequest{Name: "x", Interface: "wg0"}, "interface wg0 is disabled"},
		{"broken interface", strings.Replace(network, "option mtu '1420'", "option mtu 'big'", 1), "", AddRequest{Name: "x", Interface: "wg0"}, "not usable"},
		{"no wgd interface", "config interface 'lan'\n", "", AddRequest{Name: "x"}, "no interface with proto 'wgd'"},
		{"bad public endpoint", network, "config wgd 'main'\n\toption public_endpoint 'vpn example'\n", AddRequest{Name: "x", Interface: "wg0"}, "wgd:2: section main, option public_endpoint"},
	} {
		d, w := docs(t, c.network, c.wgd)
		_, err := Add(d, w, c.req)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
		if string(d.Bytes()) != c.network {
			t.Errorf("%s: the file changed", c.name)
		}
	}
}

func TestListFindRemoveDisable(t *testing.T) {
	d, w := docs(t, network, wgdConf)
	if _, err := Add(d, w, AddRequest{Name: "phone", Interface: "wg0", KeepKey: true}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range List(d.Package(), "") {
		names = append(names, p.Interface+"/"+p.Name)
	}
	if got := strings.Join(names, " "); got != "wg0/laptop wg0/old phone wg0/phone" {
		t.Errorf("list: %s", got)
	}
	l := List(d.Package(), "wg0")
	if !l[1].Disabled || l[0].Disabled || !l[2].KeyKept || l[0].KeyKept || join(l[0].AllowedIPs) != "10.0.0.2/32, fd00:10::2/128" {
		t.Errorf("list details: %+v", l)
	}

	// An anonymous peer is also found by the name List gives it.
	if p, err := Find(d.Package(), "", "@wireguard_wg0[1]"); err != nil || p.Description != "old phone" || l[1].Name != "old phone" {
		t.Errorf("find by reference: %+v %v", p, err)
	}
	if _, err := Find(d.Package(), "", "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("find nobody: %v", err)
	}
	if _, err := Find(d.Package(), "wg1", "laptop"); !errors.Is(err, ErrNotFound) {
		t.Errorf("laptop found on wg1: %v", err)
	}

	// Enable the parked LuCI peer (found by description), disable another.
	if p, changed, err := SetDisabled(d, "", "old phone", false); err != nil || !changed || p.Interface != "wg0" {
		t.Fatalf("enable: %v %v", changed, err)
	}
	if _, changed, err := SetDisabled(d, "", "old phone", false); err != nil || changed {
		t.Errorf("enable twice: %v %v", changed, err)
	}
	if _, changed, err := SetDisabled(d, "wg0", "laptop", true); err != nil || !changed {
		t.Fatalf("disable: %v %v", changed, err)
	}
	cfg, _ := config.FromUCI(d.Package(), w)
	var live []string
	for _, p := range cfg.Interface("wg0").Peers {
		live = append(live, p.Name())
	}
	if got := strings.Join(live, ","); got != "old phone,phone" {
		t.Errorf("peers the router runs: %s", got)
	}

	before := string(d.Bytes())
	removed, err := Remove(d, "", "phone")
	if err != nil || removed.Interface != "wg0" {
		t.Fatal(err)
	}
	if _, err := Find(d.Package(), "", "phone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("phone still there")
	}
	if len(d.Bytes()) >= len(before) || !bytes.Contains(d.Bytes(), []byte("# parked, keeps its address")) {
		t.Errorf("after remove:\n%s", d.Bytes())
	}

	// Two peers with one description: ambiguous, nothing changes.
	two := network + "\nconfig wireguard_wg1\n\toption description 'laptop'\n"
	d, _ = docs(t, two, "")
	if _, err := Remove(d, "", "laptop"); err == nil || !strings.Contains(err.Error(), "several peers") {
		t.Errorf("ambiguous remove: %v", err)
	}
	if _, err := Remove(d, "wg1", "laptop"); err != nil {
		t.Errorf("remove with the interface named: %v", err)
	}
}

func TestEndpointChoice(t *testing.T) {
	for _, c := range []struct {
		given, public string
		port          uint16
		want          string
	}{
		{"vpn.example.com", "other.example.com", 51820, "vpn.example.com:51820"},
		{"", "other.example.com:4500", 51820, "other.example.com:4500"},
		{"2001:db8::5", "", 51820, "[2001:db8::5]:51820"},
		{"192.0.2.1:1", "", 0, "192.0.2.1:1"},
	} {
		got, warning, err := Endpoint(c.given, c.public, c.port, hotplug.WANConfig{})
		if err != nil || got != c.want || warning != "" {
			t.Errorf("%q %q %d: %q %q %v, want %q", c.given, c.public, c.port, got, warning, err, c.want)
		}
	}
	for _, a := range []string{"192.168.1.2", "10.1.2.3", "100.64.1.1", "fd00::1", "fe80::1", "127.0.0.1"} {
		if Public(netip.MustParseAddr(a)) {
			t.Errorf("%s counted as public", a)
		}
	}
	for _, a := range []string{"198.51.100.1", "8.8.8.8", "2001:db8::1"} {
		if !Public(netip.MustParseAddr(a)) {
			t.Errorf("%s counted as private", a)
		}
	}
}

// List reports each section as written: description, endpoint (port
// defaulted, IPv6 in brackets) and whether a client key is kept, never
// the keys themselves.
func TestListDetails(t *testing.T) {
	text := network + `
config wireguard_wg1 'site'
	option description 'branch office'
	option public_key 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg='
	option preshared_key 'oK5T0Yk8xZ1n0QqzG2sC3z8vF4Y5sV7m6W1d2E3f4Gs='
	option private_key 'oK5T0Yk8xZ1n0QqzG2sC3z8vF4Y5sV7m6W1d2E3f4Gs='
	option endpoint_host '2001:db8::9'
	list allowed_ips '10.1.0.2/32 192.168.9.0/24'

config wireguard_wg1
	option public_key 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0='
	option endpoint_host 'vpn.example.com'
	option endpoint_port '4500'
`
	d, _ := docs(t, text, "")
	l := List(d.Package(), "wg1")
	if len(l) != 2 {
		t.Fatalf("wg1 peers: %+v", l)
	}
	site, anon := l[0], l[1]
	if site.Name != "site" || site.Description != "branch office" || site.Section != "site" || site.Endpoint() != "[2001:db8::9]:51820" ||
		!site.KeyKept || join(site.AllowedIPs) != "10.1.0.2/32, 192.168.9.0/24" {
		t.Errorf("named peer: %+v", site)
	}
	if anon.Name != "@wireguard_wg1[1]" || anon.Description != "" || anon.Endpoint() != "vpn.example.com:4500" || anon.KeyKept || anon.AllowedIPs != nil {
		t.Errorf("anonymous peer: %+v", anon)
	}
	if got := List(d.Package(), "wg0"); got[0].Endpoint() != "" || got[0].Description != "laptop" {
		t.Errorf("peer without endpoint: %+v", got[0])
	}
}
