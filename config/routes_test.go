package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestRoutes(t *testing.T) {
	p := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }
	i := Interface{Peers: []Peer{
		{AllowedIPs: []netip.Prefix{p("10.0.0.2/32"), p("192.168.9.0/24")}, RouteAllowedIPs: true},
		{AllowedIPs: []netip.Prefix{p("10.0.0.3/32")}},
		{AllowedIPs: []netip.Prefix{p("192.168.9.0/24"), p("fd00::/64")}, RouteAllowedIPs: true},
	}}
	want := []netip.Prefix{p("10.0.0.2/32"), p("192.168.9.0/24"), p("fd00::/64")}
	if got := i.Routes(); !slices.Equal(got, want) {
		t.Errorf("routes %v, want %v", got, want)
	}
}

// A full tunnel is routed as the two halves of the address space, each
// once, whatever else is routed.
func TestLinkRoutes(t *testing.T) {
	i := Interface{Peers: []Peer{
		{RouteAllowedIPs: true, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("10.0.0.0/24")}},
		{RouteAllowedIPs: true, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("::/0"), netip.MustParsePrefix("0.0.0.0/0")}},
		{AllowedIPs: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}},
	}}
	var got []string
	for _, p := range i.LinkRoutes() {
		got = append(got, p.String())
	}
	if want := "0.0.0.0/1 128.0.0.0/1 10.0.0.0/24 ::/1 8000::/1"; strings.Join(got, " ") != want {
		t.Errorf("link routes %v, want %s", got, want)
	}
}
