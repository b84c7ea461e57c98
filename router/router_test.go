package router

import (
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"wgd/internal/rtnl"
)

func TestInside(t *testing.T) {
	eps := []netip.Addr{netip.MustParseAddr("::ffff:198.51.100.9"), netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("198.51.100.9"), netip.MustParseAddr("2001:db8::1")}
	got := inside(eps, prefixes("0.0.0.0/1", "128.0.0.0/1"))
	want := []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("198.51.100.9")}
	if !slices.Equal(got, want) {
		t.Errorf("inside = %v, want %v (unmapped, once each, sorted, IPv4 only)", got, want)
	}
	c := Config{Endpoints: eps, Routes: prefixes("0.0.0.0/1", "128.0.0.0/1")}
	if got := c.Pinned(); !slices.Equal(got, want) {
		t.Errorf("Pinned = %v, want %v", got, want)
	}
	if c.NoHostRoute = true; c.Pinned() != nil {
		t.Errorf("Pinned with NoHostRoute = %v", c.Pinned())
	}
}

// A route netifd gets has a metric above every main-table route of the
// same network through another link, and none when there is none.
func TestMetrics(t *testing.T) {
	const tunnel, wan, lan = 7, 2, 3
	table := []rtnl.Route{
		{Dst: netip.MustParsePrefix("192.0.2.0/24"), OIF: wan, Table: unix.RT_TABLE_MAIN, Priority: 0},
		{Dst: netip.MustParsePrefix("198.51.100.0/24"), OIF: wan, Table: unix.RT_TABLE_MAIN, Priority: 7},
		{Dst: netip.MustParsePrefix("198.51.100.0/24"), OIF: lan, Table: unix.RT_TABLE_MAIN, Priority: 3},
		{Dst: netip.MustParsePrefix("203.0.113.0/24"), OIF: tunnel, Table: unix.RT_TABLE_MAIN, Priority: 50}, // its own
		{Dst: netip.MustParsePrefix("10.0.0.0/8"), OIF: wan, Table: 100, Priority: 9},                        // another table
	}
	got := metrics(tunnel, prefixes("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "10.0.0.0/8"), table)
	want := []Route{
		{Dst: netip.MustParsePrefix("192.0.2.0/24"), Metric: 1},
		{Dst: netip.MustParsePrefix("198.51.100.0/24"), Metric: 8},
		{Dst: netip.MustParsePrefix("203.0.113.0/24")},
		{Dst: netip.MustParsePrefix("10.0.0.0/8")},
	}
	if !slices.Equal(got, want) {
		t.Errorf("metrics = %+v, want %+v", got, want)
	}
}
