package daemon

import (
	"net/netip"
	"time"

	"wgd/config"
	"wgd/firewall"
)

// Status is the daemon's answer to `wgd status`. It holds no secret.
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
	// Reason says in one word why Error is set: "config_errors" (kept on
	// its last good configuration), "listen_port_in_use",
	// "layer3_missing" (see Missing) or "error".
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
	Description         string         `json:"description,omitempty"`
	PublicKey           config.Key     `json:"public_key"`
	EndpointHost        string         `json:"endpoint_host,omitempty"` // as configured
	Endpoint            string         `json:"endpoint,omitempty"`      // in use
	AllowedIPs          []netip.Prefix `json:"allowed_ips"`             // what the engine routes to the peer
	LatestHandshake     int64          `json:"latest_handshake"`        // UNIX seconds, 0: never
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

func (d *Daemon) status() *Status {
	s := &Status{ConfigDir: d.opts.ConfigDir, LastReload: d.lastLoad, Interfaces: []InterfaceStatus{}, Hotplug: d.hotplugStatus(), Firewall: d.fw.Status(), Counters: d.counters}
	s.Counters.ResolutionsOK, s.Counters.ResolutionsFail = d.resolver.resolvedOK.Load(), d.resolver.resolvedFailed.Load()
	for _, p := range d.problems {
		s.Problems = append(s.Problems, p.Error())
	}
	now := d.clock()
	for _, c := range d.cfg.Interfaces {
		is := InterfaceStatus{Name: c.Name, PublicKey: c.PublicKey(), ListenPort: c.ListenPort, Addresses: c.Addresses, Error: d.ifaceErrs[c.Name], Peers: []PeerStatus{}}
		is.MTU, is.MTUAuto = d.mtuOf(c), c.MTU == 0
		var engine map[config.Key]PeerStatus
		if iface := d.ifaces[c.Name]; iface != nil {
			is.Up, is.MTU = true, iface.MTU()
			if r := d.routers[c.Name]; r != nil {
				is.Missing = r.State().Missing
			}
			if st, err := iface.State(); err != nil {
				is.Error = err.Error()
			} else {
				d.observe(c.Name, st, now)
				is.ListenPort = st.ListenPort
				is.Oversized = &OversizedStatus{FromLink: st.OversizedFromTUN, FromNetwork: st.OversizedFromNetwork, ICMPSent: st.TooBigSent}
				// Without its socket an interface reaches nobody.
				is.Up = iface.ListenPort() == 0 || st.ListenPort == iface.ListenPort()
				if st.PoolCapacity > 0 {
					if s.Pool == nil {
						s.Pool = &PoolStatus{}
					}
					s.Pool.Capacity += st.PoolCapacity
					s.Pool.InUse += st.PoolInUse
				}
				engine = map[config.Key]PeerStatus{}
				for _, p := range st.Peers {
					ps := PeerStatus{RxBytes: p.RxBytes, TxBytes: p.TxBytes, AllowedIPs: p.AllowedIPs}
					if ps.AllowedIPs == nil {
						ps.AllowedIPs = []netip.Prefix{}
					}
					if p.Endpoint.IsValid() {
						ps.Endpoint = p.Endpoint.String()
					}
					if !p.LastHandshake.IsZero() {
						ps.LatestHandshake = p.LastHandshake.Unix()
					}
					engine[p.PublicKey] = ps
				}
			}
		}
		if errs, ok := d.kept[c.Name]; ok {
			what := "running its last good configuration"
			if !is.Up {
				what = "last good configuration kept"
			}
			is.Error = joinErrors(what+"; the new one has errors: "+errs, is.Error)
		}
		switch {
		case d.portBusy[c.Name]:
			is.Reason = "listen_port_in_use"
		case d.kept[c.Name] != "":
			is.Reason = "config_errors"
		case d.l3Missing[c.Name]:
			is.Reason = "layer3_missing"
		case is.Error != "":
			is.Reason = "error"
		}
		for _, p := range c.Peers {
			ps, running := engine[p.PublicKey]
			ps.Description, ps.PublicKey, ps.EndpointHost = p.Description, p.PublicKey, p.Endpoint()
			ps.PersistentKeepalive = p.PersistentKeepalive
			if !running {
				ps.AllowedIPs = p.AllowedIPs // what it will route once up
			}
			if !p.Expires.IsZero() {
				ps.Expires, ps.Expired = p.Expires.Unix(), p.Expired(now)
			}
			if t, ok := d.total(c.Name, p.PublicKey); ok {
				ps.TotalRxBytes, ps.TotalTxBytes = t.Rx, t.Tx
			}
			is.Peers = append(is.Peers, ps)
		}
		s.Interfaces = append(s.Interfaces, is)
	}
	return s
}

func joinErrors(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
