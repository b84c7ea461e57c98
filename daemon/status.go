package daemon

import (
	"net/netip"

	"wgd/api"
	"wgd/config"
)

func (d *Daemon) status() *api.Status {
	s := &api.Status{ConfigDir: d.opts.ConfigDir, LastReload: d.lastLoad, Interfaces: []api.InterfaceStatus{}, Hotplug: d.hotplugStatus(), Firewall: d.fw.Status(), Counters: d.counters}
	s.Counters.ResolutionsOK, s.Counters.ResolutionsFail = d.resolver.resolvedOK.Load(), d.resolver.resolvedFailed.Load()
	for _, p := range d.problems {
		s.Problems = append(s.Problems, p.Error())
	}
	now := d.clock()
	for _, c := range d.cfg.Interfaces {
		is := api.InterfaceStatus{Name: c.Name, PublicKey: c.PublicKey(), ListenPort: c.ListenPort, Addresses: c.Addresses, Error: d.ifaceErrs[c.Name], Peers: []api.PeerStatus{}}
		is.MTU, is.MTUAuto = d.mtuOf(c), c.MTU == 0
		var engine map[config.Key]api.PeerStatus
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
				is.Oversized = &api.OversizedStatus{FromLink: st.OversizedFromTUN, FromNetwork: st.OversizedFromNetwork, ICMPSent: st.TooBigSent}
				// Without its socket an interface reaches nobody.
				is.Up = iface.ListenPort() == 0 || st.ListenPort == iface.ListenPort()
				if st.PoolCapacity > 0 {
					if s.Pool == nil {
						s.Pool = &api.PoolStatus{}
					}
					s.Pool.Capacity += st.PoolCapacity
					s.Pool.InUse += st.PoolInUse
				}
				engine = map[config.Key]api.PeerStatus{}
				for _, p := range st.Peers {
					ps := api.PeerStatus{RxBytes: p.RxBytes, TxBytes: p.TxBytes, AllowedIPs: p.AllowedIPs}
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
		case is.Error != "":
			is.Reason = "error"
		case len(is.Missing) > 0:
			is.Reason = "layer3_missing"
		}
		for _, p := range c.Peers {
			ps, running := engine[p.PublicKey]
			ps.Description, ps.PublicKey, ps.EndpointHost = p.Description, p.PublicKey, p.Endpoint()
			ps.PersistentKeepalive = p.PersistentKeepalive
			ps.EndpointSource = d.endpointSource(c.Name, p.PublicKey, ps.Endpoint)
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

// endpointSource says where inUse, the endpoint the engine sends a peer
// to ("" when none or not running), comes from.
func (d *Daemon) endpointSource(iface string, peer config.Key, inUse string) string {
	ep, ok := d.endpoints.get(iface, peer)
	switch {
	case inUse == "":
		return ""
	case !ok || !ep.addr.IsValid() || ep.addr.String() != inUse:
		return "engine"
	case ep.source == fromConfig:
		return "config"
	}
	return "dns"
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
