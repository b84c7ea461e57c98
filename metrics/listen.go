package metrics

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"syscall"

	"wgd/hotplug"
	"wgd/internal/rtnl"
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
//     in any routing table, and is no WAN link of wan as the WAN monitor
//     maps it (hotplug.WANLinks: `list wan_interface`, netifd names
//     standing for their devices): that link leads to the LAN, not the
//     WAN. A default route is refused even when wan_interface names other
//     links, as the monitor would not. The socket is then bound to that
//     link (SO_BINDTODEVICE), so a packet for the LAN address that arrives
//     on the WAN link (Linux accepts those by default) finds no listener.
//
// The check holds when Listen runs; a link that gains a default route
// later keeps the listener until it is opened again.
func Listen(ctx context.Context, addr string, wan hotplug.WANConfig) (net.Listener, error) {
	ap, dev, err := checkAddr(addr, wan, rtnl.ReadSnapshot)
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
func CheckAddr(addr string, wan hotplug.WANConfig) error {
	_, _, err := checkAddr(addr, wan, rtnl.ReadSnapshot)
	return err
}

// checkAddr applies Listen's rule to the host's state as snapshot reads
// it (only for a private address) and returns the link to bind to (""
// for loopback).
func checkAddr(addr string, wan hotplug.WANConfig, snapshot func() (*rtnl.Snapshot, error)) (netip.AddrPort, string, error) {
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
	s, err := snapshot()
	if err != nil {
		return ap, "", fmt.Errorf("metrics address %q: reading the links: %w", addr, err)
	}
	link, ok := linkOf(s, ip)
	if !ok {
		return ap, "", fmt.Errorf("metrics address %q: %s is not an address of this host", addr, ip)
	}
	for _, r := range s.Defaults {
		if slices.Contains(r.Links(), link.Index) {
			return ap, "", fmt.Errorf("metrics address %q: %s carries a default route, so it leads to the WAN; use a LAN address or loopback", addr, link.Name)
		}
	}
	if slices.ContainsFunc(hotplug.WANLinks(s, wan), func(l hotplug.WANLink) bool { return l.Name == link.Name }) {
		return ap, "", fmt.Errorf("metrics address %q: %s is a WAN interface (option wan_interface); use a LAN address or loopback", addr, link.Name)
	}
	return ap, link.Name, nil
}

// linkOf finds the link ip is assigned to.
func linkOf(s *rtnl.Snapshot, ip netip.Addr) (rtnl.Link, bool) {
	for _, a := range s.Addrs {
		if a.Prefix.Addr() == ip {
			l, ok := s.Links[a.Index]
			return l, ok
		}
	}
	return rtnl.Link{}, false
}
