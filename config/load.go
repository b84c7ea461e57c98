package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"wgd/uci"
)

// Problem is a configuration error or warning at a file position, and
// the wgd interface it concerns ("" for none, or when a parse error
// cannot tell).
type Problem struct {
	File      string
	Line      int
	Section   string // UCI reference of the section, "" if none
	Option    string
	Msg       string
	Warning   bool
	Interface string
	// Unreadable: the file could not be read at all, so nothing of it
	// applies (a missing or unreadable network file keeps what runs).
	Unreadable bool
}

// Error formats p as "FILE:LINE: section X, option Y: MSG".
func (p *Problem) Error() string {
	e := uci.Error{File: p.File, Line: p.Line, Section: p.Section, Option: p.Option, Msg: p.Msg, Warning: p.Warning}
	return e.Error()
}

// problemsOf are uci's errors of a file as problems; unread: uci could
// not read the file (it returned no package).
func problemsOf(errs []*uci.Error, unread bool) []*Problem {
	out := make([]*Problem, 0, len(errs))
	for _, e := range errs {
		out = append(out, &Problem{File: e.File, Line: e.Line, Section: e.Section, Option: e.Option, Msg: e.Msg, Warning: e.Warning, Unreadable: unread})
	}
	return out
}

// Load reads dir/network, dir/wgd and the zones of dir/firewall. It
// returns the valid part of the configuration and every problem found:
// a broken peer or interface is left out, everything else is kept.
func Load(dir string) (*Config, []*Problem) {
	network, errs := uci.Load(dir, "network")
	problems := problemsOf(errs, network == nil)
	for _, p := range problems {
		p.Interface = interfaceOf(network, p.Section)
	}
	var wgd *uci.Package
	if _, err := os.Stat(filepath.Join(dir, "wgd")); err == nil {
		wgd, errs = uci.Load(dir, "wgd")
		problems = append(problems, problemsOf(errs, wgd == nil)...)
	} // else: no /etc/config/wgd, defaults
	cfg, rest := FromUCI(network, wgd)
	cfg.noteBroken(problems) // syntax errors inside an interface's sections
	problems = append(problems, rest...)
	if _, err := os.Stat(filepath.Join(dir, "firewall")); err == nil {
		fw, errs := uci.Load(dir, "firewall")
		for _, p := range problemsOf(errs, false) {
			// The firewall's own file: wgd reads only its zones, and a
			// mistake there (even an unreadable file) leaves nothing of
			// wgd's out.
			p.Warning = true
			problems = append(problems, p)
		}
		cfg.Zones = zones(fw)
	}
	return cfg, problems
}

// interfaceOf names the interface a section of network belongs to: its
// own name for an interface, X for a wireguard_X peer section.
func interfaceOf(network *uci.Package, ref string) string {
	if network == nil || ref == "" {
		return ""
	}
	for _, s := range network.Sections {
		if s.Ref() != ref {
			continue
		}
		if s.Type == "interface" {
			return s.Name
		}
		if name, ok := strings.CutPrefix(s.Type, peerTypePrefix); ok {
			return name
		}
		return ""
	}
	return ""
}

