package hotplug

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"wgd/config"
	"wgd/internal/rtnl"
)

// WANConfig says which links are the WAN.
type WANConfig struct {
	// Names are the configured WAN interfaces (`list wan_interface`):
	// netifd interface names (hotplug.d events carry them) or Linux
	// devices (netlink and D-Bus know only those). Empty: whichever
	// device holds a default route, IPv4 or IPv6.
	Names []string
	// Devices are the Linux devices of the netifd interfaces among Names
	// (config.Daemon.WANDevices), so a netifd name matches its links.
	Devices map[string][]string
	// Own are wgd's tunnels, which are never the WAN even when a
	// default route leads through them.
	Own []string
}

// ConfigWAN is the WAN as cfg names it, cfg's interfaces being wgd's
// tunnels.
func ConfigWAN(cfg *config.Config) WANConfig {
	c := WANConfig{Names: cfg.Daemon.WANInterfaces, Devices: cfg.Daemon.WANDevices}
	for _, i := range cfg.Interfaces {
		c.Own = append(c.Own, i.Name)
	}
	return c
}

// IsWAN reports whether ev concerns the WAN, as the snapshot s shows it
// (a Monitor's latest, or nil when the kernel could not be read). Events
// whose source already knows (netlink, NetworkManager) say so
// themselves; a hotplug.d event's device is checked against the default
// routes.
func IsWAN(s *rtnl.Snapshot, ev Event, cfg WANConfig) bool {
	if ev.WAN {
		return true
	}
	if slices.Contains(cfg.Own, ev.Interface) || slices.Contains(cfg.Own, ev.Device) {
		return false
	}
	if len(cfg.Names) > 0 {
		return (ev.Interface != "" && slices.Contains(cfg.Names, ev.Interface)) ||
			(ev.Device != "" && cfg.named(ev.Device))
	}
	if ev.Device != "" && s != nil {
		v4, v6 := defaultDevices(s)
		if v4[ev.Device] || v6[ev.Device] {
			return true
		}
	}
	// A link going down has already lost its routes: fall back on the
	// names OpenWrt gives its uplinks.
	return ev.Interface == "wan" || ev.Interface == "wan6"
}

// named tells whether the Linux device link is named as the WAN: by
// itself or as a device of a named netifd interface.
func (cfg WANConfig) named(link string) bool {
	if slices.Contains(cfg.Names, link) {
		return true
	}
	for _, n := range cfg.Names {
		if slices.Contains(cfg.Devices[n], link) {
			return true
		}
	}
	return false
}

