// Package metrics exports wgd's state to Prometheus. The collector reads
// a Snapshot from its Source at every scrape (no polling loop), so a
// scrape shows the state of that moment and costs nothing between scrapes.
//
// Peer metric names and labels follow MindFlavor's
// prometheus_wireguard_exporter, so existing dashboards and alert rules
// work unchanged.
package metrics

import (
	"context"
	"net/netip"
	"time"

	"wgd/api"
)

// Source gives the state to export. It is called once per scrape.
type Source interface {
	Snapshot(ctx context.Context) (*Snapshot, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context) (*Snapshot, error)

// Snapshot implements Source.
func (f SourceFunc) Snapshot(ctx context.Context) (*Snapshot, error) { return f(ctx) }

// StatusSource makes a Source of a function returning the daemon's status,
// such as a daemon's status request.
func StatusSource(status func(ctx context.Context) (*api.Status, error)) Source {
	return SourceFunc(func(ctx context.Context) (*Snapshot, error) {
		st, err := status(ctx)
		if err != nil {
			return nil, err
		}
		return FromStatus(st), nil
	})
}

// Snapshot is what wgd knows at one instant. It holds no secret: there is
// no field a private or preshared key could go to.
type Snapshot struct {
	Interfaces []Interface
	Daemon     Daemon
}

// Interface is one configured WireGuard interface.
type Interface struct {
	Name       string
	Up         bool
	ListenPort uint16
	Peers      []Peer
	// DroppedPackets counts packets the interface dropped; nil: not known.
	DroppedPackets *uint64
	// Reason says why the interface is down, not on its configuration or
	// without all of its layer 3 (api.InterfaceStatus.Reason); "" when
	// all is well.
	Reason string
}

// Peer is one configured peer of an interface.
type Peer struct {
	PublicKey       string // base64
	Description     string // UCI description, the friendly name
	AllowedIPs      []netip.Prefix
	Endpoint        netip.AddrPort // in use; zero: none
	LatestHandshake int64          // UNIX seconds; 0: never
	RxBytes         uint64
	TxBytes         uint64
	// Totals is the traffic over all sessions, across restarts; nil:
	// not known (the interface is not running).
	Totals *Totals
	// Expires is when a guest peer stops running, UNIX seconds; 0: never.
	Expires int64
}

// Totals are a peer's bytes over all sessions.
type Totals struct {
	Rx, Tx uint64
}

// Daemon is the state of wgd itself. Each pointer is nil while the daemon
// does not report that part; its metrics are then left out rather than
// exported as zero.
type Daemon struct {
	LastReload time.Time // when the configuration was last applied; zero: never
	Problems   int       // configuration problems (errors and warnings) of that load

	Reloads     *Reloads
	Hotplug     *Hotplug
	Resolutions *Resolutions
	Firewall    *Firewall
	Pool        *Pool
}

// Reload results.
const (
	ReloadOK      = "ok"      // applied without problems
	ReloadPartial = "partial" // applied, but with configuration errors or failed interfaces
	ReloadFailed  = "failed"  // not applied (e.g. the file could not be read)
)

// Reloads counts configuration loads since the daemon started.
type Reloads struct {
	OK, Partial, Failed uint64
	Last                string // result of the latest: ReloadOK, ReloadPartial or ReloadFailed
}

// Hotplug counts hotplug events received, those dropped (queue full) and
// the refreshes they caused.
type Hotplug struct {
	Events, Dropped, Refreshes uint64
}

// Resolutions counts re-resolutions of endpoint names.
type Resolutions struct {
	OK, Failed uint64
}

// Firewall is the state of the rule opening the listen ports.
type Firewall struct {
	Backend string // "fw4", "nftables", "iptables", ...
	Active  bool   // the rule is in place
}

// Pool is the packet buffer pool.
type Pool struct {
	Capacity int // buffers at most; 0: unbounded
	InUse    int
}

// FromStatus takes what the metrics need from the daemon's status.
func FromStatus(st *api.Status) *Snapshot {
	s := &Snapshot{Interfaces: make([]Interface, 0, len(st.Interfaces))}
	s.Daemon.LastReload, s.Daemon.Problems = st.LastReload, len(st.Problems)
	c := st.Counters
	if c.LastReload != "" {
		s.Daemon.Reloads = &Reloads{OK: c.ReloadsOK, Partial: c.ReloadsPartial, Failed: c.ReloadsFailed, Last: c.LastReload}
	}
	s.Daemon.Resolutions = &Resolutions{OK: c.ResolutionsOK, Failed: c.ResolutionsFail}
	if f := st.Firewall; f.Backend != "" {
		s.Daemon.Firewall = &Firewall{Backend: f.Backend, Active: f.Backend != "none" && f.Error == "" && len(f.Holes) > 0}
	}
	if p := st.Pool; p != nil {
		s.Daemon.Pool = &Pool{Capacity: p.Capacity, InUse: p.InUse}
	}
	if h := st.Hotplug; h != nil {
		s.Daemon.Hotplug = &Hotplug{Events: uint64(h.Events), Dropped: uint64(h.Dropped), Refreshes: uint64(h.Refreshes)}
	}
	for _, is := range st.Interfaces {
		i := Interface{Name: is.Name, Up: is.Up, ListenPort: is.ListenPort, Reason: is.Reason, Peers: make([]Peer, 0, len(is.Peers))}
		if o := is.Oversized; o != nil {
			n := o.FromLink + o.FromNetwork
			i.DroppedPackets = &n
		}
		for _, ps := range is.Peers {
			p := Peer{
				PublicKey:       ps.PublicKey.String(),
				Description:     ps.Description,
				AllowedIPs:      ps.AllowedIPs,
				LatestHandshake: ps.LatestHandshake,
				RxBytes:         ps.RxBytes,
				TxBytes:         ps.TxBytes,
				Expires:         ps.Expires,
			}
			if is.Up {
				p.Totals = &Totals{Rx: ps.TotalRxBytes, Tx: ps.TotalTxBytes}
			}
			// Status carries the endpoint as text; an unparsable one is
			// left out rather than exported wrong.
			if ap, err := netip.ParseAddrPort(ps.Endpoint); err == nil {
				p.Endpoint = ap
			}
			i.Peers = append(i.Peers, p)
		}
		s.Interfaces = append(s.Interfaces, i)
	}
	return s
}
