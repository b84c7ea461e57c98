package device

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"
)

// A peer's endpoint inside the networks routed into the tunnel (a full
// tunnel, 0.0.0.0/0) would be routed into the tunnel itself. Standalone
// mode pins it to the path it had: a host route via the gateway and link
// the main table chose before, as netifd's host dependency does.

// hostRoute is a route to one endpoint address outside the tunnel.
type hostRoute struct {
	dst     netip.Addr
	gateway netip.Addr // invalid: on-link
	oif     int
}

// pathTo finds the main-table route that dst takes when the link exclude
// and the host routes own are ignored: the longest matching unicast
// prefix, then the lowest metric.
func (r *rtnl) pathTo(dst netip.Addr, exclude int, own []hostRoute) (hostRoute, error) {
	fam, _ := addrFamily(dst)
	msgs, err := r.dump(unix.RTM_GETROUTE, rtMsg{family: fam}.append(nil))
	if err != nil {
		return hostRoute{}, fmt.Errorf("route to %s: %w", dst, err)
	}
	var best routeInfo
	found := false
	for _, m := range msgs {
		if m.typ != unix.RTM_NEWROUTE {
			continue
		}
		rt, err := parseRouteMsg(m.data)
		if err != nil {
			return hostRoute{}, fmt.Errorf("route to %s: %w", dst, err)
		}
		if rt.table != unix.RT_TABLE_MAIN || rt.typ != unix.RTN_UNICAST || rt.oif == 0 || rt.oif == exclude ||
			rt.flags&unix.RTM_F_CLONED != 0 || !rt.dst.Contains(dst) {
			continue
		}
		if rt.dst.IsSingleIP() && slices.Contains(own, hostRoute{dst: rt.dst.Addr(), gateway: rt.gateway, oif: rt.oif}) {
			continue
		}
		if !found || rt.dst.Bits() > best.dst.Bits() || rt.dst.Bits() == best.dst.Bits() && rt.priority < best.priority {
			best, found = rt, true
		}
	}
	if !found {
		return hostRoute{}, fmt.Errorf("route to %s: none outside the tunnel", dst)
	}
	return hostRoute{dst: dst, gateway: best.gateway, oif: best.oif}, nil
}

func hostRouteRequest(h hostRoute, scope, typ uint8) []byte {
	b := routeRequest(h.oif, netip.PrefixFrom(h.dst, h.dst.BitLen()), scope, typ)
	if h.gateway.IsValid() {
		_, gw := addrFamily(h.gateway)
		b = appendAttr(b, unix.RTA_GATEWAY, gw)
	}
	return b
}

func (r *rtnl) addHostRoute(h hostRoute) error {
	scope := uint8(unix.RT_SCOPE_LINK)
	if h.gateway.IsValid() {
		scope = unix.RT_SCOPE_UNIVERSE
	}
	_, err := r.request(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, hostRouteRequest(h, scope, unix.RTN_UNICAST))
	if err != nil {
		return fmt.Errorf("add host route to endpoint %s: %w", h.dst, err)
	}
	return nil
}

func (r *rtnl) delHostRoute(h hostRoute) error {
	_, err := r.request(unix.RTM_DELROUTE, 0, hostRouteRequest(h, unix.RT_SCOPE_NOWHERE, 0))
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete host route to endpoint %s: %w", h.dst, err)
	}
	return nil
}

// syncHostRoutes pins the endpoints of the applied configuration that lie
// inside its routed networks, unless nohostroute; a WAN change may move
// their path, so it is computed anew each time.
func (i *Interface) syncHostRoutes() error {
	var want []hostRoute
	var errs []error
	c := i.applied.Config
	if !c.NoHostRoute {
		routed := c.Routes()
		var dsts []netip.Addr
		for _, ap := range i.applied.Endpoints {
			a := ap.Addr().Unmap()
			if !slices.Contains(dsts, a) && slices.ContainsFunc(routed, func(p netip.Prefix) bool { return p.Contains(a) }) {
				dsts = append(dsts, a)
			}
		}
		slices.SortFunc(dsts, netip.Addr.Compare)
		for _, a := range dsts {
			h, err := i.rtnl.pathTo(a, i.index, i.hostRoutes)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			want = append(want, h)
		}
	}
	return errors.Join(append(errs, i.setHostRoutes(want))...)
}

// setHostRoutes makes the installed host routes exactly want.
func (i *Interface) setHostRoutes(want []hostRoute) error {
	var errs []error
	for _, h := range i.hostRoutes {
		if !slices.Contains(want, h) {
			errs = append(errs, i.rtnl.delHostRoute(h))
		}
	}
	for _, h := range want {
		if !slices.Contains(i.hostRoutes, h) {
			errs = append(errs, i.rtnl.addHostRoute(h))
		}
	}
	i.hostRoutes = want
	return errors.Join(errs...)
}
