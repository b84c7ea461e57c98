// Package doctor looks at a router running wgd from the inside and says
// in plain words what keeps devices from connecting, and what to do.
// Check is a pure function of Facts, which Gather reads from the system.
package doctor

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/device"
	"wgd/firewall"
	"wgd/hotplug"
	"wgd/internal/rtnl"
)

// Severity orders findings: a failure keeps devices out, a warning may.
type Severity string

const (
	OK   Severity = "ok"
	Info Severity = "info"
	Warn Severity = "warn"
	Fail Severity = "fail"
)

// Finding is one check's result. Fields may be added, never renamed.
type Finding struct {
	Check     string   `json:"check"`
	Interface string   `json:"interface,omitempty"`
	Peer      string   `json:"peer,omitempty"` // description, else public key
	Severity  Severity `json:"severity"`
	Message   string   `json:"message"`
	Fix       string   `json:"fix,omitempty"`
}

// Facts are what the checks look at.
type Facts struct {
	Now       time.Time
	ConfigDir string
	Config    *config.Config
	Problems  []*config.Problem
	LAN       []netip.Prefix // the router's LAN networks

	Status    *api.Status // nil: the daemon did not answer
	StatusErr error

	WAN *rtnl.Snapshot // nil: unreadable

	// UDPPorts are the UDP ports some socket of this host is bound to.
	UDPPorts map[uint16]bool
	// Firewall is the input chains' verdict on each listen port from the
	// WAN, per family; FirewallErr why it could not be read.
	Firewall    map[Probe]firewall.Admission
	FirewallErr error

	// PublicAddrs is what option public_endpoint resolves to.
	PublicAddrs []netip.Addr
	PublicErr   error
}

// Probe names one firewall question: a listen port and a family.
type Probe struct {
	Port uint16
	IPv6 bool
}

// A handshake renews every two minutes while traffic flows; older than
// this and the peer is most likely gone.
const staleHandshake = 3 * time.Minute

// clockFloor: a router whose clock says earlier has not set it (no RTC,
// no NTP yet); handshakes carry timestamps and peers refuse old ones.
var clockFloor = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Check runs every check, for one interface when only is not "".
func Check(f *Facts, only string) []Finding {
	var out []Finding
	out = append(out, checkDaemon(f)...)
	out = append(out, checkClock(f)...)
	out = append(out, checkConfig(f, only)...)
	wanAddr, wanFindings := checkWAN(f)
	out = append(out, wanFindings...)
	out = append(out, checkPublicEndpoint(f, wanAddr)...)
	if f.Config == nil {
		return out
	}
	for _, c := range f.Config.Interfaces {
		if only != "" && c.Name != only {
			continue
		}
		out = append(out, checkInterface(f, c)...)
	}
	return out
}

// Failed tells whether some finding is a failure.
func Failed(fs []Finding) bool {
	return slices.ContainsFunc(fs, func(x Finding) bool { return x.Severity == Fail })
}

func checkDaemon(f *Facts) []Finding {
	if f.Status != nil {
		return []Finding{{Check: "daemon", Severity: OK, Message: "wgd is running"}}
	}
	msg := "wgd is not running"
	if f.StatusErr != nil {
		msg += " (" + f.StatusErr.Error() + ")"
	}
	return []Finding{{Check: "daemon", Severity: Fail, Message: msg,
		Fix: "start it: /etc/init.d/wgd start on OpenWrt, else wgd run; its log says why it stopped (logread -e wgd)"}}
}

func checkClock(f *Facts) []Finding {
	if f.Now.Before(clockFloor) {
		return []Finding{{Check: "clock", Severity: Fail,
			Message: fmt.Sprintf("the clock says %s: it has not been set", f.Now.UTC().Format(time.DateTime)),
			Fix:     "let the router reach an NTP server (System > Time synchronization); peers refuse handshakes stamped before their last one"}}
	}
	return []Finding{{Check: "clock", Severity: OK, Message: "the clock is set (" + f.Now.UTC().Format(time.DateTime) + " UTC)"}}
}

