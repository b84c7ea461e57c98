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
