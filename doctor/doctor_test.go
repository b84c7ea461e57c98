package doctor

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"wgd/api"
	"wgd/config"
	"wgd/firewall"
	"wgd/internal/rtnl"
)

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func key(t *testing.T) config.Key {
	t.Helper()
	s, err := config.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return s.PublicKey()
}

// wan is a snapshot with one WAN link of mtu holding addr and a default
// route.
func wan(addr string, mtu uint32) *rtnl.Snapshot {
	p := netip.MustParsePrefix(addr)
	dst := netip.MustParsePrefix("0.0.0.0/0")
	if p.Addr().Is6() {
		dst = netip.MustParsePrefix("::/0")
	}
	return &rtnl.Snapshot{
		Links:    map[int]rtnl.Link{2: {Index: 2, Name: "eth1", MTU: mtu, Flags: unix.IFF_UP | unix.IFF_LOWER_UP}},
		Addrs:    []rtnl.Addr{{Index: 2, Prefix: p}},
		Defaults: []rtnl.Route{{Dst: dst, OIF: 2}},
	}
}

// healthy is a router where every check passes.
func healthy(t *testing.T) *Facts {
	laptop := key(t)
	cfg := &config.Config{Interfaces: []config.Interface{{
		Name: "wg0", ListenPort: 51820, OpenFirewall: true,
		Peers: []config.Peer{{Description: "laptop", PublicKey: laptop, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.9.0.2/32")}}},
	}}}
	cfg.Daemon.PublicEndpoint = "home.example.net"
	return &Facts{
		Now: now, ConfigDir: "/etc/config", Config: cfg,
		LAN: []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")},
		Status: &api.Status{Interfaces: []api.InterfaceStatus{{Name: "wg0", Up: true, ListenPort: 51820,
			Peers: []api.PeerStatus{{Description: "laptop", PublicKey: laptop, LatestHandshake: now.Add(-time.Minute).Unix(), Endpoint: "203.0.113.7:4000"}}}}},
		WAN:      wan("198.51.100.1/24", 1500),
		UDPPorts: map[uint16]bool{51820: true},
		Firewall: map[Probe]firewall.Admission{
			{Port: 51820}: {Admitted: true}, {Port: 51820, IPv6: true}: {Admitted: true},
		},
		PublicAddrs: []netip.Addr{netip.MustParseAddr("198.51.100.1")},
	}
}

// severities is the worst severity per check.
func severities(fs []Finding) map[string]Severity {
	rank := map[Severity]int{OK: 0, Info: 1, Warn: 2, Fail: 3}
	out := map[string]Severity{}
	for _, f := range fs {
		if s, ok := out[f.Check]; !ok || rank[f.Severity] > rank[s] {
			out[f.Check] = f.Severity
		}
	}
	return out
}

func TestCheck(t *testing.T) {
	base := healthy(t)
	if fs := Check(base, ""); Failed(fs) || NewReport(fs).Warnings > 0 {
		t.Fatalf("a healthy router: %+v", fs)
	}
	for _, c := range []struct {
		name   string
		break_ func(f *Facts)
		check  string
		want   Severity
		words  string
	}{
		{"daemon down", func(f *Facts) { f.Status, f.StatusErr = nil, errors.New("connection refused") }, "daemon", Fail, "connection refused"},
		{"clock unset", func(f *Facts) { f.Now = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }, "clock", Fail, "not been set"},
		{"config problem", func(f *Facts) {
			f.Problems = []*config.Problem{{File: "/etc/config/network", Line: 7, Section: "wg0", Option: "mtu", Msg: "not a number"}}
		}, "config", Fail, "network:7"},
		{"no interface", func(f *Facts) { f.Config = &config.Config{} }, "config", Fail, "no interface"},
		{"CGNAT", func(f *Facts) { f.WAN = wan("100.64.3.4/10", 1500) }, "wan", Fail, "carrier-grade"},
		{"behind a router", func(f *Facts) { f.WAN = wan("192.168.0.20/24", 1500) }, "wan", Warn, "private"},
		{"no default route", func(f *Facts) { f.WAN.Defaults = nil }, "wan", Fail, "no default route"},
		{"DDNS elsewhere", func(f *Facts) { f.PublicAddrs = []netip.Addr{netip.MustParseAddr("203.0.113.99")} }, "public_endpoint", Fail, "203.0.113.99"},
		{"DDNS unresolved", func(f *Facts) { f.PublicErr = errors.New("no such host") }, "public_endpoint", Fail, "does not resolve"},
		{"interface down", func(f *Facts) { f.Status.Interfaces[0].Up, f.Status.Interfaces[0].Error = false, "address in use" }, "interface", Fail, "address in use"},
		{"wrong port", func(f *Facts) { f.Status.Interfaces[0].ListenPort = 40000 }, "listen_port", Fail, "40000"},
		{"no socket", func(f *Facts) { f.UDPPorts = map[uint16]bool{} }, "listen_port", Fail, "no socket"},
		{"client only", func(f *Facts) { f.Config.Interfaces[0].ListenPort = 0 }, "listen_port", Info, "no fixed listen_port"},
		{"port dropped", func(f *Facts) {
			f.Firewall[Probe{Port: 51820}] = firewall.Admission{Chain: "inet fw4 input"}
		}, "firewall", Fail, "inet fw4 input"},
		{"kept closed on purpose", func(f *Facts) {
			f.Config.Interfaces[0].OpenFirewall = false
			f.Firewall[Probe{Port: 51820}] = firewall.Admission{Chain: "inet fw4 input"}
		}, "firewall", Warn, "open_firewall"},
		{"small IPv4 WAN", func(f *Facts) { f.Config.Interfaces[0].MTU = 1420; f.WAN = wan("198.51.100.1/24", 1460) }, "mtu", Warn, "1400"},
		{"PPPoE, dual stack", func(f *Facts) {
			f.Config.Interfaces[0].MTU = 1420
			f.WAN = wan("198.51.100.1/24", 1492)
			f.WAN.Defaults = append(f.WAN.Defaults, rtnl.Route{Dst: netip.MustParsePrefix("::/0"), OIF: 2})
		}, "mtu", Warn, "1412"},
		{"IPv6 outer path", func(f *Facts) { f.Config.Interfaces[0].MTU = 1420; f.WAN = wan("2001:db8::1/64", 1480) }, "mtu", Warn, "1400"},
		// The automatic MTU follows: the running link's is what counts.
		{"auto on PPPoE", func(f *Facts) {
			f.WAN = wan("198.51.100.1/24", 1492)
			f.WAN.Defaults = append(f.WAN.Defaults, rtnl.Route{Dst: netip.MustParsePrefix("::/0"), OIF: 2})
			f.Status.Interfaces[0].MTU = 1412
		}, "mtu", OK, "1412 (auto"},
		{"auto not yet followed", func(f *Facts) {
			f.WAN = wan("198.51.100.1/24", 1460)
			f.Status.Interfaces[0].MTU = 1420
		}, "mtu", Warn, "1420 (auto"},
		{"auto below its floor", func(f *Facts) { f.WAN = wan("198.51.100.1/24", 1300) }, "mtu", Warn, "1280"},
		{"never handshaken", func(f *Facts) { f.Status.Interfaces[0].Peers[0].LatestHandshake = 0 }, "handshake", Warn, "never"},
		{"gone", func(f *Facts) { f.Status.Interfaces[0].Peers[0].LatestHandshake = now.Add(-time.Hour).Unix() }, "handshake", Info, "not connected"},
		{"LAN overlap", func(f *Facts) {
			f.Config.Interfaces[0].Peers[0].AllowedIPs = append(f.Config.Interfaces[0].Peers[0].AllowedIPs, netip.MustParsePrefix("192.168.1.0/25"))
		}, "allowed_ips", Fail, "192.168.1.0/24"},
		{"peer overlap", func(f *Facts) {
			c := &f.Config.Interfaces[0]
			c.Peers = append(c.Peers, config.Peer{Description: "phone", PublicKey: key(t), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/30")}})
		}, "allowed_ips", Fail, "phone"},
	} {
		f := healthy(t)
		c.break_(f)
		fs := Check(f, "")
		if got := severities(fs)[c.check]; got != c.want {
			t.Errorf("%s: %s is %q, want %q: %+v", c.name, c.check, got, c.want, fs)
			continue
		}
		found := false
		for _, x := range fs {
			if x.Check == c.check && x.Severity == c.want && strings.Contains(x.Message+" "+x.Fix, c.words) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no %s finding mentions %q: %+v", c.name, c.check, c.words, fs)
		}
		if (c.want == Fail) != Failed(fs) {
			t.Errorf("%s: Failed = %v", c.name, Failed(fs))
		}
	}
}

// A full tunnel's 0.0.0.0/0 overlaps everything by design: not a finding.
func TestFullTunnelIsNoOverlap(t *testing.T) {
	f := healthy(t)
	f.Config.Interfaces[0].Peers[0].AllowedIPs = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	if s := severities(Check(f, ""))["allowed_ips"]; s != "" {
		t.Errorf("allowed_ips: %s", s)
	}
}

func TestReportText(t *testing.T) {
	f := healthy(t)
	f.Firewall[Probe{Port: 51820}] = firewall.Admission{Chain: "inet fw4 input"}
	var b strings.Builder
	if err := NewReport(Check(f, "wg0")).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"FAIL  firewall wg0", "-> let wgd open it", "1 problem(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "-> start it") {
		t.Errorf("fix shown for a check that passed:\n%s", out)
	}
}
