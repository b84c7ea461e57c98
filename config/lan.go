package config

import (
	"math/bits"
	"net/netip"
	"strings"

	"wgd/uci"
)

// LANInterface is the network section of the router's LAN: the networks
// a split tunnel reaches.
const LANInterface = "lan"

// LAN is what the network file says of the router's LAN.
type LAN struct {
	Networks []netip.Prefix
	Router   netip.Addr // the router's first IPv4 LAN address
}

// ReadLAN reads the networks of the LAN interface as OpenWrt writes them:
// ipaddr with a netmask or a prefix length, ip6addr, and, when the LAN
// delegates IPv6 (ip6assign), the ULA prefix of the globals section.
// What does not parse is left out.
func ReadLAN(network *uci.Package) LAN {
	var l LAN
	if network == nil {
		return l
	}
	var s *uci.Section
	for _, i := range network.SectionsOfType("interface") {
		if i.Name == LANInterface {
			s = i
		}
	}
	if s == nil {
		return l
	}
	first := func(s *uci.Section, name string) string {
		if o := s.Get(name); o != nil && len(o.Values) > 0 {
			return o.Values[0]
		}
		return ""
	}
	maskBits := -1 // ipaddr without netmask or length: a host
	if m, err := netip.ParseAddr(first(s, "netmask")); err == nil && m.Is4() {
		b := m.As4()
		maskBits = 0
		for _, c := range b { // the leading ones of each byte
			maskBits += bits.LeadingZeros8(^c)
		}
	}
	add := func(field string, hostBits int) {
		p, err := netip.ParsePrefix(field)
		if !strings.Contains(field, "/") {
			a, aerr := netip.ParseAddr(field)
			if hostBits < 0 {
				hostBits = a.BitLen()
			}
			p, err = netip.PrefixFrom(a, hostBits), aerr
		}
		if err != nil || !p.IsValid() {
			return
		}
		if !l.Router.IsValid() && p.Addr().Is4() {
			l.Router = p.Addr()
		}
		l.Networks = append(l.Networks, p.Masked())
	}
	for _, name := range []string{"ipaddr", "ip6addr"} {
		o := s.Get(name)
		if o == nil {
			continue
		}
		for _, v := range o.Values {
			for _, f := range strings.Fields(v) {
				if name == "ipaddr" {
					add(f, maskBits)
				} else {
					add(f, -1)
				}
			}
		}
	}
	if first(s, "ip6assign") != "" {
		for _, g := range network.SectionsOfType("globals") {
			if p, err := netip.ParsePrefix(first(g, "ula_prefix")); err == nil {
				l.Networks = append(l.Networks, p.Masked())
			}
		}
	}
	return l
}
