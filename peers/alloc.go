package peers

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Allocate picks one address in each subnet of an interface for a new
// peer: the lowest one that is neither the interface's own address, nor
// the subnet's first address (the IPv4 network, the IPv6 subnet-router
// anycast), nor its IPv4 broadcast, nor inside any prefix in used that is
// more specific than the subnet. A used prefix as wide as the subnet or
// wider (a peer routing 0.0.0.0/0) does not count: WireGuard picks the
// most specific allowed IP, so a host address inside it still works.
//
// ifaceAddrs are the interface's addresses with their prefix lengths; a
// host address (/32, /128) leaves no room and is skipped. The result has
// one host prefix (/32 or /128) per subnet, in the order of ifaceAddrs.
func Allocate(ifaceAddrs, used []netip.Prefix) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var hosts []netip.Prefix // the interface's own addresses
	for _, a := range ifaceAddrs {
		hosts = append(hosts, netip.PrefixFrom(a.Addr(), a.Addr().BitLen()))
	}
	seen := map[netip.Prefix]bool{}
	for _, a := range ifaceAddrs {
		subnet := a.Masked()
		if a.Bits() == a.Addr().BitLen() || seen[subnet] {
			continue
		}
		seen[subnet] = true
		addr, ok := free(subnet, append(hosts, used...))
		if !ok {
			return nil, fmt.Errorf("subnet %s is full: every address is taken by the interface or a peer", subnet)
		}
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
	}
	if len(out) == 0 {
		var list []string
		for _, a := range ifaceAddrs {
			list = append(list, a.String())
		}
		if len(list) == 0 {
			list = []string{"none"}
		}
		return nil, fmt.Errorf("no subnet to give addresses from (the interface's addresses: %s); "+
			"give it a prefix such as 10.0.0.1/24", strings.Join(list, ", "))
	}
	return out, nil
}

// span is an inclusive range of addresses.
type span struct{ lo, hi netip.Addr }

// free finds the lowest usable address of subnet outside used.
func free(subnet netip.Prefix, used []netip.Prefix) (netip.Addr, bool) {
	first, last := subnet.Addr(), lastAddr(subnet)
	if subnet.Addr().Is4() && subnet.Bits() == 31 {
		// RFC 3021: both addresses of a /31 are hosts.
	} else {
		first = first.Next()
		if subnet.Addr().Is4() {
			last = last.Prev() // broadcast
		}
	}
	var taken []span
	for _, u := range used {
		u = u.Masked()
		if u.Addr().BitLen() != subnet.Addr().BitLen() || u.Bits() <= subnet.Bits() || !subnet.Contains(u.Addr()) {
			continue
		}
		taken = append(taken, span{u.Addr(), lastAddr(u)})
	}
	slices.SortFunc(taken, func(a, b span) int { return a.lo.Compare(b.lo) })
	cand := first
	for _, t := range taken {
		if t.hi.Less(cand) {
			continue
		}
		if cand.Less(t.lo) {
			break
		}
		cand = t.hi.Next()
		if !cand.IsValid() { // ran past the end of the address space
			return netip.Addr{}, false
		}
	}
	if last.Less(cand) || !subnet.Contains(cand) {
		return netip.Addr{}, false
	}
	return cand, true
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
