package lab

import "fmt"

// Fw4Ruleset mimics what firewall4 renders: table inet fw4, input policy
// drop, the WAN device jumping to a zone chain that rejects, ICMPv6 for
// neighbour discovery. Two more tables drop input too (ip and ip6
// families), as another program's tables would: a port is open only if
// every one of them admits it. No counters: the text must compare equal.
func Fw4Ruleset(wanDev string) string {
	return fmt.Sprintf(`table inet fw4 {
	chain input {
		type filter hook input priority filter; policy drop;
		iifname "lo" accept comment "!fw4: Accept traffic from loopback"
		ct state established,related accept comment "!fw4: Allow inbound established and related flows"
		iifname "%[1]s" jump input_wan comment "!fw4: Handle wan IPv4/IPv6 input traffic"
		jump handle_reject
	}
	chain handle_reject {
		meta l4proto tcp reject with tcp reset
		reject
	}
	chain input_wan {
		meta nfproto ipv4 udp dport 68 accept comment "!fw4: Allow-DHCP-Renew"
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, echo-request } accept comment "!fw4: Allow-ICMPv6-Input"
		jump reject_from_wan
	}
	chain reject_from_wan {
		iifname "%[1]s" jump handle_reject comment "!fw4: reject wan IPv4/IPv6 traffic"
	}
}
table ip guard {
	chain input {
		type filter hook input priority filter + 10; policy drop;
		iifname "lo" accept
		ct state established,related accept
	}
}
table ip6 guard6 {
	chain input {
		type filter hook input priority filter - 10; policy drop;
		iifname "lo" accept
		ct state established,related accept
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
	}
}
`, wanDev)
}