// wanDevices maps each of names that is a `config interface` of network
// to its Linux devices: its `device` (`ifname` before OpenWrt 21.02),
// where "@other" stands for the devices of interface other; and, for a
// PPP protocol, the link pppd makes, which OpenWrt names proto-NAME
// (pppoe-wan). A name that is no interface of network is a device
// itself and is left out.
func wanDevices(network *uci.Package, names []string) map[string][]string {
	if network == nil {
		return nil
	}
	var devices func(name string, depth int) []string
	devices = func(name string, depth int) []string {
		var out []string
		for _, s := range network.SectionsOfType("interface") {
			if s.Name != name {
				continue
			}
			for _, opt := range []string{"device", "ifname"} {
				o := s.Get(opt)
				if o == nil {
					continue
				}
				for _, v := range o.Values {
					for _, d := range strings.Fields(v) {
						if alias, ok := strings.CutPrefix(d, "@"); ok {
							if depth < 4 {
								out = append(out, devices(alias, depth+1)...)
							}
						} else {
							out = append(out, d)
						}
					}
				}
			}
			if o := s.Get("proto"); o != nil && slices.Contains([]string{"ppp", "pppoe", "pppoa", "pptp", "l2tp"}, o.Values[0]) {
				out = append(out, o.Values[0]+"-"+name)
			}
		}
		return out
	}
	var m map[string][]string
	for _, n := range names {
		if d := devices(n, 0); len(d) > 0 {
			if m == nil {
				m = map[string][]string{}
			}
			m[n] = d
		}
	}
	return m
}

// zones reads the enabled `config zone` sections of the firewall package.
func zones(p *uci.Package) []Zone {
	if p == nil {
		return nil
	}
	var out []Zone
	for _, s := range p.SectionsOfType("zone") {
		name := s.Get("name")
		if name == nil || name.Values[0] == "" {
			continue
		}
		if e := s.Get("enabled"); e != nil && isFalse(e.Values[0]) {
			continue
		}
		z := Zone{Name: name.Values[0]}
		if n := s.Get("network"); n != nil {
			for _, v := range n.Values {
				z.Networks = append(z.Networks, strings.Fields(v)...)
			}
		}
		out = append(out, z)
	}
	return out
}

func isFalse(v string) bool {
	switch strings.ToLower(v) {
	case "0", "no", "off", "false", "disabled":
		return true
	}
	return false
}

// FromUCI builds the model from parsed packages; either may be nil.
func FromUCI(network, wgd *uci.Package) (*Config, []*Problem) {
	var v validator
	cfg := &Config{Daemon: v.daemon(wgd)}
	if network != nil {
		for _, s := range network.SectionsOfType("interface") {
			if !IsInterface(s) {
				continue
			}
			if iface, ok := v.iface(network, s); ok {
				if cfg.Interface(iface.Name) != nil {
					continue // a repeated section is merged by the parser
				}
				cfg.Interfaces = append(cfg.Interfaces, iface)
			}
		}
	}
	sort.Slice(cfg.Interfaces, func(i, j int) bool { return cfg.Interfaces[i].Name < cfg.Interfaces[j].Name })
	cfg.Daemon.WANDevices = wanDevices(network, cfg.Daemon.WANInterfaces)
	cfg.noteBroken(v.problems)
	return cfg, v.problems
}

// noteBroken files the errors that concern an interface under Broken.
func (c *Config) noteBroken(problems []*Problem) {
	for _, p := range problems {
		if p.Warning || p.Interface == "" {
			continue
		}
		if c.Broken == nil {
			c.Broken = map[string][]*Problem{}
		}
		c.Broken[p.Interface] = append(c.Broken[p.Interface], p)
	}
}

type validator struct {
	problems []*Problem
	file     string
	section  *uci.Section
	owner    string // the wgd interface the current section belongs to
	failed   bool   // the current section has an error
}

func (v *validator) start(p *uci.Package, s *uci.Section, iface string) {
	v.file, v.section, v.owner, v.failed = p.File, s, iface, false
}

func (v *validator) report(opt *uci.Option, warning bool, format string, args ...any) {
	e := &Problem{File: v.file, Line: v.section.Line, Section: v.section.Ref(), Msg: fmt.Sprintf(format, args...), Warning: warning, Interface: v.owner}
	if opt != nil {
		e.Line, e.Option = opt.Line, opt.Name
	}
	v.problems = append(v.problems, e)
	if !warning {
		v.failed = true
	}
}

