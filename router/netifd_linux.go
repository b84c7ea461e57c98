package router

import (
	"fmt"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"

	"wgd/internal/rtnl"
)

// Netifd is the router of a link whose layer 3 netifd installs: what
// Set is given goes into the protocol handler's answer (State), which
// netifd acts on. Only the MTU is set here: netifd leaves the MTU of a
// protocol handler's device alone. Missing is what the answer could not
// carry as it should (the MTU not set, the routes' metrics not found).
type Netifd struct {
	nl    *rtnl.Conn
	index int
	want  Config
	mtu   int   // set on the link
	err   error // of setting the MTU last
	// metrics of the routes as last found; dumpErr: the last look failed,
	// and the routes keep those.
	metrics map[netip.Prefix]uint32
	dumpErr error
}

// NewNetifd makes the router of the link named link, which exists.
func NewNetifd(link string) (*Netifd, error) {
	nl, index, err := openLink(link)
	if err != nil {
		return nil, err
	}
	return &Netifd{nl: nl, index: index}, nil
}

// Set records c for the answer and sets the link's MTU.
func (n *Netifd) Set(c Config) error {
	n.want = c.clone()
	n.err = nil
	if c.MTU != 0 && c.MTU != n.mtu {
		if err := n.nl.SetMTU(n.index, c.MTU); err != nil {
			n.err = fmt.Errorf("mtu %d: %w", c.MTU, err)
		} else {
			n.mtu = c.MTU
		}
	}
	return missing([]error{n.err})
}

// State is what the answer holds: the wanted MTU, addresses, routes (each
// with the metric that keeps it beside a route of the same network
// through another link, as the kernel has them now) and every endpoint,
// for netifd's host dependencies.
func (n *Netifd) State() State {
	st := State{MTU: n.want.MTU, Addresses: slices.Clone(n.want.Addresses), Endpoints: slices.Clone(n.want.Endpoints)}
	st.Routes = n.routes()
	for _, err := range []error{n.err, n.dumpErr} {
		if err != nil {
			st.Missing = append(st.Missing, err.Error())
		}
	}
	return st
}

// Complete tells whether the MTU was set and the routes' metrics found
// at the last look.
func (n *Netifd) Complete() bool { return n.err == nil && n.dumpErr == nil }

// routes are the wanted routes with their metrics as the kernel's table
// has them now. When the table cannot be read, each keeps the metric
// last found (a metric of 0 would have netifd's replace take the place
// of another link's route) and dumpErr says so.
func (n *Netifd) routes() []Route {
	n.dumpErr = nil
	if len(n.want.Routes) == 0 {
		return nil
	}
	var table []rtnl.Route
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		rs, err := n.nl.Routes(family)
		if err != nil {
			n.dumpErr = fmt.Errorf("routes' metrics not found, the last ones kept: %w", err)
			out := make([]Route, 0, len(n.want.Routes))
			for _, p := range n.want.Routes {
				out = append(out, Route{Dst: p, Metric: n.metrics[p]})
			}
			return out
		}
		table = append(table, rs...)
	}
	out := metrics(n.index, n.want.Routes, table)
	n.metrics = map[netip.Prefix]uint32{}
	for _, r := range out {
		n.metrics[r.Dst] = r.Metric
	}
	return out
}

// metrics gives each of prefixes the metric one more than the highest of
// a main-table route of the same network through another link than
// index's, so that netifd's NLM_F_REPLACE (system_rt in its
// system-linux.c) adds it beside that route instead of taking its place,
// which its ifdown would then leave without either.
func metrics(index int, prefixes []netip.Prefix, table []rtnl.Route) []Route {
	out := make([]Route, 0, len(prefixes))
	for _, p := range prefixes {
		r := Route{Dst: p}
		for _, k := range table {
			if k.Dst == p && k.Table == unix.RT_TABLE_MAIN && !slices.Contains(k.Links(), index) && k.Priority >= r.Metric {
				r.Metric = k.Priority + 1
			}
		}
		out = append(out, r)
	}
	return out
}

// Close releases the router; what netifd installed stays with netifd.
func (n *Netifd) Close() error { return n.nl.Close() }