func checkConfig(f *Facts, only string) []Finding {
	var out []Finding
	for _, p := range f.Problems {
		if only != "" && !mentions(p, only) {
			continue
		}
		sev := Fail
		if p.Warning {
			sev = Warn
		}
		out = append(out, Finding{Check: "config", Severity: sev, Message: p.Error(),
			Fix: "correct it, then wgd reload (or Save & Apply in LuCI)"})
	}
	if f.Config != nil && len(f.Config.Interfaces) == 0 {
		out = append(out, Finding{Check: "config", Severity: Fail,
			Message: "no interface with option proto 'wgd' in " + f.ConfigDir + "/network",
			Fix:     "add one (LuCI: Network > Interfaces > Add new interface > WireGuard (wgd))"})
	}
	return out
}

func mentions(p *config.Problem, iface string) bool {
	return p.Interface == iface
}

// checkWAN classifies the router's own WAN address.
func checkWAN(f *Facts) (netip.Addr, []Finding) {
	if f.WAN == nil {
		return netip.Addr{}, []Finding{{Check: "wan", Severity: Warn, Message: "the routes could not be read"}}
	}
	var wan hotplug.WANConfig // no configuration: the default routes
	if f.Config != nil {
		wan = hotplug.ConfigWAN(f.Config)
	}
	a, ok := hotplug.Address(f.WAN, wan)
	switch {
	case !ok:
		return a, []Finding{{Check: "wan", Severity: Fail, Message: "no default route: the router is not on the internet",
			Fix: "check the WAN connection (Network > Interfaces > wan)"}}
	case cgnat.Contains(a):
		return a, []Finding{{Check: "wan", Severity: Fail,
			Message: fmt.Sprintf("the WAN address %s is carrier-grade NAT (100.64.0.0/10): devices on the internet cannot reach the router over IPv4", a),
			Fix:     "ask the provider for a public IPv4 address, or reach the router over IPv6 (a public_endpoint name with an AAAA record)"}}
	case a.IsPrivate() || a.IsLinkLocalUnicast():
		return a, []Finding{{Check: "wan", Severity: Warn,
			Message: fmt.Sprintf("the WAN address %s is private: the router is behind another router", a),
			Fix:     "forward the listen port (UDP) on the upstream router to " + a.String() + ", and set option public_endpoint in the wgd config to the upstream router's public name or address"}}
	}
	return a, []Finding{{Check: "wan", Severity: OK, Message: fmt.Sprintf("the WAN address %s is public", a)}}
}

func checkPublicEndpoint(f *Facts, wan netip.Addr) []Finding {
	if f.Config == nil || f.Config.Daemon.PublicEndpoint == "" {
		return nil
	}
	name := f.Config.Daemon.PublicEndpoint
	host, _, err := config.ParseEndpoint(name)
	if err == nil {
		name = host
	}
	if f.PublicErr != nil {
		return []Finding{{Check: "public_endpoint", Severity: Fail,
			Message: fmt.Sprintf("public_endpoint %s does not resolve: %v", name, f.PublicErr),
			Fix:     "check the dynamic DNS service and the name in option public_endpoint"}}
	}
	var strs []string
	for _, a := range f.PublicAddrs {
		strs = append(strs, a.String())
	}
	switch {
	case !wan.IsValid():
		return nil
	case slices.Contains(f.PublicAddrs, wan):
		return []Finding{{Check: "public_endpoint", Severity: OK,
			Message: fmt.Sprintf("public_endpoint %s resolves to the WAN address %s", name, wan)}}
	case !wan.IsPrivate() && !cgnat.Contains(wan) && wan.Is4() == slices.ContainsFunc(f.PublicAddrs, netip.Addr.Is4):
		return []Finding{{Check: "public_endpoint", Severity: Fail,
			Message: fmt.Sprintf("public_endpoint %s resolves to %s, but the WAN address is %s", name, strings.Join(strs, ", "), wan),
			Fix:     "update the dynamic DNS record (or its client on the router), or correct option public_endpoint"}}
	}
	return []Finding{{Check: "public_endpoint", Severity: Info,
		Message: fmt.Sprintf("public_endpoint %s resolves to %s; the router's own WAN address %s cannot tell whether that reaches it", name, strings.Join(strs, ", "), wan)}}
}