func (v *validator) daemon(p *uci.Package) Daemon {
	d := Daemon{LogLevel: slog.LevelInfo, Hotplug: true, WatchdogAge: DefaultWatchdogAge, MetricsListen: DefaultMetricsListen}
	if p == nil {
		return d
	}
	for _, s := range p.SectionsOfType("wgd") {
		if s.Name != "main" {
			continue
		}
		v.start(p, s, "")
		if opt := s.Get("log_level"); opt != nil {
			if err := d.LogLevel.UnmarshalText([]byte(opt.Values[0])); err != nil {
				v.report(opt, false, "log level %q: want debug, info, warn or error", opt.Values[0])
				d.LogLevel = slog.LevelInfo
			}
		}
		d.WANInterfaces = v.names(s, "wan_interface")
		d.Hotplug = v.boolean(s, "hotplug", true)
		d.WatchdogAge = time.Duration(v.number(s, "watchdog_age", 0, 86400, uint64(DefaultWatchdogAge/time.Second))) * time.Second
		if opt := s.Get("firewall"); opt != nil {
			switch k := opt.Values[0]; k {
			case "auto", "fw4", "nftables", "iptables", "none":
				d.Firewall = strings.TrimPrefix(k, "auto")
			default:
				v.report(opt, false, "firewall %q: want auto, fw4, nftables, iptables or none", k)
			}
		}
		if opt := s.Get("metrics_listen"); opt != nil {
			if a := opt.Values[0]; a == "off" {
				d.MetricsListen = ""
			} else if _, err := netip.ParseAddrPort(a); err != nil {
				v.report(opt, false, "metrics_listen %q: want an IP address and port such as %s, or off", a, DefaultMetricsListen)
			} else {
				d.MetricsListen = a
			}
		}
		d.MetricsEndpointLabels = v.boolean(s, "metrics_endpoint_labels", false)
		if opt := s.Get("totals_file"); opt != nil {
			if f := opt.Values[0]; !filepath.IsAbs(f) || strings.HasSuffix(f, "/") {
				v.report(opt, false, "totals_file %q: want an absolute file path such as /etc/wgd/totals.json", f)
			} else {
				d.TotalsFile = filepath.Clean(f)
			}
		}
		if opt := s.Get("public_endpoint"); opt != nil {
			if _, _, err := ParseEndpoint(opt.Values[0]); err != nil {
				v.report(opt, false, "%v", err)
			} else {
				d.PublicEndpoint = opt.Values[0]
			}
		}
	}
	return d
}

// names reads a list of interface names (netifd's or Linux devices);
// like netifd, it also splits values on white space.
func (v *validator) names(s *uci.Section, name string) []string {
	opt := s.Get(name)
	if opt == nil {
		return nil
	}
	var out []string
	for _, value := range opt.Values {
		for _, f := range strings.Fields(value) {
			if len(f) > 63 || strings.ContainsAny(f, "/:\"'") {
				v.report(opt, false, "%q is not an interface name", f)
				continue
			}
			out = append(out, f)
		}
	}
	return out
}

