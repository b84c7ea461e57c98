package metrics

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// DefaultListen is where metrics are served unless configured otherwise.
const DefaultListen = "127.0.0.1:9586"

// Listen opens addr ("IP:port") for the metrics server, refusing any
// address the WAN could reach. The rule:
//
//   - The host must be an IP literal: no names, no wildcard (0.0.0.0, ::),
//     no multicast, no link-local.
//   - A loopback address is accepted: the kernel drops packets to 127/8 and
//     ::1 that arrive from outside.
//   - Any other address must be private (RFC 1918, or an IPv6 ULA fc00::/7)
//     and assigned to a link that carries no default route, IPv4 or IPv6,
//     in any routing table: that link leads to the LAN, not the WAN. The
//     socket is then bound to that link (SO_BINDTODEVICE), so a packet for
//     the LAN address that arrives on the WAN link (Linux accepts those by
//     default) finds no listener.
//
// The check holds when Listen runs; a link that gains a default route
// later keeps the listener until it is opened again.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	ap, dev, err := checkAddr(addr)
	if err != nil {
		return nil, err
	}
	lc := net.ListenConfig{}
	if dev != "" {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, dev)
			}); err != nil {
				return err
			}
			if serr != nil {
				return fmt.Errorf("bind to %s: %w", dev, serr)
			}
			return nil
		}
	}
	l, err := lc.Listen(ctx, "tcp", ap.String())
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return l, nil
}

// CheckAddr tells whether Listen would accept addr now, and why not.
func CheckAddr(addr string) error {
	_, _, err := checkAddr(addr)
	return err
}

// checkAddr applies Listen's rule and returns the link to bind to ("" for
// loopback).
func checkAddr(addr string) (netip.AddrPort, string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, "", fmt.Errorf("metrics address %q: want IP:port, e.g. %s", addr, DefaultListen)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return netip.AddrPort{}, "", fmt.Errorf("metrics address %q: the host must be an IP address (a LAN or loopback address), not a name", addr)
	}
	ip = ip.Unmap()
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return netip.AddrPort{}, "", fmt.Errorf("metrics address %q: bad port %q", addr, port)
	}
	ap := netip.AddrPortFrom(ip, uint16(p))
	switch {
	case ip.IsUnspecified():
		return ap, "", fmt.Errorf("metrics address %q: listening on all addresses would include the WAN; name a LAN or loopback address", addr)
	case ip.IsLoopback():
		return ap, "", nil
	case ip.IsMulticast() || ip.IsLinkLocalUnicast():
		return ap, "", fmt.Errorf("metrics address %q: not a unicast LAN or loopback address", addr)
	case !ip.IsPrivate():
		return ap, "", fmt.Errorf("metrics address %q: a public address may be reachable from the WAN; use a private LAN address (RFC 1918 or fc00::/7) or loopback", addr)
	}
	link, err := linkOf(ip)
	if err != nil {
		return ap, "", fmt.Errorf("metrics address %q: %w", addr, err)
	}
	wan, err := defaultRouteLinks()
	if err != nil {
		return ap, "", fmt.Errorf("metrics address %q: reading routes: %w", addr, err)
	}
	if wan[link.Index] {
		return ap, "", fmt.Errorf("metrics address %q: %s carries a default route, so it leads to the WAN; use a LAN address or loopback", addr, link.Name)
	}
	return ap, link.Name, nil
}

// linkOf finds the link ip is assigned to.
func linkOf(ip netip.Addr) (*net.Interface, error) {
	links, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for k := range links {
		addrs, err := links[k].Addrs()
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if x, ok := netip.AddrFromSlice(n.IP); ok && x.Unmap() == ip {
					return &links[k], nil
				}
			}
		}
	}
	return nil, fmt.Errorf("%s is not an address of this host", ip)
}

// defaultRouteLinks returns the index of every link that a default route
// (IPv4 or IPv6, any table, any nexthop of a multipath route) leaves by.
func defaultRouteLinks() (map[int]bool, error) {
	links := map[int]bool{}
	for _, family := range []int{syscall.AF_INET, syscall.AF_INET6} {
		rib, err := syscall.NetlinkRIB(syscall.RTM_GETROUTE, family)
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(rib)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Header.Type != syscall.RTM_NEWROUTE || len(m.Data) < syscall.SizeofRtMsg {
				continue
			}
			// struct rtmsg: family, dst_len, src_len, tos, table, protocol,
			// scope, type (one byte each), flags.
			dstLen, typ := m.Data[1], m.Data[7]
			if dstLen != 0 || typ != syscall.RTN_UNICAST {
				continue // not a default route, or one that goes nowhere (unreachable, blackhole)
			}
			attrs, err := syscall.ParseNetlinkRouteAttr(&m)
			if err != nil {
				return nil, err
			}
			for _, a := range attrs {
				switch a.Attr.Type {
				case syscall.RTA_OIF:
					if len(a.Value) >= 4 {
						links[int(binary.NativeEndian.Uint32(a.Value))] = true
					}
				case syscall.RTA_MULTIPATH:
					if err := nexthopLinks(a.Value, links); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	return links, nil
}

// nexthopLinks reads the links of RTA_MULTIPATH's struct rtnexthop list:
// len (2 bytes), flags, hops, ifindex (4 bytes), then attributes.
func nexthopLinks(b []byte, links map[int]bool) error {
	for len(b) >= 8 {
		n := int(binary.NativeEndian.Uint16(b))
		if n < 8 || n > len(b) {
			return errors.New("malformed multipath route")
		}
		links[int(int32(binary.NativeEndian.Uint32(b[4:])))] = true
		step := (n + 3) &^ 3 // entries are 4-byte aligned
		if step >= len(b) {
			break
		}
		b = b[step:]
	}
	return nil
}
