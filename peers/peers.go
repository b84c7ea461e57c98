// Package peers onboards the devices at the other end of a tunnel: it
// lists the peer sections of an interface in /etc/config/network as
// package config reads them, picks free tunnel addresses for a new one,
// writes and removes its section in place (package uci keeps the rest of
// the file as it was), renders the configuration the device imports,
// and (Manager) has the running wgd apply each change and checks it.
//
// A peer added here is a section of type wireguard_<interface>, named
// after the peer and with the same description, so LuCI lists it and
// `uci set network.NAME.disabled=1` works too. Peers made elsewhere
// (anonymous LuCI sections) are found by their description.
package peers

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"wgd/config"
	"wgd/hotplug"
	"wgd/uci"
)

// Options of a peer section that only wgd reads: how to render the
// client's configuration again (`wgd peer show --qr`). They are written
// only with the client's private key.
const (
	optClientAllowedIPs = "client_allowed_ips"
	optClientDNS        = "client_dns"
	optClientKeepalive  = "client_keepalive"
)

// optExpires is when a guest peer stops running: RFC 3339, UTC.
const optExpires = "expires"

// Peer is a peer section as written, whether valid, disabled or not, as
// package config reads it. Of the client's private key it holds only
// whether it is kept (KeyKept); its preshared key is a config.Secret,
// which never prints.
type Peer struct {
	config.PeerSection
	// Name is what the peer commands take: the section's name, else its
	// description, else its reference (@wireguard_<iface>[N]).
	Name string
}

// Interfaces are the names of the wgd interfaces in network, in file order.
func Interfaces(network *uci.Package) []string {
	var out []string
	for _, s := range network.SectionsOfType("interface") {
		if s.Name != "" && config.IsInterface(s) && !slices.Contains(out, s.Name) {
			out = append(out, s.Name)
		}
	}
	return out
}

// ChooseInterface checks that name is a wgd interface of network; an
// empty name means the only one there is.
func ChooseInterface(network *uci.Package, name string) (string, error) {
	all := Interfaces(network)
	if name == "" {
		switch len(all) {
		case 0:
			return "", fmt.Errorf("%s has no interface with proto '%s'", network.File, config.Proto)
		case 1:
			return all[0], nil
		}
		return "", fmt.Errorf("%s has several wgd interfaces (%s): choose one with --interface", network.File, strings.Join(all, ", "))
	}
	if slices.Contains(all, name) {
		return name, nil
	}
	for _, s := range network.SectionsOfType("interface") {
		if s.Name == name {
			proto := "(none)"
			if o := s.Get("proto"); o != nil {
				proto = "'" + o.Values[0] + "'"
			}
			return "", fmt.Errorf("interface %s has proto %s, not '%s': wgd does not run it", name, proto, config.Proto)
		}
	}
	known := "none"
	if len(all) > 0 {
		known = strings.Join(all, ", ")
	}
	return "", fmt.Errorf("%s has no interface %q (wgd interfaces: %s)", network.File, name, known)
}

// List returns the peers of iface (every wgd interface when iface is "").
func List(network *uci.Package, iface string) []Peer {
	ifaces := []string{iface}
	if iface == "" {
		ifaces = Interfaces(network)
	}
	var out []Peer
	for _, name := range ifaces {
		for _, ps := range config.PeerSections(network, name) {
			p := Peer{PeerSection: ps, Name: ps.Name}
			if p.Name == "" {
				p.Name = p.Description
			}
			if p.Name == "" {
				p.Name = p.Section
			}
			out = append(out, p)
		}
	}
	return out
}

func value(s *uci.Section, name string) string {
	if o := s.Get(name); o != nil && len(o.Values) > 0 {
		return o.Values[0]
	}
	return ""
}

// ErrNotFound says that no peer has the name.
var ErrNotFound = errors.New("no such peer")

