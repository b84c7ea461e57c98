package router

import (
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"wgd/internal/netnstest"
	"wgd/internal/rtnl"
)

// The codec and the link, address and route operations are tested in
// internal/rtnl; these tests cover what device adds: choosing an
// endpoint's path outside the tunnel and pinning it with a host route.

// hrVeth makes a veth pair with name up and an address on it, removed
// when the test ends, and returns name's index.
func hrVeth(t *testing.T, name string, addrs ...string) int {
	t.Helper()
	ipRun(t, "link", "add", name, "type", "veth", "peer", "name", name+"p")
	t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
	ipRun(t, "link", "set", name+"p", "up")
	ipRun(t, "link", "set", name, "up")
	for _, a := range addrs {
		ipRun(t, "addr", "add", a, "dev", name, "nodad")
	}
	r, err := rtnl.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	link, err := r.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return link.Index
}

func TestPathToAndHostRoutes(t *testing.T) {
	netnstest.Root(t)
	a := hrVeth(t, "hra0", "192.0.2.1/24", "2001:db8:a::1/64")
	b := hrVeth(t, "hrb0", "203.0.113.1/24")
	ipRun(t, "route", "add", "default", "via", "192.0.2.254", "dev", "hra0")
	t.Cleanup(func() { exec.Command("ip", "route", "del", "default").Run() })
	ipRun(t, "route", "add", "198.51.100.0/24", "via", "192.0.2.254", "metric", "100")
	ipRun(t, "route", "add", "198.51.100.0/24", "via", "203.0.113.254", "metric", "50")
	ipRun(t, "-6", "route", "add", "default", "via", "fe80::1", "dev", "hra0")
	t.Cleanup(func() { exec.Command("ip", "-6", "route", "del", "default").Run() })

	r, err := rtnl.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	ep := netip.MustParseAddr("198.51.100.9")
	viaA := hostRoute{dst: ep, gateway: netip.MustParseAddr("192.0.2.254"), oif: a}
	viaB := hostRoute{dst: ep, gateway: netip.MustParseAddr("203.0.113.254"), oif: b}
	for _, c := range []struct {
		name    string
		dst     string
		exclude int
		own     []hostRoute
		want    hostRoute
	}{
		{"lowest metric", "198.51.100.9", 0, nil, viaB},
		{"excluded link", "198.51.100.9", b, nil, viaA},
		{"on-link beats default", "192.0.2.77", 0, nil, hostRoute{dst: netip.MustParseAddr("192.0.2.77"), oif: a}},
		{"default", "100.64.0.5", 0, nil, hostRoute{dst: netip.MustParseAddr("100.64.0.5"), gateway: netip.MustParseAddr("192.0.2.254"), oif: a}},
		{"ipv6 default", "2001:db8:5::9", 0, nil, hostRoute{dst: netip.MustParseAddr("2001:db8:5::9"), gateway: netip.MustParseAddr("fe80::1"), oif: a}},
	} {
		got, err := pathTo(r, netip.MustParseAddr(c.dst), c.exclude, c.own)
		if err != nil || got != c.want {
			t.Errorf("%s: pathTo(%s) = %+v, %v; want %+v", c.name, c.dst, got, err, c.want)
		}
	}
	if _, err := pathTo(r, ep, a, []hostRoute{}); err != nil {
		t.Errorf("path with the default's link excluded: %v", err)
	}

	// A pinned host route is the longest match: pathTo must see through
	// its own pins, and only those.
	for range 2 {
		if err := addHostRoute(r, viaA); err != nil {
			t.Fatal(err)
		}
	}
	if got := ipRun(t, "route", "show", "198.51.100.9/32"); !strings.Contains(got, "via 192.0.2.254 dev hra0 proto static") {
		t.Errorf("host route: %q", got)
	}
	if got, err := pathTo(r, ep, 0, nil); err != nil || got != viaA {
		t.Errorf("pathTo with a foreign /32 = %+v, %v; want %+v", got, err, viaA)
	}
	if got, err := pathTo(r, ep, 0, []hostRoute{viaA}); err != nil || got != viaB {
		t.Errorf("pathTo through its own pin = %+v, %v; want %+v", got, err, viaB)
	}
	onLink := hostRoute{dst: netip.MustParseAddr("203.0.113.9"), oif: b}
	if err := addHostRoute(r, onLink); err != nil {
		t.Fatal(err)
	}
	if got := ipRun(t, "route", "show", "203.0.113.9/32"); !strings.Contains(got, "dev hrb0 proto static scope link") {
		t.Errorf("on-link host route: %q", got)
	}
	for _, h := range []hostRoute{viaA, viaA, onLink, {dst: ep, oif: 999999}} {
		if err := delHostRoute(r, h); err != nil {
			t.Errorf("delHostRoute(%+v): %v", h, err)
		}
	}
	if got := ipRun(t, "route", "show", "table", "main"); strings.Contains(got, "198.51.100.9") || strings.Contains(got, "203.0.113.9") {
		t.Errorf("host routes left:\n%s", got)
	}

	err = addHostRoute(r, hostRoute{dst: ep, oif: 999999})
	if !errors.Is(err, unix.ENODEV) || !strings.HasPrefix(err.Error(), "add host route to endpoint 198.51.100.9: ") {
		t.Errorf("host route through a missing link: %v", err)
	}
	ipRun(t, "route", "del", "default")
	if _, err := pathTo(r, netip.MustParseAddr("100.64.0.5"), 0, nil); err == nil || err.Error() != "route to 100.64.0.5: none outside the tunnel" {
		t.Errorf("no route: %v", err)
	}
}