func checkInterface(f *Facts, c config.Interface) []Finding {
	var out []Finding
	var st *api.InterfaceStatus
	if f.Status != nil {
		for i := range f.Status.Interfaces {
			if f.Status.Interfaces[i].Name == c.Name {
				st = &f.Status.Interfaces[i]
			}
		}
	}
	switch {
	case f.Status == nil:
	case st == nil || !st.Up:
		msg := c.Name + " is down"
		if st != nil && st.Error != "" {
			msg += ": " + st.Error
		}
		out = append(out, Finding{Check: "interface", Interface: c.Name, Severity: Fail, Message: msg,
			Fix: "bring it up (ifup " + c.Name + " on OpenWrt) and read the log (logread -e wgd)"})
	default:
		out = append(out, Finding{Check: "interface", Interface: c.Name, Severity: OK, Message: c.Name + " is up"})
	}
	out = append(out, checkPort(f, c, st)...)
	out = append(out, checkMTU(f, c, st)...)
	if st != nil {
		out = append(out, checkPeers(f, c, st)...)
	}
	out = append(out, checkAllowedIPs(f, c)...)
	return out
}

func checkPort(f *Facts, c config.Interface, st *api.InterfaceStatus) []Finding {
	if c.ListenPort == 0 {
		return []Finding{{Check: "listen_port", Interface: c.Name, Severity: Info,
			Message: c.Name + " has no fixed listen_port: it can only call out, devices cannot connect to it",
			Fix:     "set option listen_port (51820 is usual) if devices should connect to this router"}}
	}
	port := fmt.Sprint(c.ListenPort)
	var out []Finding
	switch {
	case st != nil && st.Up && st.ListenPort != c.ListenPort:
		out = append(out, Finding{Check: "listen_port", Interface: c.Name, Severity: Fail,
			Message: fmt.Sprintf("%s listens on %d, not on the configured %d", c.Name, st.ListenPort, c.ListenPort),
			Fix:     "another program holds the port: find it (netstat -lunp) or choose another listen_port"})
	case st != nil && st.Up && f.UDPPorts != nil && !f.UDPPorts[c.ListenPort]:
		out = append(out, Finding{Check: "listen_port", Interface: c.Name, Severity: Fail,
			Message: "no socket is bound to UDP port " + port})
	case st != nil && st.Up:
		out = append(out, Finding{Check: "listen_port", Interface: c.Name, Severity: OK, Message: "listening on UDP port " + port})
	}
	if f.FirewallErr != nil {
		return append(out, Finding{Check: "firewall", Interface: c.Name, Severity: Warn,
			Message: "the firewall could not be read: " + f.FirewallErr.Error()})
	}
	for _, v6 := range []bool{false, true} {
		a, ok := f.Firewall[Probe{Port: c.ListenPort, IPv6: v6}]
		if !ok {
			continue
		}
		family := map[bool]string{false: "IPv4", true: "IPv6"}[v6]
		switch {
		case a.Admitted && a.Unsure:
			out = append(out, Finding{Check: "firewall", Interface: c.Name, Severity: Info,
				Message: fmt.Sprintf("UDP port %s seems open to the WAN over %s (some rules could not be evaluated)", port, family)})
		case a.Admitted:
			out = append(out, Finding{Check: "firewall", Interface: c.Name, Severity: OK,
				Message: fmt.Sprintf("UDP port %s is open to the WAN over %s", port, family)})
		case !c.OpenFirewall:
			out = append(out, Finding{Check: "firewall", Interface: c.Name, Severity: Warn,
				Message: fmt.Sprintf("UDP port %s is closed to the WAN over %s (chain %s) and option open_firewall is '0'", port, family, a.Chain),
				Fix:     "remove option open_firewall '0' from " + c.Name + ", or open the port yourself"})
		default:
			out = append(out, Finding{Check: "firewall", Interface: c.Name, Severity: Fail,
				Message: fmt.Sprintf("UDP port %s is closed to the WAN over %s: chain %s drops it", port, family, a.Chain),
				Fix:     "let wgd open it (option firewall 'auto' in the wgd config, not 'none'), or add a rule accepting UDP " + port + " from the WAN"})
		}
	}
	return out
}

