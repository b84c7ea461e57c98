package hotplug

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"wgd/internal/netnstest"
	"wgd/internal/rtnl"
)

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// veth makes a pair of links named name and name+"p", both up; the
// namespace is private to the test binary, so everything vanishes with it.
func veth(t *testing.T, name string) {
	t.Helper()
	ip(t, "link", "add", name, "type", "veth", "peer", "name", name+"p")
	ip(t, "link", "set", name, "up")
	ip(t, "link", "set", name+"p", "up")
	t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
}

type recorder struct {
	ch chan Event
}

func startNetlink(t *testing.T, cfg WANConfig) *recorder {
	t.Helper()
	r := &recorder{ch: make(chan Event, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	var mu sync.Mutex
	n := &Monitor{Log: slog.New(slog.DiscardHandler), Events: true, Config: func() WANConfig { mu.Lock(); defer mu.Unlock(); return cfg }}
	go func() {
		defer wg.Done()
		if err := n.Run(ctx, func(ev Event) { r.ch <- ev }); err != nil {
			t.Errorf("netlink: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	time.Sleep(200 * time.Millisecond) // the first snapshot
	return r
}

func (r *recorder) expect(t *testing.T, action Action, detail ...string) Event {
	t.Helper()
	select {
	case ev := <-r.ch:
		if ev.Action != action || ev.Source != SourceNetlink || !ev.WAN {
			t.Fatalf("got %s, want a netlink WAN %s", ev, action)
		}
		for _, d := range detail {
			if !strings.Contains(ev.Detail, d) {
				t.Errorf("event %s lacks %q", ev, d)
			}
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s event", action)
	}
	return Event{}
}

func (r *recorder) none(t *testing.T, why string) {
	t.Helper()
	select {
	case ev := <-r.ch:
		t.Fatalf("%s: unexpected event %s", why, ev)
	case <-time.After(500 * time.Millisecond):
	}
}

func TestNetlinkFollowsTheDefaultRoute(t *testing.T) {
	netnstest.Root(t)
	veth(t, "wan0")
	veth(t, "lan0")
	ip(t, "addr", "add", "192.0.2.2/24", "dev", "wan0")
	ip(t, "route", "add", "default", "via", "192.0.2.1")
	ip(t, "addr", "add", "192.168.9.1/24", "dev", "lan0")
	r := startNetlink(t, WANConfig{Own: []string{"wg0"}})

	// Renumbered: the new address, then the old one goes (promoted to
	// primary, the new one keeps the routes).
	if err := os.WriteFile("/proc/sys/net/ipv4/conf/wan0/promote_secondaries", []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	ip(t, "addr", "add", "192.0.2.3/24", "dev", "wan0")
	r.expect(t, Update, "wan0", "+address 192.0.2.3/24")
	ip(t, "addr", "del", "192.0.2.2/24", "dev", "wan0")
	ev := r.expect(t, Update, "-address 192.0.2.2/24")
	if ev.Device != "wan0" {
		t.Errorf("device %q", ev.Device)
	}
	drain(r)

	// The LAN changes: nothing.
	ip(t, "addr", "add", "192.168.9.2/24", "dev", "lan0")
	r.none(t, "address on the LAN")

	// The default route goes: the WAN is down; it returns: up.
	ip(t, "route", "del", "default")
	r.expect(t, Down, "no longer the WAN")
	ip(t, "route", "add", "default", "via", "192.0.2.1")
	r.expect(t, Up, "now the WAN")

	// IPv6 on the WAN: a global address (no duplicate detection here) and
	// a default route.
	ip(t, "-6", "addr", "add", "2001:db8::2/64", "dev", "wan0", "nodad")
	r.expect(t, Update, "+address 2001:db8::2/64")
	ip(t, "-6", "route", "add", "default", "via", "2001:db8::1", "dev", "wan0")
	r.expect(t, Update, "+gateway 2001:db8::1")
	if v4, v6 := Families(snapshot(t)); !v4 || !v6 {
		t.Errorf("families %v %v, want both", v4, v6)
	}

	// The link loses its carrier: down.
	ip(t, "link", "set", "wan0p", "down")
	r.expect(t, Down, "not running")
	ip(t, "link", "set", "wan0p", "up")
	r.expect(t, Up, "running")
}

func snapshot(t *testing.T) *rtnl.Snapshot {
	t.Helper()
	s, err := rtnl.ReadSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func drain(r *recorder) {
	for {
		select {
		case <-r.ch:
		case <-time.After(300 * time.Millisecond):
			return
		}
	}
}

func TestNetlinkConfiguredWAN(t *testing.T) {
	netnstest.Root(t)
	veth(t, "upl0")
	veth(t, "dfl0")
	ip(t, "addr", "add", "192.0.2.2/24", "dev", "dfl0")
	ip(t, "route", "add", "default", "via", "192.0.2.1")
	r := startNetlink(t, WANConfig{Names: []string{"upl0"}})

	// The default route's link is not the configured WAN: ignored.
	ip(t, "addr", "add", "192.0.2.3/24", "dev", "dfl0")
	r.none(t, "address on a link that is not the configured WAN")
	ip(t, "addr", "add", "198.51.100.2/24", "dev", "upl0")
	r.expect(t, Up, "upl0", "+address 198.51.100.2/24")
}

func TestNetlinkStormIsOneEventPerChange(t *testing.T) {
	netnstest.Root(t)
	veth(t, "wan1")
	ip(t, "addr", "add", "192.0.2.2/24", "dev", "wan1")
	ip(t, "route", "add", "default", "via", "192.0.2.1")
	r := startNetlink(t, WANConfig{})
	// Lifetime refreshes of an address that stays: no event.
	for i := 0; i < 5; i++ {
		ip(t, "addr", "change", "192.0.2.2/24", "dev", "wan1", "valid_lft", "3600", "preferred_lft", "3600")
	}
	r.none(t, "lifetime refreshes")
}

func TestIsWAN(t *testing.T) {
	netnstest.Root(t)
	veth(t, "wan2")
	veth(t, "lan2")
	ip(t, "addr", "add", "192.0.2.2/24", "dev", "wan2")
	ip(t, "route", "add", "default", "via", "192.0.2.1")
	for _, c := range []struct {
		ev   Event
		cfg  WANConfig
		want bool
	}{
		{Event{Interface: "wan", Device: "wan2"}, WANConfig{}, true},
		{Event{Interface: "lan", Device: "lan2"}, WANConfig{}, false},
		{Event{Interface: "wan"}, WANConfig{}, true}, // ifdown: no device, the usual name
		{Event{Interface: "isp", Device: "lan2"}, WANConfig{Names: []string{"isp"}}, true},
		{Event{Interface: "wan", Device: "wan2"}, WANConfig{Names: []string{"isp"}}, false},
		{Event{Device: "wan2"}, WANConfig{Names: []string{"isp"}, Devices: map[string][]string{"isp": {"wan2"}}}, true},
		{Event{Interface: "vpn", Device: "wan2"}, WANConfig{Own: []string{"vpn"}}, false},
		{Event{WAN: true}, WANConfig{}, true},
	} {
		if got := IsWAN(snapshot(t), c.ev, c.cfg); got != c.want {
			t.Errorf("IsWAN(%+v, %+v) = %v", c.ev, c.cfg, got)
		}
	}
}

// The WAN view of a snapshot: the devices of default routes (each link of
// a multipath one), never wgd's own, with their reachable addresses and
// gateways.
func TestWANView(t *testing.T) {
	s := &rtnl.Snapshot{
		Links: map[int]rtnl.Link{
			2: {Index: 2, Name: "wan0", Flags: unix.IFF_UP | unix.IFF_LOWER_UP},
			3: {Index: 3, Name: "wan1", Flags: unix.IFF_UP},
			4: {Index: 4, Name: "lan0", Flags: unix.IFF_UP | unix.IFF_LOWER_UP},
			5: {Index: 5, Name: "wg0", Flags: unix.IFF_UP | unix.IFF_LOWER_UP},
		},
		Addrs: []rtnl.Addr{
			{Index: 2, Prefix: netip.MustParsePrefix("192.0.2.2/24")},
			{Index: 2, Prefix: netip.MustParsePrefix("2001:db8::2/64"), Flags: unix.IFA_F_TENTATIVE},
			{Index: 2, Prefix: netip.MustParsePrefix("fe80::2/64"), Scope: unix.RT_SCOPE_LINK},
			{Index: 3, Prefix: netip.MustParsePrefix("198.51.100.2/24")},
			{Index: 4, Prefix: netip.MustParsePrefix("192.168.1.1/24")},
		},
		Defaults: []rtnl.Route{
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.0.2.1"), Nexthops: []int{2, 3}},
			{Dst: netip.MustParsePrefix("::/0"), OIF: 5},
		},
	}
	v4, v6 := defaultDevices(s)
	if !v4["wan0"] || !v4["wan1"] || len(v4) != 2 || !v6["wg0"] || len(v6) != 1 {
		t.Errorf("default devices %v %v", v4, v6)
	}
	view := wan(s, WANConfig{Own: []string{"wg0"}})
	want := wanView{
		{name: "wan0", index: 2, running: true, addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.2/24")}, gateways: []netip.Addr{netip.MustParseAddr("192.0.2.1")}},
		{name: "wan1", index: 3, addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.2/24")}, gateways: []netip.Addr{netip.MustParseAddr("192.0.2.1")}},
	}
	if !view.equal(want) {
		t.Errorf("view %+v, want %+v", view, want)
	}
	if view := wan(s, WANConfig{Names: []string{"lan0"}}); len(view) != 1 || view[0].name != "lan0" || !view.usable() {
		t.Errorf("configured WAN: %+v", view)
	}
}

// Which notifications make the monitor look again.
func TestConcerns(t *testing.T) {
	view := wanView{{name: "wan0", index: 2}}
	cfg := WANConfig{Names: []string{"upl0"}}
	addr := func(index int, p string) []byte {
		return rtnl.Addr{Index: index, Prefix: netip.MustParsePrefix(p)}.Append(nil)
	}
	for _, c := range []struct {
		name string
		typ  uint16
		data []byte
		want bool
	}{
		{"default route", unix.RTM_NEWROUTE, rtnl.Route{Dst: netip.MustParsePrefix("::/0"), OIF: 9}.Append(nil), true},
		{"default route gone", unix.RTM_DELROUTE, rtnl.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), OIF: 9}.Append(nil), true},
		{"other route", unix.RTM_NEWROUTE, rtnl.Route{Dst: netip.MustParsePrefix("10.0.0.0/8"), OIF: 2}.Append(nil), false},
		{"WAN link", unix.RTM_NEWLINK, rtnl.Link{Index: 2, Name: "wan0"}.Append(nil), true},
		{"configured link appears", unix.RTM_NEWLINK, rtnl.Link{Index: 9, Name: "upl0"}.Append(nil), true},
		{"other link", unix.RTM_DELLINK, rtnl.Link{Index: 9, Name: "lan0"}.Append(nil), false},
		{"WAN address", unix.RTM_NEWADDR, addr(2, "192.0.2.3/24"), true},
		{"WAN address gone", unix.RTM_DELADDR, addr(2, "2001:db8::3/64"), true},
		{"other address", unix.RTM_NEWADDR, addr(9, "192.0.2.3/24"), false},
		{"short route", unix.RTM_NEWROUTE, make([]byte, 11), false},
		{"short link", unix.RTM_NEWLINK, make([]byte, 15), false},
		{"short address", unix.RTM_NEWADDR, []byte{unix.AF_INET, 24, 0, 0, 2, 0, 0}, false},
		{"other message", unix.RTM_NEWNEIGH, make([]byte, 64), false},
	} {
		if got := concerns(rtnl.Message{Type: c.typ, Data: c.data}, view, cfg); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
	if !slices.Equal(view.indexes(), []int{2}) {
		t.Errorf("indexes %v", view.indexes())
	}
}

// The monitor keeps one snapshot that follows the kernel: asking it
// (every endpoint lookup asks for the families) reads no tables, and a
// new default route shows in it without anyone asking.
func TestMonitorKeepsTheSnapshot(t *testing.T) {
	netnstest.Root(t)
	veth(t, "wan3")
	ip(t, "addr", "add", "192.0.2.2/24", "dev", "wan3")
	ip(t, "route", "add", "default", "via", "192.0.2.1")
	m := &Monitor{Log: slog.New(slog.DiscardHandler), Config: func() WANConfig { return WANConfig{} }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx, func(ev Event) { t.Errorf("event %s with Events off", ev) }) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(300 * time.Millisecond) // Run's first snapshot

	first := m.Snapshot()
	if v4, v6 := m.Families(); !v4 || v6 {
		t.Fatalf("families %v %v, want IPv4 only", v4, v6)
	}
	if m.Snapshot() != first {
		t.Error("the snapshot was read again without a change")
	}
	ip(t, "-6", "addr", "add", "2001:db8::2/64", "dev", "wan3", "nodad")
	ip(t, "-6", "route", "add", "default", "via", "2001:db8::1", "dev", "wan3")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if v4, v6 := m.Families(); v4 && v6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the IPv6 default route never reached the snapshot")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The router's WAN address: the primary address of the best default
// route's link, IPv4 before IPv6.
func TestAddress(t *testing.T) {
	links := map[int]rtnl.Link{2: {Index: 2, Name: "wan0"}, 3: {Index: 3, Name: "lte0"}, 4: {Index: 4, Name: "lan0"}}
	v4 := func(oif int, metric uint32) rtnl.Route {
		return rtnl.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), OIF: oif, Priority: metric}
	}
	v6 := rtnl.Route{Dst: netip.MustParsePrefix("::/0"), OIF: 2}
	addr := func(index int, p string, flags uint32) rtnl.Addr {
		return rtnl.Addr{Index: index, Prefix: netip.MustParsePrefix(p), Flags: flags}
	}
	addrs := []rtnl.Addr{
		addr(4, "192.168.1.1/24", 0),
		addr(2, "fe80::1/64", 0),
		addr(2, "2001:db8::9/64", unix.IFA_F_TENTATIVE),
		addr(2, "2001:db8::2/64", 0),
		addr(3, "100.64.0.9/10", unix.IFA_F_SECONDARY),
		addr(3, "100.64.0.2/10", 0),
		addr(2, "198.51.100.2/24", 0),
	}
	addrs[1].Scope = unix.RT_SCOPE_LINK
	named := WANConfig{Names: []string{"wan"}, Devices: map[string][]string{"wan": {"wan0"}}}
	for _, c := range []struct {
		name     string
		defaults []rtnl.Route
		cfg      WANConfig
		want     string
	}{
		{"lowest metric wins", []rtnl.Route{v4(2, 100), v4(3, 10), v6}, WANConfig{}, "100.64.0.2"},
		{"IPv4 before IPv6", []rtnl.Route{v6, v4(2, 0)}, WANConfig{}, "198.51.100.2"},
		{"IPv6 only", []rtnl.Route{v6}, WANConfig{}, "2001:db8::2"},
		{"no default route", nil, WANConfig{}, ""},
		// wan_interface 'wan' (netifd's name for wan0): the backup
		// uplink's better metric does not make it the WAN.
		{"named WAN", []rtnl.Route{v4(2, 100), v4(3, 10), v6}, named, "198.51.100.2"},
		{"named WAN, only IPv6 on it", []rtnl.Route{v4(3, 10), v6}, named, "2001:db8::2"},
		{"own tunnel", []rtnl.Route{v4(3, 10), v4(2, 100)}, WANConfig{Own: []string{"lte0"}}, "198.51.100.2"},
	} {
		a, ok := Address(&rtnl.Snapshot{Links: links, Addrs: addrs, Defaults: c.defaults}, c.cfg)
		if got := map[bool]string{true: a.String(), false: ""}[ok]; got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
