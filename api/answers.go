package api

import (
	"net/netip"

	"wgd/config"
	"wgd/firewall"
)

// ReloadResult answers "reload": what changed and what was left out.
type ReloadResult struct {
	Up       []string `json:"up,omitempty"`
	Down     []string `json:"down,omitempty"`
	Updated  []string `json:"updated,omitempty"`
	Failed   []string `json:"failed,omitempty"`
	Kept     []string `json:"kept,omitempty"` // on their last good configuration
	Problems []string `json:"problems,omitempty"`
	Errors   int      `json:"errors"` // problems that left something out
}

// InterfaceArgs are the arguments of "ifup" and "ifdown".
type InterfaceArgs struct {
	Interface string `json:"interface"`
}

// IfupResult answers "ifup": what the protocol handler reports to netifd.
type IfupResult struct {
	Interface   string         `json:"interface"`
	ListenPort  uint16         `json:"listen_port"`
	MTU         int            `json:"mtu,omitempty"`
	Addresses   []netip.Prefix `json:"addresses"`
	Routes      []Route        `json:"routes"`
	Endpoints   []netip.Addr   `json:"endpoints"`
	NoHostRoute bool           `json:"nohostroute"`
	TunLink     string         `json:"tunlink,omitempty"`
	// Firewall is the rule opening the listen port, zone included. The
	// handler records it and /etc/init.d/wgd publishes it to procd as it
	// is (fw4 reads it there): nothing else renders it.
	Firewall []firewall.Fw4Rule `json:"firewall,omitempty"`
	Problems []string           `json:"problems,omitempty"`
}

// Route is a route the handler hands netifd (proto_add_ipv4_route).
type Route struct {
	Target netip.Prefix `json:"target"`
	// Metric, when not 0, keeps the route beside a route of the same
	// network that another link has (the WAN's own subnet): netifd adds
	// routes with NLM_F_REPLACE (system_rt in its system-linux.c), which
	// with an equal metric would take that route's place, and its ifdown
	// would then leave neither.
	Metric uint32 `json:"metric,omitempty"`
}

// HotplugAnswer answers "hotplug" (its arguments are a hotplug.Event).
type HotplugAnswer struct {
	Queued bool `json:"queued"`
}

// ForgetArgs are the arguments of "forget": the peer whose traffic
// totals to drop.
type ForgetArgs struct {
	Interface string     `json:"interface"`
	PublicKey config.Key `json:"public_key"`
}

// ForgetAnswer says whether there were totals to drop.
type ForgetAnswer struct {
	Forgotten bool `json:"forgotten"`
}