// Families reports which address families have a default route in s, so
// endpoint names are resolved to addresses the WAN can reach. With no
// default route at all, or no snapshot, both are reported: nothing is
// known.
func Families(s *rtnl.Snapshot) (v4, v6 bool) {
	if s == nil {
		return true, true
	}
	for _, r := range s.Defaults {
		if r.Dst.Addr().Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	if !v4 && !v6 {
		return true, true
	}
	return v4, v6
}

// defaultDevices names the devices holding a default route, per family.
func defaultDevices(s *rtnl.Snapshot) (v4, v6 map[string]bool) {
	v4, v6 = map[string]bool{}, map[string]bool{}
	for _, r := range s.Defaults {
		for _, oif := range r.Links() {
			l, ok := s.Links[oif]
			if !ok {
				continue
			}
			if r.Dst.Addr().Is4() {
				v4[l.Name] = true
			} else {
				v6[l.Name] = true
			}
		}
	}
	return v4, v6
}

// wanDevice is what matters of one WAN device: a change in any of it may
// strand the tunnels' sockets and NAT mappings.
type wanDevice struct {
	name     string
	index    int
	running  bool
	mtu      int
	addrs    []netip.Prefix
	gateways []netip.Addr
}

// wanView is the WAN as a snapshot shows it.
type wanView []wanDevice

func wan(s *rtnl.Snapshot, cfg WANConfig) wanView {
	v4, v6 := defaultDevices(s)
	var view wanView
	for _, l := range s.Links {
		if slices.Contains(cfg.Own, l.Name) {
			continue
		}
		if len(cfg.Names) > 0 {
			if !cfg.named(l.Name) {
				continue
			}
		} else if !v4[l.Name] && !v6[l.Name] {
			continue
		}
		d := wanDevice{name: l.Name, index: l.Index, running: l.Running(), mtu: int(l.MTU)}
		for _, a := range s.Addrs {
			if a.Index == l.Index && reachable(a) {
				d.addrs = append(d.addrs, a.Prefix)
			}
		}
		for _, r := range s.Defaults {
			if slices.Contains(r.Links(), l.Index) && r.Gateway.IsValid() && !slices.Contains(d.gateways, r.Gateway) {
				d.gateways = append(d.gateways, r.Gateway)
			}
		}
		slices.SortFunc(d.addrs, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
		slices.SortFunc(d.gateways, netip.Addr.Compare)
		view = append(view, d)
	}
	slices.SortFunc(view, func(a, b wanDevice) int { return strings.Compare(a.name, b.name) })
	return view
}

// reachable: an address other hosts can reach, not one still checked for
// duplicates or found duplicate.
func reachable(a rtnl.Addr) bool {
	return a.Scope == unix.RT_SCOPE_UNIVERSE && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0
}

func (v wanView) indexes() []int {
	var out []int
	for _, d := range v {
		out = append(out, d.index)
	}
	return out
}

// usable: some WAN device is running and has an address others can reach.
func (v wanView) usable() bool {
	for _, d := range v {
		if d.running && len(d.addrs) > 0 {
			return true
		}
	}
	return false
}

func (v wanView) equal(w wanView) bool {
	return slices.EqualFunc(v, w, func(a, b wanDevice) bool {
		return a.name == b.name && a.index == b.index && a.running == b.running && a.mtu == b.mtu &&
			slices.Equal(a.addrs, b.addrs) && slices.Equal(a.gateways, b.gateways)
	})
}

func (v wanView) device(name string) (wanDevice, bool) {
	for _, d := range v {
		if d.name == name {
			return d, true
		}
	}
	return wanDevice{}, false
}

// change turns the step from old to new into an event.
func change(old, new wanView) Event {
	ev := Event{Source: SourceNetlink, WAN: true}
	switch {
	case !old.usable() && new.usable():
		ev.Action = Up
	case old.usable() && !new.usable():
		ev.Action = Down
	case new.usable():
		ev.Action = Update
	default:
		ev.Action = Other
	}
	var parts, devices []string
	seen := map[string]bool{}
	for _, v := range []wanView{old, new} {
		for _, d := range v {
			if !seen[d.name] {
				seen[d.name] = true
				devices = append(devices, d.name)
			}
		}
	}
	slices.Sort(devices)
	for _, name := range devices {
		o, inOld := old.device(name)
		n, inNew := new.device(name)
		var p []string
		switch {
		case !inOld:
			p = append(p, "now the WAN")
		case !inNew:
			p = append(p, "no longer the WAN")
		}
		if inOld && inNew && o.running != n.running {
			p = append(p, map[bool]string{true: "running", false: "not running"}[n.running])
		}
		if inOld && inNew && o.mtu != n.mtu {
			p = append(p, fmt.Sprintf("mtu %d -> %d", o.mtu, n.mtu))
		}
		p = append(p, delta("address", o.addrs, n.addrs)...)
		p = append(p, delta("gateway", o.gateways, n.gateways)...)
		if len(p) > 0 {
			parts = append(parts, name+": "+strings.Join(p, ", "))
		}
	}
	if len(devices) == 1 {
		ev.Device = devices[0]
	}
	ev.Detail = strings.Join(parts, "; ")
	if len(ev.Detail) > 200 {
		ev.Detail = ev.Detail[:197] + "..."
	}
	return ev
}

func delta[T comparable](what string, old, new []T) []string {
	var out []string
	for _, x := range new {
		if !slices.Contains(old, x) {
			out = append(out, fmt.Sprintf("+%s %v", what, x))
		}
	}
	for _, x := range old {
		if !slices.Contains(new, x) {
			out = append(out, fmt.Sprintf("-%s %v", what, x))
		}
	}
	return out
}

// Address is the router's own address on the WAN as s shows it: the
// primary address of the link of the best default route leaving by a WAN
// link (cfg), IPv4 first, which is what the internet sees unless
// something on the way translates it.
func Address(s *rtnl.Snapshot, cfg WANConfig) (netip.Addr, bool) {
	wanLinks := wan(s, cfg).indexes()
	for _, v4 := range []bool{true, false} {
		var best *rtnl.Route
		for i, r := range s.Defaults {
			onWAN := slices.ContainsFunc(r.Links(), func(i int) bool { return slices.Contains(wanLinks, i) })
			if onWAN && r.Dst.Addr().Is4() == v4 && (best == nil || r.Priority < best.Priority) {
				best = &s.Defaults[i]
			}
		}
		if best == nil {
			continue
		}
		for _, index := range best.Links() {
			if !slices.Contains(wanLinks, index) {
				continue
			}
			for _, a := range s.Addrs {
				if a.Index == index && a.Prefix.Addr().Is4() == v4 && reachable(a) &&
					a.Flags&(unix.IFA_F_SECONDARY|unix.IFA_F_DEPRECATED) == 0 {
					return a.Prefix.Addr(), true
				}
			}
		}
	}
	return netip.Addr{}, false
}
