// Package config turns UCI packages into wgd's validated model: plain
// structs that the rest of wgd can trust without checking again.
package config

import (
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"wgd/uci"
)

// Proto is the netifd protocol name of wgd's interfaces.
const Proto = "wgd"

// IsInterface tells whether s is a network section wgd runs: a
// `config interface` of proto wgd.
func IsInterface(s *uci.Section) bool {
	if s.Type != "interface" {
		return false
	}
	opt := s.Get("proto")
	return opt != nil && len(opt.Values) > 0 && opt.Values[0] == Proto
}

// peerTypePrefix starts the section type of an interface's peers.
const peerTypePrefix = "wireguard_"

// PeerType is the section type of iface's peers: wireguard_<iface>, as
// LuCI's WireGuard protocol writes them.
func PeerType(iface string) string { return peerTypePrefix + iface }

// DefaultEndpointPort is used when a peer names a host but no port.
const DefaultEndpointPort = 51820

// Config is everything wgd runs from.
type Config struct {
	Daemon     Daemon
	Interfaces []Interface // sorted by name
	// Broken holds, by interface name, the errors found in an interface's
	// own section or in its peers' sections. Such an interface is either
	// missing from Interfaces or lacks the broken peers; a daemon that
	// runs it keeps its last good configuration instead.
	Broken map[string][]*Problem
	// Zones are the enabled zones of /etc/config/firewall (none when the
	// file is missing): the listen port is opened in the WAN side's zone.
	Zones []Zone
}

// Zone is a `config zone` section of /etc/config/firewall.
type Zone struct {
	Name     string
	Networks []string // `list network`: netifd interface names
}

// Daemon holds the settings of /etc/config/wgd, section 'main'.
type Daemon struct {
	LogLevel slog.Level
	// WANInterfaces are the links whose changes refresh the tunnels
	// (`list wan_interface`): netifd interface names or Linux devices.
	// Empty: the link holding the default route, IPv4 or IPv6.
	WANInterfaces []string
	// WANDevices are the Linux devices of those WANInterfaces that are
	// netifd interfaces of the network file, so that netlink, which
	// knows only devices, finds them (see wanDevices).
	WANDevices map[string][]string
	// Hotplug turns the reaction to WAN events on (`option hotplug`,
	// default on); off, events are only recorded.
	Hotplug bool
	// WatchdogAge: a peer whose endpoint is a name and whose last
	// handshake is older is re-resolved (`option watchdog_age`, seconds;
	// 0: never).
	WatchdogAge time.Duration
	// Firewall is the backend that opens listen ports (`option firewall`):
	// "" (auto), fw4, nftables, iptables or none.
	Firewall string
	// MetricsListen is where /metrics is served (`option metrics_listen`,
	// 'off' disables); MetricsEndpointLabels adds peers' endpoints as labels.
	MetricsListen         string
	MetricsEndpointLabels bool
	// PublicEndpoint is how clients reach the router, for the configs
	// `wgd peer add` prints (`option public_endpoint`): a name or an
	// address, with an optional port. Empty: the WAN address.
	PublicEndpoint string
	// TotalsFile is where per-peer traffic totals are kept across
	// restarts (`option totals_file`, an absolute path); "": the default.
	TotalsFile string
}

// DefaultMetricsListen keeps metrics on the router itself unless asked.
const DefaultMetricsListen = "127.0.0.1:9586"

// DefaultWatchdogAge matches OpenWrt's wireguard_watchdog.
const DefaultWatchdogAge = 150 * time.Second

// Interface is one WireGuard interface, a `config interface` section with
// `option proto 'wgd'` in /etc/config/network.
type Interface struct {
	Name        string // UCI section name, also the Linux link name
	PrivateKey  Secret
	ListenPort  uint16 // 0: chosen by the kernel
	Addresses   []netip.Prefix
	MTU         int // 0: auto, following the WAN (`option mtu 'auto'` or none)
	FwMark      uint32
	NoHostRoute bool
	TunLink     string
	IP6Prefix   []netip.Prefix
	Peers       []Peer // in file order
	// OpenFirewall: wgd opens the listen port (`option open_firewall`, default 1).
	OpenFirewall bool
	// Auto (`option auto`, default 1) is netifd's boot-time flag: false
	// means not brought up at start, yet up on request (ifup). Only
	// `option disabled '1'` keeps an interface out of the configuration.
	Auto bool
}