func (v *validator) iface(p *uci.Package, s *uci.Section) (Interface, bool) {
	v.start(p, s, s.Name)
	iface := Interface{Name: s.Name, Auto: true}
	if s.Name == "" {
		v.report(nil, false, "interface section needs a name (it is the link name)")
		return iface, false
	}
	if len(s.Name) > 15 {
		v.report(nil, false, "interface name %q is longer than 15 characters, the Linux limit", s.Name)
	}
	if v.boolean(s, "disabled", false) {
		return iface, false
	}
	iface.Auto = v.boolean(s, "auto", true)
	if opt := s.Get("private_key"); opt == nil {
		v.report(nil, false, "option private_key is missing (make one with: wgd genkey)")
	} else if k, err := ParseSecret(opt.Values[0]); err != nil {
		v.report(opt, false, "%v", err) // never echo the value
	} else {
		iface.PrivateKey = k
	}
	iface.ListenPort = uint16(v.number(s, "listen_port", 0, 65535, 0))
	iface.OpenFirewall = v.boolean(s, "open_firewall", true)
	iface.Addresses = v.prefixes(s, "addresses", false)
	if opt := s.Get("mtu"); opt == nil || opt.Values[0] != "auto" {
		iface.MTU = int(v.number(s, "mtu", 576, 9000, 0))
	} // auto: follows the WAN (MTU 0)
	iface.FwMark = v.fwmark(s)
	iface.NoHostRoute = v.boolean(s, "nohostroute", false)
	if opt := s.Get("tunlink"); opt != nil {
		iface.TunLink = opt.Values[0]
	}
	iface.IP6Prefix = v.prefixes(s, "ip6prefix", true)
	if v.failed {
		return iface, false
	}
	self := iface.PublicKey()
	type holder struct {
		peer string
		line int
	}
	held := map[netip.Prefix]holder{}
	for _, ps := range p.SectionsOfType(PeerType(s.Name)) {
		peer, ok := v.peer(p, ps, s.Name)
		if !ok {
			continue
		}
		switch {
		case peer.PublicKey == self:
			v.report(ps.Get("public_key"), false, "public key is the interface's own key")
		case iface.Peer(peer.PublicKey) != nil:
			v.report(ps.Get("public_key"), false, "public key is already used by peer %q of this interface", iface.Peer(peer.PublicKey).Name())
		default:
			iface.Peers = append(iface.Peers, peer)
			// The engine routes an allowed IP to one peer only: the one
			// given it last, which is the later section.
			opt := ps.Get("allowed_ips")
			for _, a := range peer.AllowedIPs {
				if h, ok := held[a]; ok {
					v.report(opt, true, "allowed IP %s is also peer %q's (%s:%d): it goes to this peer, the later one, and %q loses it", a, h.peer, v.file, h.line, h.peer)
				}
				held[a] = holder{peer.Name(), opt.Line}
			}
		}
	}
	return iface, true
}

func (v *validator) peer(p *uci.Package, s *uci.Section, iface string) (Peer, bool) {
	v.start(p, s, iface)
	if v.boolean(s, "disabled", false) {
		return Peer{}, false
	}
	peer := v.peerOptions(s)
	if v.failed {
		v.report(nil, true, "peer %q skipped because of the errors above", peer.Name())
		return peer, false
	}
	return peer, true
}

// PeerSections reads every peer section of iface in network (its
// wireguard_<iface> sections, in file order) as FromUCI does, the
// disabled and broken ones too: the peers as written, for the commands
// that list and edit them.
func PeerSections(network *uci.Package, iface string) []PeerSection {
	var out []PeerSection
	for _, s := range network.SectionsOfType(PeerType(iface)) {
		var v validator
		v.start(network, s, iface)
		ps := PeerSection{Interface: iface, Section: s.Ref(), Name: s.Name, Line: s.Line, Disabled: v.boolean(s, "disabled", false)}
		if o := s.Get("private_key"); o != nil && len(o.Values) > 0 && o.Values[0] != "" {
			ps.KeyKept = true
		}
		ps.Peer = v.peerOptions(s)
		ps.Problems = v.problems
		out = append(out, ps)
	}
	return out
}