// checkMTU compares the tunnel's MTU (the running link's, else what it
// would be) with what the WAN links carry.
func checkMTU(f *Facts, c config.Interface, st *api.InterfaceStatus) []Finding {
	if f.WAN == nil {
		return nil
	}
	links := hotplug.WANLinks(f.WAN, hotplug.ConfigWAN(f.Config))
	fit, ok := hotplug.TunnelMTU(links)
	if !ok {
		return nil
	}
	wanMTU := links[0].MTU
	for _, l := range links {
		wanMTU = min(wanMTU, l.MTU)
	}
	auto := c.MTU == 0
	mtu := device.MTU(c, device.AutoMTU(fit))
	if st != nil && st.Up && st.MTU > 0 {
		mtu = st.MTU
	}
	how := ""
	if auto {
		how = " (auto: it follows the WAN)"
	}
	if mtu > fit {
		fix := fmt.Sprintf("set option mtu 'auto' on %s (or '%d'), and MTU = %d in the devices' configurations", c.Name, fit, fit)
		if auto {
			fix = fmt.Sprintf("the WAN carries less than %d bytes inside the tunnel, the floor of the automatic MTU: set option mtu '%d' on %s, and MTU = %d in the devices' configurations", device.MinMTU, fit, c.Name, fit)
		}
		return []Finding{{Check: "mtu", Interface: c.Name, Severity: Warn,
			Message: fmt.Sprintf("the tunnel's MTU %d%s does not fit the WAN's %d: large packets are fragmented or lost (pages that start loading, then hang)", mtu, how, wanMTU),
			Fix:     fix}}
	}
	return []Finding{{Check: "mtu", Interface: c.Name, Severity: OK, Message: fmt.Sprintf("the tunnel's MTU %d%s fits the WAN's %d", mtu, how, wanMTU)}}
}

func checkPeers(f *Facts, c config.Interface, st *api.InterfaceStatus) []Finding {
	var out []Finding
	for _, p := range st.Peers {
		name := p.Description
		if name == "" {
			name = p.PublicKey.String()
		}
		hs := time.Unix(p.LatestHandshake, 0)
		switch {
		case p.LatestHandshake == 0:
			out = append(out, Finding{Check: "handshake", Interface: c.Name, Peer: name, Severity: Warn,
				Message: name + " has never completed a handshake",
				Fix:     "make sure the device's configuration is current (wgd peer show NAME --qr if its key was kept) and that its endpoint is this router's public address and port"})
		case hs.After(f.Now.Add(time.Minute)):
			out = append(out, Finding{Check: "handshake", Interface: c.Name, Peer: name, Severity: Warn,
				Message: fmt.Sprintf("%s's last handshake is in the future (%s): the clock jumped", name, hs.UTC().Format(time.DateTime))})
		case f.Now.Sub(hs) > staleHandshake:
			out = append(out, Finding{Check: "handshake", Interface: c.Name, Peer: name, Severity: Info,
				Message: fmt.Sprintf("%s's last handshake was %s ago: it is not connected now", name, f.Now.Sub(hs).Round(time.Second))})
		default:
			msg := fmt.Sprintf("%s is connected (handshake %s ago", name, f.Now.Sub(hs).Round(time.Second))
			if p.Endpoint != "" {
				msg += ", from " + p.Endpoint
			}
			out = append(out, Finding{Check: "handshake", Interface: c.Name, Peer: name, Severity: OK, Message: msg + ")"})
		}
	}
	return out
}

// checkAllowedIPs finds peers whose allowed IPs take the LAN's or another
// peer's addresses.
func checkAllowedIPs(f *Facts, c config.Interface) []Finding {
	var out []Finding
	for i, p := range c.Peers {
		for _, a := range p.AllowedIPs {
			if a.Bits() == 0 {
				continue // a full tunnel covers everything by design
			}
			for _, l := range f.LAN {
				if a.Overlaps(l) {
					out = append(out, Finding{Check: "allowed_ips", Interface: c.Name, Peer: p.Name(), Severity: Fail,
						Message: fmt.Sprintf("%s's allowed IP %s overlaps the LAN %s: traffic for the LAN would go into the tunnel", p.Name(), a, l),
						Fix:     "give the device an address of the tunnel's own subnet (wgd peer add picks one)"})
				}
			}
			for _, q := range c.Peers[i+1:] {
				for _, b := range q.AllowedIPs {
					if b.Bits() != 0 && a.Overlaps(b) {
						out = append(out, Finding{Check: "allowed_ips", Interface: c.Name, Peer: p.Name(), Severity: Fail,
							Message: fmt.Sprintf("%s's allowed IP %s overlaps %s of %s: only one of them gets that traffic", p.Name(), a, b, q.Name()),
							Fix:     "give each device addresses of its own"})
					}
				}
			}
		}
	}
	return out
}
