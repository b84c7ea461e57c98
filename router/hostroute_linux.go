package router

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"

	"wgd/internal/rtnl"
)

// A peer's endpoint inside the networks routed into the tunnel (a full
// tunnel, 0.0.0.0/0) would be routed into the tunnel itself. Standalone
// pins it to the path it had: a host route via the gateway and link the
// main table chose before, as netifd's host dependency does.

// hostRoute is a route to one endpoint address outside the tunnel.
type hostRoute struct {
	dst     netip.Addr
	gateway netip.Addr // invalid: on-link
	oif     int
}

// pathTo finds the main-table route that dst takes when the link exclude
// and the host routes own are ignored: the longest matching unicast
// prefix, then the lowest metric.
func pathTo(r *rtnl.Conn, dst netip.Addr, exclude int, own []hostRoute) (hostRoute, error) {
	family := uint8(unix.AF_INET6)
	if dst.Is4() {
		family = unix.AF_INET
	}
	routes, err := r.Routes(family)
	if err != nil {
		return hostRoute{}, fmt.Errorf("route to %s: %w", dst, err)
	}
	var best rtnl.Route
	found := false
	for _, rt := range routes {
		if rt.Table != unix.RT_TABLE_MAIN || rt.Type != unix.RTN_UNICAST || rt.OIF == 0 || rt.OIF == exclude ||
			rt.Flags&unix.RTM_F_CLONED != 0 || !rt.Dst.Contains(dst) {
			continue
		}
		if rt.Dst.IsSingleIP() && slices.Contains(own, hostRoute{dst: rt.Dst.Addr(), gateway: rt.Gateway, oif: rt.OIF}) {
			continue
		}
		if !found || rt.Dst.Bits() > best.Dst.Bits() || rt.Dst.Bits() == best.Dst.Bits() && rt.Priority < best.Priority {
			best, found = rt, true
		}
	}
	if !found {
		return hostRoute{}, fmt.Errorf("route to %s: none outside the tunnel", dst)
	}
	return hostRoute{dst: dst, gateway: best.Gateway, oif: best.OIF}, nil
}

// route is h as a static main-table route.
func (h hostRoute) route(scope, typ uint8) rtnl.Route {
	return rtnl.Route{Dst: netip.PrefixFrom(h.dst, h.dst.BitLen()), Gateway: h.gateway, OIF: h.oif,
		Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_STATIC, Scope: scope, Type: typ}
}

func addHostRoute(r *rtnl.Conn, h hostRoute) error {
	scope := uint8(unix.RT_SCOPE_LINK)
	if h.gateway.IsValid() {
		scope = unix.RT_SCOPE_UNIVERSE
	}
	_, err := r.Request(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, h.route(scope, unix.RTN_UNICAST).Append(nil))
	if err != nil {
		return fmt.Errorf("add host route to endpoint %s: %w", h.dst, err)
	}
	return nil
}

func delHostRoute(r *rtnl.Conn, h hostRoute) error {
	// Scope "nowhere" and type 0 are the kernel's wildcards for a delete.
	_, err := r.Request(unix.RTM_DELROUTE, 0, h.route(unix.RT_SCOPE_NOWHERE, 0).Append(nil))
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete host route to endpoint %s: %w", h.dst, err)
	}
	return nil
}
