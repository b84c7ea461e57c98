package config

import (
	"net/netip"
	"slices"
	"testing"

	"wgd/uci"
)

// The LAN's networks as OpenWrt writes them: an address with a netmask,
// one with a prefix length, IPv6 addresses, and the ULA prefix when the
// LAN delegates IPv6; what does not parse is left out.
func TestReadLAN(t *testing.T) {
	p, errs := uci.Parse("network", []byte(`config interface 'loopback'
	option ipaddr '127.0.0.1'
	option netmask '255.0.0.0'

config interface 'lan'
	option proto 'static'
	list ipaddr '192.168.1.1'
	list ipaddr '10.10.0.1/16 bogus'
	option netmask '255.255.255.0'
	option ip6addr 'fd00:1::1/64'
	option ip6assign '60'

config globals 'globals'
	option ula_prefix 'fd12:3456:789a::/48'
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	l := ReadLAN(p)
	want := []netip.Prefix{
		netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("10.10.0.0/16"),
		netip.MustParsePrefix("fd00:1::/64"), netip.MustParsePrefix("fd12:3456:789a::/48"),
	}
	if !slices.Equal(l.Networks, want) || l.Router != netip.MustParseAddr("192.168.1.1") {
		t.Errorf("ReadLAN: %v, router %v; want %v, router 192.168.1.1", l.Networks, l.Router, want)
	}
	if l := ReadLAN(nil); l.Networks != nil || l.Router.IsValid() {
		t.Errorf("no network file: %+v", l)
	}
}