// Find returns the peer called name (its section name or its
// description) among the peers of iface, or of every wgd interface when
// iface is "".
func Find(network *uci.Package, iface, name string) (Peer, error) {
	var byName, byDescription []Peer
	for _, p := range List(network, iface) {
		switch {
		case p.Section == name:
			byName = append(byName, p)
		case p.Description == name:
			byDescription = append(byDescription, p)
		}
	}
	found := byName
	if len(found) == 0 {
		found = byDescription
	}
	switch len(found) {
	case 0:
		where := "interface " + iface
		if iface == "" {
			where = "any wgd interface"
		}
		return Peer{}, fmt.Errorf("%w %q on %s", ErrNotFound, name, where)
	case 1:
		return found[0], nil
	}
	var lines []string
	for _, p := range found {
		lines = append(lines, fmt.Sprintf("%s %s (line %d)", p.Interface, p.Section, p.Line))
	}
	return Peer{}, fmt.Errorf("several peers are called %q: %s; remove or rename one in the file", name, strings.Join(lines, ", "))
}

// section is the UCI section of p in network.
func section(network *uci.Package, p Peer) (*uci.Section, error) {
	for _, s := range network.SectionsOfType(config.PeerType(p.Interface)) {
		if s.Ref() == p.Section {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w %q on interface %s", ErrNotFound, p.Name, p.Interface)
}

// AddRequest describes a new peer.
type AddRequest struct {
	Name      string
	Interface string // "": the only wgd interface

	// What the client sends into the tunnel: AllowedIPs when set, else
	// everything (FullTunnel) or the tunnel's subnets and the LAN's.
	AllowedIPs []netip.Prefix
	FullTunnel bool
	// DNS for the client; nil: the router's LAN address for a full
	// tunnel, none for a split one. Empty and not nil: none.
	DNS       []string
	Endpoint  string // host[:port] clients connect to; "": see Endpoint
	Keepalive int    // the client's persistent keepalive, seconds
	// KeepKey stores the client's private key (and how its config was
	// made) in the section, so that `peer show --qr` can show it again.
	KeepKey bool
	// Expires, when set, is when the peer stops running (a guest).
	Expires time.Time
	// TunnelMTU is the MTU the router's tunnel runs with (0: unknown).
	// An interface without an explicit MTU follows the WAN: a client of
	// one below WireGuard's usual 1420 gets it too.
	TunnelMTU int
}

// Added is what Add did.
type Added struct {
	Interface string
	Addresses []netip.Prefix // the peer's tunnel addresses
	Client    Client
	Warning   string // about the endpoint
}

// Add writes a new peer section for req into network (the Doc of
// /etc/config/network); wgd is /etc/config/wgd's package or nil. It
// generates the client's keys and a preshared key.
func Add(network *uci.Doc, wgd *uci.Package, req AddRequest) (*Added, error) {
	pkg := network.Package()
	if !uci.ValidName(req.Name) {
		return nil, fmt.Errorf("peer name %q: use letters, digits and '_' only (UCI allows no other characters in a section name)", req.Name)
	}
	iface, err := ChooseInterface(pkg, req.Interface)
	if err != nil {
		return nil, err
	}
	cfg, problems := config.FromUCI(pkg, wgd)
	ci := cfg.Interface(iface)
	if ci == nil {
		var text []string
		for _, p := range problems {
			if p.Section == iface && !p.Warning {
				text = append(text, p.Error())
			}
		}
		if len(text) == 0 {
			return nil, fmt.Errorf("interface %s is disabled", iface)
		}
		return nil, fmt.Errorf("interface %s is not usable:\n  %s", iface, strings.Join(text, "\n  "))
	}
	for _, s := range pkg.Sections {
		if s.Name == req.Name {
			return nil, fmt.Errorf("the name %s is taken: %s has a section called so (config %s, line %d)", req.Name, pkg.File, s.Type, s.Line)
		}
	}
	if p, err := Find(pkg, iface, req.Name); err == nil {
		return nil, fmt.Errorf("interface %s already has a peer called %s (%s, line %d)", iface, req.Name, p.Section, p.Line)
	}

	var used []netip.Prefix // a disabled peer keeps its addresses
	for _, p := range List(pkg, iface) {
		used = append(used, p.AllowedIPs...)
	}
	addrs, err := Allocate(ci.Addresses, used)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", iface, err)
	}
	public, err := publicEndpoint(cfg, problems)
	if err != nil && req.Endpoint == "" {
		return nil, err
	}
	endpoint, warning, err := Endpoint(req.Endpoint, public, ci.ListenPort, hotplug.ConfigWAN(cfg))
	if err != nil {
		return nil, err
	}
	priv, err := config.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	psk, err := config.GeneratePresharedKey()
	if err != nil {
		return nil, err
	}
	lan := config.ReadLAN(pkg)
	client := Client{
		PrivateKey: priv, Addresses: addrs, MTU: ci.MTU, ServerKey: ci.PublicKey(),
		PresharedKey: psk, Endpoint: endpoint, Keepalive: req.Keepalive, DNS: req.DNS,
		AllowedIPs: req.AllowedIPs,
	}
	client.FitMTU(req.TunnelMTU)
	if client.AllowedIPs == nil {
		if req.FullTunnel {
			client.AllowedIPs = FullTunnel
		} else {
			client.AllowedIPs = split(ci.Addresses, lan.Networks)
		}
	}
	if client.DNS == nil && req.FullTunnel && lan.Router.IsValid() {
		client.DNS = []string{lan.Router.String()}
	}

	opts := []*uci.Option{
		{Name: "description", Values: []string{req.Name}},
		{Name: "public_key", Values: []string{priv.PublicKey().String()}},
		{Name: "preshared_key", Values: []string{psk.Base64()}},
		{Name: "allowed_ips", Values: strs(addrs), List: true},
	}
	if req.KeepKey {
		opts = append(opts,
			&uci.Option{Name: "private_key", Values: []string{priv.Base64()}},
			&uci.Option{Name: optClientAllowedIPs, Values: strs(client.AllowedIPs), List: true})
		if len(client.DNS) > 0 {
			opts = append(opts, &uci.Option{Name: optClientDNS, Values: client.DNS, List: true})
		}
		opts = append(opts, &uci.Option{Name: optClientKeepalive, Values: []string{strconv.Itoa(client.Keepalive)}})
	}
	if !req.Expires.IsZero() {
		opts = append(opts, &uci.Option{Name: optExpires, Values: []string{req.Expires.UTC().Format(time.RFC3339)}})
	}
	after := lastSection(pkg, config.PeerType(iface), iface)
	if err := network.AddSection(config.PeerType(iface), req.Name, opts, after); err != nil {
		return nil, err
	}
	return &Added{Interface: iface, Addresses: addrs, Client: client, Warning: warning}, nil
}

// lastSection is where a new peer goes: after the interface's last peer,
// else after the interface.
func lastSection(pkg *uci.Package, typ, iface string) *uci.Section {
	if peers := pkg.SectionsOfType(typ); len(peers) > 0 {
		return peers[len(peers)-1]
	}
	for _, s := range pkg.SectionsOfType("interface") {
		if s.Name == iface {
			return s
		}
	}
	return nil
}

// ErrNoKey says that a peer's config cannot be shown again.
var ErrNoKey = errors.New("the client's private key was not kept (only `wgd peer add --keep-key` keeps it); " +
	"remove the peer and add it again to make a new config")

// ClientOf rebuilds the client config of a peer whose private key was kept.
func ClientOf(network, wgd *uci.Package, p Peer, endpoint string) (*Client, string, error) {
	s, err := section(network, p)
	if err != nil {
		return nil, "", err
	}
	if value(s, "private_key") == "" {
		return nil, "", ErrNoKey
	}
	priv, err := config.ParseSecret(value(s, "private_key"))
	if err != nil {
		return nil, "", fmt.Errorf("peer %s: option private_key: %w", p.Section, err)
	}
	for _, pr := range p.Problems {
		if !pr.Warning {
			return nil, "", fmt.Errorf("peer %s has errors: %w", p.Name, pr)
		}
	}
	cfg, problems := config.FromUCI(network, wgd)
	ci := cfg.Interface(p.Interface)
	if ci == nil {
		return nil, "", fmt.Errorf("interface %s is disabled or has errors", p.Interface)
	}
	c := &Client{PrivateKey: priv, PresharedKey: p.PresharedKey, Addresses: p.AllowedIPs,
		MTU: ci.MTU, ServerKey: ci.PublicKey(), Keepalive: DefaultKeepalive}
	if c.AllowedIPs, err = prefixes(s, optClientAllowedIPs); err != nil {
		return nil, "", err
	}
	if c.AllowedIPs == nil {
		c.AllowedIPs = split(ci.Addresses, config.ReadLAN(network).Networks)
	}
	if o := s.Get(optClientDNS); o != nil {
		c.DNS = o.Values
	}
	if v := value(s, optClientKeepalive); v != "" {
		if c.Keepalive, err = strconv.Atoi(v); err != nil || c.Keepalive < 0 || c.Keepalive > 65535 {
			return nil, "", fmt.Errorf("peer %s: option %s %q is not a number of seconds", s.Ref(), optClientKeepalive, v)
		}
	}
	public, err := publicEndpoint(cfg, problems)
	if err != nil && endpoint == "" {
		return nil, "", err
	}
	var warning string
	if c.Endpoint, warning, err = Endpoint(endpoint, public, ci.ListenPort, hotplug.ConfigWAN(cfg)); err != nil {
		return nil, "", err
	}
	return c, warning, nil
}

// prefixes reads one of wgd's own prefix options of a peer section, as
// package config reads allowed_ips.
func prefixes(s *uci.Section, name string) ([]netip.Prefix, error) {
	o := s.Get(name)
	if o == nil {
		return nil, nil
	}
	var out []netip.Prefix
	for _, v := range o.Values {
		for _, f := range strings.Fields(v) {
			p, err := config.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("peer %s: option %s: %q is not an address or prefix", s.Ref(), name, f)
			}
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// publicEndpoint is option public_endpoint of the wgd file as config
// reads it; a wrong one is an error rather than a fall back to the WAN
// address.
func publicEndpoint(cfg *config.Config, problems []*config.Problem) (string, error) {
	for _, p := range problems {
		if p.Option == "public_endpoint" && !p.Warning {
			return "", p
		}
	}
	return cfg.Daemon.PublicEndpoint, nil
}

// split is what a split tunnel carries: the tunnel's subnets and the LAN.
func split(ifaceAddrs, lan []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range append(slices.Clone(ifaceAddrs), lan...) {
		if p = p.Masked(); !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func strs(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// Remove deletes the peer called name.
func Remove(network *uci.Doc, iface, name string) (Peer, error) {
	p, err := Find(network.Package(), iface, name)
	if err != nil {
		return Peer{}, err
	}
	s, err := section(network.Package(), p)
	if err != nil {
		return Peer{}, err
	}
	return p, network.DeleteSection(s)
}

// SetDisabled disables or enables the peer called name; changed is false
// when it already was so.
func SetDisabled(network *uci.Doc, iface, name string, disabled bool) (p Peer, changed bool, err error) {
	p, err = Find(network.Package(), iface, name)
	if err != nil {
		return Peer{}, false, err
	}
	if p.Disabled == disabled {
		return p, false, nil
	}
	s, err := section(network.Package(), p)
	if err != nil {
		return Peer{}, false, err
	}
	if disabled {
		return p, true, network.SetOption(s, "disabled", "1")
	}
	return p, true, network.DeleteOption(s, "disabled")
}
