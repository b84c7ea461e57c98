package rtnl

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Route is what wgd reads of a route (RTM_NEWROUTE) and writes of one.
type Route struct {
	// Dst is the destination; a message without RTA_DST is a default
	// route. Invalid for families other than IPv4 and IPv6 and when the
	// length does not fit the address.
	Dst      netip.Prefix
	Gateway  netip.Addr // invalid: on-link
	OIF      int        // output link, 0 if none (multipath)
	Nexthops []int      // output links of a multipath route's next hops
	Table    uint32
	Priority uint32 // the metric
	Protocol uint8  // RTPROT_*
	Scope    uint8  // RT_SCOPE_*
	Type     uint8  // RTN_*
	Flags    uint32 // RTM_F_*
}

// Links are the route's output links: OIF and its next hops'.
func (r Route) Links() []int {
	var out []int
	if r.OIF != 0 {
		out = append(out, r.OIF)
	}
	return append(out, r.Nexthops...)
}

// rtnexthop is struct rtnexthop: length, flags, hops, ifindex.
const rtnexthopLen = 8

// Append encodes r as a route message body. r.Dst must be valid; a
// destination of length 0 at the unspecified address is left out, as the
// kernel expects of a default route.
func (r Route) Append(b []byte) []byte {
	fam, dst := addrFamily(r.Dst.Addr())
	h := RtMsg{Family: fam, DstLen: uint8(r.Dst.Bits()), Protocol: r.Protocol, Scope: r.Scope, Type: r.Type, Flags: r.Flags}
	if r.Table < 256 {
		h.Table = uint8(r.Table)
	}
	b = h.Append(b)
	if r.Dst.Bits() > 0 || !r.Dst.Addr().IsUnspecified() {
		b = AppendAttr(b, unix.RTA_DST, dst)
	}
	if r.Table >= 256 {
		b = AppendAttrU32(b, unix.RTA_TABLE, r.Table)
	}
	if r.Priority != 0 {
		b = AppendAttrU32(b, unix.RTA_PRIORITY, r.Priority)
	}
	if r.Gateway.IsValid() {
		_, gw := addrFamily(r.Gateway)
		b = AppendAttr(b, unix.RTA_GATEWAY, gw)
	}
	if r.OIF != 0 {
		b = AppendAttrU32(b, unix.RTA_OIF, uint32(r.OIF))
	}
	if len(r.Nexthops) > 0 {
		var nh []byte
		for _, index := range r.Nexthops {
			nh = ne.AppendUint16(nh, rtnexthopLen)
			nh = append(nh, 0, 0)
			nh = ne.AppendUint32(nh, uint32(index))
		}
		b = AppendAttr(b, unix.RTA_MULTIPATH, nh)
	}
	return b
}

// ParseRoute decodes an RTM_NEWROUTE or RTM_DELROUTE payload; as
// ParseLink, it fails only on a short header, and a malformed next hop
// ends the walk of a multipath route's next hops.
func ParseRoute(b []byte) (Route, error) {
	h, rest, err := ParseRtMsg(b)
	if err != nil {
		return Route{}, err
	}
	attrs, _ := ParseAttrs(rest)
	r := Route{Table: uint32(h.Table), Protocol: h.Protocol, Scope: h.Scope, Type: h.Type, Flags: h.Flags}
	var dst []byte
	for _, a := range attrs {
		switch a.Type {
		case unix.RTA_DST:
			dst = a.Data
		case unix.RTA_OIF:
			if v, ok := a.Uint32(); ok {
				r.OIF = int(int32(v))
			}
		case unix.RTA_PRIORITY:
			if v, ok := a.Uint32(); ok {
				r.Priority = v
			}
		case unix.RTA_GATEWAY:
			if gw, ok := addrFromFamily(h.Family, a.Data); ok {
				r.Gateway = gw
			}
		case unix.RTA_TABLE:
			if v, ok := a.Uint32(); ok {
				r.Table = v
			}
		case unix.RTA_MULTIPATH:
			for nh := a.Data; len(nh) >= rtnexthopLen; {
				l := int(ne.Uint16(nh[0:2]))
				if l < rtnexthopLen || l > len(nh) {
					break
				}
				r.Nexthops = append(r.Nexthops, int(int32(ne.Uint32(nh[4:8]))))
				nh = nh[min(align(l), len(nh)):]
			}
		}
	}
	if dst == nil {
		// No destination attribute means the default route.
		switch h.Family {
		case unix.AF_INET:
			dst = make([]byte, 4)
		case unix.AF_INET6:
			dst = make([]byte, 16)
		}
	}
	if a, ok := addrFromFamily(h.Family, dst); ok {
		if p := netip.PrefixFrom(a, int(h.DstLen)); p.IsValid() {
			r.Dst = p
		}
	}
	return r, nil
}

// staticRoute is the main-table route wgd installs to dst (masked)
// through a link.
func staticRoute(index int, dst netip.Prefix, scope, typ uint8) Route {
	return Route{Dst: dst, OIF: index, Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_STATIC, Scope: scope, Type: typ}
}

// AddRoute installs a static, link-scope route to dst (masked) through
// the link in the main table. A route that already exists is not an
// error.
//
// Note that for IPv4 an existing route to the same prefix with the same
// metric (such as the kernel's connected route of an address on the link)
// also counts as existing.
func (c *Conn) AddRoute(index int, dst netip.Prefix) error {
	if !dst.IsValid() {
		return fmt.Errorf("add route %s via ifindex %d: invalid prefix", dst, index)
	}
	dst = dst.Masked()
	if err := checkIndex(index); err != nil {
		return fmt.Errorf("add route %s via ifindex %d: %w", dst, index, err)
	}
	b := staticRoute(index, dst, unix.RT_SCOPE_LINK, unix.RTN_UNICAST).Append(nil)
	_, err := c.Request(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, b)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add route %s via ifindex %d: %w", dst, index, err)
	}
	return nil
}

// DelRoute removes the route AddRoute installs. Only static routes are
// matched, so the kernel's own connected routes are left alone. A missing
// route is not an error.
func (c *Conn) DelRoute(index int, dst netip.Prefix) error {
	if !dst.IsValid() {
		return fmt.Errorf("delete route %s via ifindex %d: invalid prefix", dst, index)
	}
	dst = dst.Masked()
	if err := checkIndex(index); err != nil {
		return fmt.Errorf("delete route %s via ifindex %d: %w", dst, index, err)
	}
	// Scope "nowhere" and type 0 are the kernel's wildcards for a delete.
	b := staticRoute(index, dst, unix.RT_SCOPE_NOWHERE, 0).Append(nil)
	_, err := c.Request(unix.RTM_DELROUTE, 0, b)
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete route %s via ifindex %d: %w", dst, index, err)
	}
	return nil
}

// Routes lists the routes of one family (AF_INET, AF_INET6) or, with
// AF_UNSPEC, of all, in every table, whoever installed them.
func (c *Conn) Routes(family uint8) ([]Route, error) {
	msgs, err := c.Dump(unix.RTM_GETROUTE, RtMsg{Family: family}.Append(nil))
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []Route
	for _, m := range msgs {
		if m.Type != unix.RTM_NEWROUTE {
			continue
		}
		r, err := ParseRoute(m.Data)
		if err != nil {
			return nil, fmt.Errorf("list routes: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}
