package hotplug

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"wgd/internal/rtnl"
)

func TestTunnelMTU(t *testing.T) {
	for _, c := range []struct {
		name  string
		links []WANLink
		want  int
		ok    bool
	}{
		{"no WAN", nil, 0, false},
		{"ethernet, IPv4 only", []WANLink{{MTU: 1500}}, 1440, true},
		{"ethernet with IPv6", []WANLink{{MTU: 1500, IPv6: true}}, 1420, true},
		{"PPPoE with IPv6", []WANLink{{MTU: 1492, IPv6: true}}, 1412, true},
		{"PPPoE, IPv4 only", []WANLink{{MTU: 1492}}, 1432, true},
		// DS-Lite: IPv4 through a 1460 tunnel, IPv6 native on 1500.
		{"DS-Lite", []WANLink{{Name: "ds-wan", MTU: 1460}, {Name: "eth1", MTU: 1500, IPv6: true}}, 1400, true},
		{"the smallest path wins", []WANLink{{MTU: 1500, IPv6: true}, {MTU: 1400}}, 1340, true},
	} {
		got, ok := TunnelMTU(c.links)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: TunnelMTU = %d, %v; want %d, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestWANLinks(t *testing.T) {
	up := uint32(unix.IFF_UP | unix.IFF_LOWER_UP)
	s := &rtnl.Snapshot{
		Links: map[int]rtnl.Link{
			2: {Index: 2, Name: "pppoe-wan", Flags: up, MTU: 1492},
			3: {Index: 3, Name: "eth1", Flags: up, MTU: 1500},
			4: {Index: 4, Name: "br-lan", Flags: up, MTU: 9000},
			5: {Index: 5, Name: "wg0", Flags: up, MTU: 1420},
		},
		Defaults: []rtnl.Route{
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), OIF: 2},
			{Dst: netip.MustParsePrefix("::/0"), OIF: 2},
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), OIF: 5}, // a full tunnel of our own
		},
	}
	got := WANLinks(s, WANConfig{Own: []string{"wg0"}})
	if len(got) != 1 || got[0] != (WANLink{Name: "pppoe-wan", MTU: 1492, IPv6: true}) {
		t.Fatalf("WANLinks = %+v, want pppoe-wan 1492 with IPv6", got)
	}
	if m, _ := TunnelMTU(got); m != 1412 {
		t.Errorf("TunnelMTU = %d, want 1412", m)
	}
	// Configured WAN devices are taken as they are; IPv6 only where a
	// default route of that family leads.
	got = WANLinks(s, WANConfig{Names: []string{"eth1", "pppoe-wan"}})
	if len(got) != 2 || got[0] != (WANLink{Name: "eth1", MTU: 1500}) || got[1].Name != "pppoe-wan" {
		t.Errorf("WANLinks with names = %+v", got)
	}
	// A netifd interface name stands for its devices.
	got = WANLinks(s, WANConfig{Names: []string{"wan"}, Devices: map[string][]string{"wan": {"eth1", "pppoe-wan"}}})
	if len(got) != 2 || got[0].Name != "eth1" || got[1].Name != "pppoe-wan" {
		t.Errorf("WANLinks with a netifd name = %+v", got)
	}
	if got := WANLinks(nil, WANConfig{}); got != nil {
		t.Errorf("WANLinks(nil) = %+v", got)
	}
}

// An MTU change alone is a change of the WAN.
func TestWANChangeMTU(t *testing.T) {
	old := wanView{{name: "eth1", index: 2, running: true, mtu: 1500, addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.2/24")}}}
	new := wanView{old[0]}
	new[0].mtu = 1492
	if old.equal(new) {
		t.Fatal("views differing in MTU are equal")
	}
	ev := change(old, new)
	if ev.Action != Update || ev.Detail != "eth1: mtu 1500 -> 1492" {
		t.Errorf("change = %+v", ev)
	}
}
