// Package router gives a tunnel link its layer 3: MTU, addresses, routes
// into the tunnel and host routes that keep peers' endpoints outside it.
// Standalone installs them itself and tracks what is in place, not what
// was asked: what could not be installed (or removed) stays wanted, is
// tried again by the next Set, and State says what is missing. Under
// netifd, netifd installs what the protocol handler reports; Netifd
// keeps that report and says what it could not make of it. Calling Set
// again, on a timer, is the caller's.
package router

import (
	"errors"
	"net/netip"
	"slices"
)

// Config is the layer-3 state a tunnel link should have.
type Config struct {
	MTU       int // 0: the link's own
	Addresses []netip.Prefix
	// Routes are the networks routed into the tunnel.
	Routes []netip.Prefix
	// Endpoints are the peers' endpoint addresses. Those inside Routes
	// are kept on the path they have outside the tunnel, unless
	// NoHostRoute.
	Endpoints   []netip.Addr
	NoHostRoute bool
}

// Route is a route into the tunnel.
type Route struct {
	Dst netip.Prefix
	// Metric, when not 0, keeps the route beside a route of the same
	// network through another link.
	Metric uint32
}

// State is what a router has in place.
type State struct {
	MTU       int
	Addresses []netip.Prefix
	Routes    []Route
	// Endpoints kept outside the tunnel: by a host route (standalone),
	// as netifd's host dependencies (netifd).
	Endpoints []netip.Addr
	// Missing says, one item each, what is wanted and not in place, and
	// why.
	Missing []string
}

// Router sets the layer 3 of one tunnel link.
type Router interface {
	// Set makes c the wanted state and puts in place what is not yet;
	// the error says what could not be. Calling it again with the same
	// c tries again what is missing.
	Set(c Config) error
	// State is what is in place.
	State() State
	// Complete tells whether nothing is missing (State's Missing is
	// empty), without asking the kernel.
	Complete() bool
	// Close removes what the router installed that does not go with the
	// link, and releases the router.
	Close() error
}

// clone copies c's slices, which the caller may reuse.
func (c Config) clone() Config {
	c.Addresses = slices.Clone(c.Addresses)
	c.Routes = slices.Clone(c.Routes)
	c.Endpoints = slices.Clone(c.Endpoints)
	return c
}

// Pinned are the endpoints a host route keeps outside the tunnel: those
// inside Routes (once each, sorted), none if NoHostRoute. Their path
// follows the WAN.
func (c Config) Pinned() []netip.Addr {
	if c.NoHostRoute {
		return nil
	}
	return inside(c.Endpoints, c.Routes)
}

// inside are the addresses of eps (unmapped, once each, sorted) that lie
// in one of routes.
func inside(eps []netip.Addr, routes []netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for _, a := range eps {
		a = a.Unmap()
		if !slices.Contains(out, a) && slices.ContainsFunc(routes, func(p netip.Prefix) bool { return p.Contains(a) }) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// ErrIncomplete marks Set's error: some of the Config is not in place.
var ErrIncomplete = errors.New("layer 3 not all in place")

// incomplete is Set's error: errs, marked ErrIncomplete.
type incomplete struct{ error }

func (e incomplete) Is(target error) bool { return target == ErrIncomplete }
func (e incomplete) Unwrap() error        { return e.error }

// missing is the error of Set for errs, nil when there are none.
func missing(errs []error) error {
	if err := errors.Join(errs...); err != nil {
		return incomplete{err}
	}
	return nil
}