// Peer is what runs of one `config wireguard_<iface>` section. Where the
// section is (PeerSection) is not in it: deleting a section above moves
// an anonymous section's @wireguard_<iface>[N] and its line, and the
// daemon must not take that for a change of the peer.
type Peer struct {
	Description         string
	PublicKey           Key
	PresharedKey        Secret
	AllowedIPs          []netip.Prefix
	RouteAllowedIPs     bool
	EndpointHost        string // a name or an IP literal, "" for none
	EndpointPort        uint16
	PersistentKeepalive uint16 // seconds, 0: off
	// Expires is when the peer stops running (`option expires`, a guest's
	// access); zero: never.
	Expires time.Time
}

// PeerSection is a peer section as written, whether it runs or not: a
// disabled peer and one with errors (Problems) are kept out of the
// interface's Peers, yet are still its peers in the file.
type PeerSection struct {
	Peer             // the valid part of its options
	Interface string // the wgd interface it belongs to
	// Section is the section as `uci show` names it: its name or
	// @wireguard_<iface>[N]; Name is its name, "" for an anonymous one.
	Section, Name string
	Line          int  // that of its `config` line
	Disabled      bool // option disabled
	// KeyKept: the section keeps the client's private key (option
	// private_key), for showing its configuration again.
	KeyKept  bool
	Problems []*Problem // errors and warnings of this section alone
}

// Runs tells whether the router runs the section's peer (its interface
// permitting): enabled and without errors.
func (s *PeerSection) Runs() bool {
	if s.Disabled {
		return false
	}
	for _, p := range s.Problems {
		if !p.Warning {
			return false
		}
	}
	return true
}

// PublicKey is the interface's own public key.
func (i *Interface) PublicKey() Key { return i.PrivateKey.PublicKey() }

// Interface returns the interface called name, or nil.
func (c *Config) Interface(name string) *Interface {
	for i := range c.Interfaces {
		if c.Interfaces[i].Name == name {
			return &c.Interfaces[i]
		}
	}
	return nil
}

// Peer returns the peer with public key k, or nil.
func (i *Interface) Peer(k Key) *Peer {
	for j := range i.Peers {
		if i.Peers[j].PublicKey == k {
			return &i.Peers[j]
		}
	}
	return nil
}

// Name is how people call the peer: its description, else its key.
func (p *Peer) Name() string {
	if p.Description != "" {
		return p.Description
	}
	return p.PublicKey.String()
}

// Endpoint returns the endpoint as host:port text, "" for none.
func (p *Peer) Endpoint() string {
	if p.EndpointHost == "" {
		return ""
	}
	return netJoinHostPort(p.EndpointHost, p.EndpointPort)
}

// Uplinks are the netifd interfaces on the WAN side of i, whose firewall
// zone its listen port is opened in: its tunlink, else wgd's
// wan_interface list, else OpenWrt's wan and wan6.
func (c *Config) Uplinks(i *Interface) []string {
	switch {
	case i.TunLink != "":
		return []string{i.TunLink}
	case len(c.Daemon.WANInterfaces) > 0:
		return c.Daemon.WANInterfaces
	}
	return []string{"wan", "wan6"}
}

// ListenZones are the firewall zones listing one of i's uplinks, in the
// order of /etc/config/firewall; none when no zone covers them.
func (c *Config) ListenZones(i *Interface) []string {
	var out []string
	for _, z := range c.Zones {
		for _, u := range c.Uplinks(i) {
			if slices.Contains(z.Networks, u) && !slices.Contains(out, z.Name) {
				out = append(out, z.Name)
			}
		}
	}
	return out
}
