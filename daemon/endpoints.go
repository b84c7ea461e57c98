package daemon

import (
	"maps"
	"net/netip"

	"wgd/config"
)

// endpoints is the one record of where peers are sent: per interface
// and peer, the configured endpoint_host and port, the address in use
// and where that address came from. It follows the configuration
// (follow); the resolver and the WAN refresh bring addresses for names
// (set), which is the only place an answer for a host the peer no longer
// names is dropped. The desired state of an interface reads it (addrs)
// and nothing else. Only the daemon's goroutine touches it.
//
// An address the engine learns from a roaming peer's packets is the
// engine's: status shows it, this record does not hold it.
type endpoints map[string]map[config.Key]endpoint

type endpoint struct {
	host   string
	port   uint16
	addr   netip.AddrPort // invalid: a name not resolved yet
	source endpointSource
}

type endpointSource int

const (
	fromConfig endpointSource = iota // endpoint_host is an address
	fromDNS                          // endpoint_host is a name
)

// follow makes the interface's record follow c: a peer gone, or without
// endpoint_host, has none; an address is taken as it is; a name keeps
// the address it resolved to while host and port stay the same, and has
// none (until it resolves) once they change.
func (e endpoints) follow(c config.Interface) {
	old := e[c.Name]
	now := make(map[config.Key]endpoint, len(c.Peers))
	for _, p := range c.Peers {
		if p.EndpointHost == "" {
			continue
		}
		ep := endpoint{host: p.EndpointHost, port: p.EndpointPort, source: fromDNS}
		if a, err := netip.ParseAddr(p.EndpointHost); err == nil {
			ep.addr, ep.source = netip.AddrPortFrom(a, p.EndpointPort), fromConfig
		} else if o, ok := old[p.PublicKey]; ok && o.host == ep.host && o.port == ep.port {
			ep.addr = o.addr
		}
		now[p.PublicKey] = ep
	}
	e[c.Name] = now
}

// set records addr as what host:port resolved to for the peer. It
// reports false, changing nothing, when the peer no longer names
// host:port (the answer is stale) or already has addr.
func (e endpoints) set(iface string, peer config.Key, host string, port uint16, addr netip.AddrPort) bool {
	ep, ok := e[iface][peer]
	if !ok || ep.source != fromDNS || ep.host != host || ep.port != port || ep.addr == addr {
		return false
	}
	ep.addr = addr
	e[iface][peer] = ep
	return true
}

// get is the peer's record.
func (e endpoints) get(iface string, peer config.Key) (endpoint, bool) {
	ep, ok := e[iface][peer]
	return ep, ok
}

// addrs are the addresses the interface's peers are sent to: a copy.
func (e endpoints) addrs(iface string) map[config.Key]netip.AddrPort {
	out := make(map[config.Key]netip.AddrPort, len(e[iface]))
	for k, ep := range e[iface] {
		if ep.addr.IsValid() {
			out[k] = ep.addr
		}
	}
	return out
}

// names are the interface's peers whose endpoint is a name: a copy.
func (e endpoints) names(iface string) map[config.Key]endpoint {
	out := maps.Clone(e[iface])
	maps.DeleteFunc(out, func(_ config.Key, ep endpoint) bool { return ep.source != fromDNS })
	return out
}

func (e endpoints) forget(iface string) { delete(e, iface) }