// peerOptions reads the options of a peer section but disabled.
func (v *validator) peerOptions(s *uci.Section) Peer {
	var peer Peer
	if opt := s.Get("description"); opt != nil {
		peer.Description = opt.Values[0]
	}
	if opt := s.Get("public_key"); opt == nil {
		v.report(nil, false, "option public_key is missing: peer skipped")
	} else if k, err := ParseKey(opt.Values[0]); err != nil {
		v.report(opt, false, "%v", err)
	} else {
		peer.PublicKey = k
	}
	if opt := s.Get("preshared_key"); opt != nil {
		if k, err := ParseSecret(opt.Values[0]); err != nil {
			v.report(opt, false, "%v", err)
		} else {
			peer.PresharedKey = k
		}
	}
	if opt := s.Get("private_key"); opt != nil {
		if _, err := ParseSecret(opt.Values[0]); err != nil {
			v.report(opt, true, "%v (kept only for exporting the peer's config; ignored)", err)
		}
	}
	peer.AllowedIPs = v.prefixes(s, "allowed_ips", true)
	peer.RouteAllowedIPs = v.boolean(s, "route_allowed_ips", false)
	if opt := s.Get("endpoint_host"); opt != nil {
		peer.EndpointHost = v.host(opt)
		peer.EndpointPort = uint16(v.number(s, "endpoint_port", 1, 65535, DefaultEndpointPort))
	} else if opt := s.Get("endpoint_port"); opt != nil {
		v.report(opt, true, "endpoint_port without endpoint_host is ignored")
	}
	peer.PersistentKeepalive = uint16(v.number(s, "persistent_keepalive", 0, 65535, 0))
	if opt := s.Get("expires"); opt != nil {
		var err error
		if peer.Expires, err = ParseExpiry(opt.Values[0]); err != nil {
			v.report(opt, false, "%v", err) // the peer is left out: the safe side
		}
	}
	return peer
}

// boolean reads an option the way OpenWrt's shell helpers do.
func (v *validator) boolean(s *uci.Section, name string, def bool) bool {
	opt := s.Get(name)
	if opt == nil {
		return def
	}
	switch strings.ToLower(opt.Values[0]) {
	case "1", "yes", "on", "true", "enabled":
		return true
	case "0", "no", "off", "false", "disabled":
		return false
	}
	v.report(opt, false, "%q is not a boolean (want 1 or 0)", opt.Values[0])
	return def
}

func (v *validator) number(s *uci.Section, name string, min, max, def uint64) uint64 {
	opt := s.Get(name)
	if opt == nil {
		return def
	}
	n, err := strconv.ParseUint(opt.Values[0], 10, 64)
	if err != nil || n < min || n > max {
		v.report(opt, false, "%q is not a number from %d to %d", opt.Values[0], min, max)
		return def
	}
	return n
}

func (v *validator) fwmark(s *uci.Section) uint32 {
	opt := s.Get("fwmark")
	if opt == nil || opt.Values[0] == "off" {
		return 0
	}
	n, err := strconv.ParseUint(opt.Values[0], 0, 32)
	if err != nil {
		v.report(opt, false, "%q is not a firewall mark (want a number such as 0x1234, or off)", opt.Values[0])
	}
	return uint32(n)
}

// prefixes reads a list of addresses or networks. Like netifd, it also
// splits values on white space. network masks the host part (allowed IPs);
// otherwise the host part is kept (interface addresses). A missing
// prefix length means a single host.
func (v *validator) prefixes(s *uci.Section, name string, network bool) []netip.Prefix {
	opt := s.Get(name)
	if opt == nil {
		return nil
	}
	var out []netip.Prefix
	for _, value := range opt.Values {
		for _, field := range strings.Fields(value) {
			p, err := ParsePrefix(field)
			if err != nil {
				v.report(opt, false, "%q is not an IP address or CIDR", field)
				continue
			}
			if network {
				p = p.Masked()
			}
			out = append(out, p)
		}
	}
	return out
}

// ParsePrefix reads an address or a network as the configuration takes
// them: a missing prefix length means a single host.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// host accepts an IP literal (IPv6 with or without brackets) or a DNS name.
func (v *validator) host(opt *uci.Option) string {
	h := opt.Values[0]
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			v.report(opt, false, "%q: a zoned address cannot be an endpoint", h)
			return ""
		}
		return a.String()
	}
	if !validHostname(h) {
		v.report(opt, false, "%q is neither an IP address nor a host name", opt.Values[0])
		return ""
	}
	return strings.TrimSuffix(h, ".")
}

func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func netJoinHostPort(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
