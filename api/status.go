package api

import (
	"net/netip"
	"time"

	"wgd/config"
	"wgd/firewall"
	"wgd/hotplug"
)

// Status answers "status" (`wgd status --json`). It holds no secret.
type Status struct {
	ConfigDir  string            `json:"config_dir"`
	LastReload time.Time         `json:"last_reload"`
	Problems   []string          `json:"problems,omitempty"`
	Interfaces []InterfaceStatus `json:"interfaces"`
	Hotplug    *HotplugStatus    `json:"hotplug,omitempty"` // WAN events and refreshes
	Firewall   firewall.Status   `json:"firewall"`
	Counters   Counters          `json:"counters"`
	Pool       *PoolStatus       `json:"buffer_pool,omitempty"` // nil: the engine reports none
}

// Interface returns the named interface, or nil.
func (s *Status) Interface(name string) *InterfaceStatus {
	for i := range s.Interfaces {
		if s.Interfaces[i].Name == name {
			return &s.Interfaces[i]
		}
	}
	return nil
}

// Counters count what happened since the daemon started.
type Counters struct {
	ReloadsOK       uint64 `json:"reloads_ok"`      // applied without problems
	ReloadsPartial  uint64 `json:"reloads_partial"` // applied, with problems or failed interfaces
	ReloadsFailed   uint64 `json:"reloads_failed"`  // not applied
	LastReload      string `json:"last_reload"`     // "ok", "partial", "failed"; "" before the first
	ResolutionsOK   uint64 `json:"resolutions_ok"`
	ResolutionsFail uint64 `json:"resolutions_failed"`
	DeviceRestarts  uint64 `json:"device_restarts"` // devices the engine closed by itself, brought back
}

// PoolStatus is the packet buffers of all interfaces: bound and in use.
type PoolStatus struct {
	Capacity int `json:"capacity"`
	InUse    int `json:"in_use"`
}

// InterfaceStatus describes one configured interface.
type InterfaceStatus struct {
	Name  string `json:"name"`
	Up    bool   `json:"up"`
	Error string `json:"error,omitempty"`
	// Reason says in one word what is wrong: why Error is set
	// ("config_errors": kept on its last good configuration,
	// "listen_port_in_use" or "error"), or "layer3_missing": running,
	// Error empty, without all of its layer 3 (Missing).
	Reason     string         `json:"reason,omitempty"`
	PublicKey  config.Key     `json:"public_key"`
	ListenPort uint16         `json:"listen_port"`
	Addresses  []netip.Prefix `json:"addresses"`
	MTU        int            `json:"mtu"`      // the link's, or what it would be
	MTUAuto    bool           `json:"mtu_auto"` // it follows the WAN
	// Oversized counts the packets the running engine dropped for being
	// larger than its buffers carry; nil when not running.
	Oversized *OversizedStatus `json:"oversized,omitempty"`
	Peers     []PeerStatus     `json:"peers"`
	// Missing is the layer 3 the interface should have and has not (an
	// address or route not installed, a host route to an endpoint with no
	// path outside the tunnel, the MTU), each with why; it is tried
	// again.
	Missing []string `json:"missing,omitempty"`
}

// Peer returns the peer with this public key (base64, as wg(8) prints
// it), or nil.
func (i *InterfaceStatus) Peer(publicKey string) *PeerStatus {
	for k := range i.Peers {
		if i.Peers[k].PublicKey.String() == publicKey {
			return &i.Peers[k]
		}
	}
	return nil
}

// OversizedStatus: packets read from the link after its MTU was raised
// past what the data plane carries (each answered with an ICMP error
// when it could be: ICMPSent), and datagrams from the network too large
// to receive.
type OversizedStatus struct {
	FromLink    uint64 `json:"from_link"`
	FromNetwork uint64 `json:"from_network"`
	ICMPSent    uint64 `json:"icmp_sent"`
}

// PeerStatus describes one peer, joining its configuration with what
// the engine reports.
type PeerStatus struct {
	Description  string     `json:"description,omitempty"`
	PublicKey    config.Key `json:"public_key"`
	EndpointHost string     `json:"endpoint_host,omitempty"` // as configured
	Endpoint     string     `json:"endpoint,omitempty"`      // in use
	// EndpointSource says where Endpoint comes from: "config" (an
	// address in endpoint_host), "dns" (what the name resolved to),
	// "engine" (the engine's own: learnt from the peer's packets when it
	// roamed, or kept from an endpoint no longer configured); "" without
	// endpoint.
	EndpointSource      string         `json:"endpoint_source,omitempty"`
	AllowedIPs          []netip.Prefix `json:"allowed_ips"`      // what the engine routes to the peer
	LatestHandshake     int64          `json:"latest_handshake"` // UNIX seconds, 0: never
	RxBytes             uint64         `json:"rx_bytes"`
	TxBytes             uint64         `json:"tx_bytes"`
	PersistentKeepalive uint16         `json:"persistent_keepalive"`
	// Guest peers: when the peer stops running (UNIX seconds, 0: never)
	// and whether it has.
	Expires int64 `json:"expires,omitempty"`
	Expired bool  `json:"expired"`
	// Traffic over all sessions, across restarts: package totals.
	TotalRxBytes uint64 `json:"total_rx_bytes"`
	TotalTxBytes uint64 `json:"total_tx_bytes"`
}

// HotplugStatus is the hotplug part of Status.
type HotplugStatus struct {
	Reacting        bool             `json:"reacting"` // option hotplug
	WANInterfaces   []string         `json:"wan_interfaces,omitempty"`
	Sources         []string         `json:"sources"`
	Events          int              `json:"events"`
	Dropped         int64            `json:"dropped,omitempty"`
	LastEvent       *hotplug.Event   `json:"last_event,omitempty"`
	LastWANEvent    *hotplug.Event   `json:"last_wan_event,omitempty"`
	Refreshes       int              `json:"refreshes"`
	LastRefresh     *RefreshStatus   `json:"last_refresh,omitempty"`
	EndpointChanges []EndpointChange `json:"endpoint_changes,omitempty"` // newest last
	Watchdog        WatchdogStatus   `json:"watchdog"`
}

// RefreshStatus describes one refresh after a WAN event.
type RefreshStatus struct {
	Reason   string    `json:"reason"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"` // zero while it runs
	Kicked   int       `json:"kicked"`            // peers sent a keepalive or handshake
	Resolved int       `json:"resolved"`          // endpoint names looked up
	Changed  int       `json:"changed"`           // endpoints that moved
	Errors   []string  `json:"errors,omitempty"`
}

// EndpointChange is an endpoint name that now resolves elsewhere.
type EndpointChange struct {
	Time      time.Time  `json:"time"`
	Interface string     `json:"interface"`
	Peer      config.Key `json:"peer"`
	Host      string     `json:"host"`
	From      string     `json:"from,omitempty"`
	To        string     `json:"to"`
	By        string     `json:"by"` // "hotplug" or "watchdog"
}

// WatchdogStatus describes the re-resolution of stale peers.
type WatchdogStatus struct {
	AgeSeconds int       `json:"age_seconds"` // 0: off
	LastRun    time.Time `json:"last_run,omitzero"`
	Stale      int       `json:"stale"` // peers found stale at the last run
}
