package config

import (
	"net/netip"
	"slices"
)

// Routes lists the networks routed into the interface: the allowed IPs of
// peers with route_allowed_ips, once each.
func (i *Interface) Routes() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range i.Peers {
		if !p.RouteAllowedIPs {
			continue
		}
		for _, a := range p.AllowedIPs {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// LinkRoutes are the routes installed through the link: Routes, with a
// default route split in two halves, which win over the WAN's default
// route by being longer instead of replacing it (netifd installs routes
// with NLM_F_REPLACE, so a 0.0.0.0/0 of the tunnel would take the WAN's
// place and take it away for good on ifdown).
func (i *Interface) LinkRoutes() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range i.Routes() {
		if p.Bits() != 0 {
			out = append(out, p)
			continue
		}
		high := netip.MustParsePrefix("128.0.0.0/1")
		if p.Addr().Is6() {
			high = netip.MustParsePrefix("8000::/1")
		}
		for _, h := range []netip.Prefix{netip.PrefixFrom(p.Addr(), 1), high} {
			if !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}
