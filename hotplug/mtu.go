package hotplug

import "wgd/internal/rtnl"

// WireGuard's encapsulation costs an outer IP header, UDP (8 bytes) and
// its own transport header and tag (32 bytes).
const (
	Overhead4 = 20 + 8 + 32
	Overhead6 = 40 + 8 + 32
)

// WANLink is what the tunnel MTU depends on of one WAN device.
type WANLink struct {
	Name string
	MTU  int
	IPv6 bool // it holds an IPv6 default route: peers may come over IPv6
}

// WANLinks are the WAN devices of s whose MTU the kernel reports.
func WANLinks(s *rtnl.Snapshot, cfg WANConfig) []WANLink {
	if s == nil {
		return nil
	}
	_, v6 := defaultDevices(s)
	var out []WANLink
	for _, d := range wan(s, cfg) {
		if d.mtu > 0 {
			out = append(out, WANLink{Name: d.name, MTU: d.mtu, IPv6: v6[d.name]})
		}
	}
	return out
}

// TunnelMTU is the largest inner packet that crosses every WAN link in
// one piece: each link's MTU less the overhead of the outer family it
// may carry. False when no WAN link is known.
func TunnelMTU(links []WANLink) (int, bool) {
	best := 0
	for _, l := range links {
		m := l.MTU - Overhead4
		if l.IPv6 {
			m = l.MTU - Overhead6
		}
		if best == 0 || m < best {
			best = m
		}
	}
	return best, best > 0
}
