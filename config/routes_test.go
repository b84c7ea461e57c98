package config

import (
	"net/netip"
	"slices"
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
