package router

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"

	"wgd/internal/rtnl"
)

// Standalone installs a link's layer 3 itself, through rtnetlink.
type Standalone struct {
	nl    *rtnl.Conn
	index int
	want  Config

	// What is in place: set by this router, or found there.
	up     bool
	mtu    int
	addrs  []netip.Prefix
	routes []netip.Prefix
	hosts  []hostRoute
	// missing is what the last Set could not put in place.
	missing []error
}

// NewStandalone makes the router of the link named link, which exists.
func NewStandalone(link string) (*Standalone, error) {
	nl, index, err := openLink(link)
	if err != nil {
		return nil, err
	}
	return &Standalone{nl: nl, index: index}, nil
}

// openLink opens a netlink connection for the link named link, and
// finds its index.
func openLink(link string) (*rtnl.Conn, int, error) {
	nl, err := rtnl.Open()
	if err != nil {
		return nil, 0, err
	}
	l, err := nl.LinkByName(link)
	if err != nil {
		nl.Close()
		return nil, 0, err
	}
	return nl, l.Index, nil
}

// Set puts c in place: the link's MTU and addresses, the link up, host
// routes to endpoints, then the routes (which may cover the endpoints).
func (s *Standalone) Set(c Config) error {
	s.want = c.clone()
	var errs []error
	if c.MTU != 0 && c.MTU != s.mtu {
		if err := s.nl.SetMTU(s.index, c.MTU); err != nil {
			errs = append(errs, fmt.Errorf("mtu %d: %w", c.MTU, err))
		} else {
			s.mtu = c.MTU
		}
	}
	errs = append(errs, s.syncAddrs()...)
	if !s.up {
		// Routes via a link can only be added once it is up.
		if err := s.nl.SetLinkUp(s.index); err != nil {
			errs = append(errs, fmt.Errorf("link up: %w", err))
		} else {
			s.up = true
		}
	}
	errs = append(errs, s.syncHostRoutes()...)
	errs = append(errs, s.syncRoutes()...)
	s.missing = slices.DeleteFunc(errs, func(e error) bool { return e == nil })
	return missing(s.missing)
}

func (s *Standalone) syncAddrs() []error {
	var errs []error
	for _, p := range minus(s.addrs, s.want.Addresses) {
		if err := s.nl.DelAddr(s.index, p); err != nil {
			errs = append(errs, err)
			continue
		}
		s.addrs = slices.DeleteFunc(s.addrs, func(q netip.Prefix) bool { return q == p })
	}
	for _, p := range minus(s.want.Addresses, s.addrs) {
		if err := s.nl.AddAddr(s.index, p); err != nil {
			errs = append(errs, err)
			continue
		}
		s.addrs = append(s.addrs, p)
	}
	return errs
}

// syncHostRoutes pins the endpoints inside the routed networks, unless
// NoHostRoute. A WAN change may move their path, so it is found anew on
// every Set.
func (s *Standalone) syncHostRoutes() []error {
	var want []hostRoute
	var errs []error
	for _, a := range s.want.Pinned() {
		h, err := pathTo(s.nl, a, s.index, s.hosts)
		if err != nil {
			errs = append(errs, fmt.Errorf("host route to endpoint %s: %w", a, err))
			continue
		}
		want = append(want, h)
	}
	return append(errs, s.setHostRoutes(want)...)
}

// setHostRoutes makes the installed host routes want, as far as the
// kernel takes them.
func (s *Standalone) setHostRoutes(want []hostRoute) []error {
	var errs []error
	var kept []hostRoute
	for _, h := range s.hosts {
		if slices.Contains(want, h) {
			kept = append(kept, h)
		} else if err := delHostRoute(s.nl, h); err != nil {
			errs = append(errs, err)
			kept = append(kept, h)
		}
	}
	for _, h := range want {
		if slices.Contains(kept, h) {
			continue
		}
		if err := addHostRoute(s.nl, h); err != nil {
			errs = append(errs, err)
			continue
		}
		kept = append(kept, h)
	}
	s.hosts = kept
	return errs
}

// syncRoutes removes the routes no longer wanted and adds those the link
// lacks. The kernel is asked what the link has: a route that took no
// error may still not be there (an IPv4 route of the same network and
// metric through another link counts as existing), and one removed by
// someone else is put back. A route that could not be removed stays
// tracked, missing its removal, for the next Set and Close.
func (s *Standalone) syncRoutes() []error {
	var errs []error
	var stale []netip.Prefix
	for _, p := range minus(s.routes, s.want.Routes) {
		if err := s.delRoute(p); err != nil {
			errs = append(errs, err)
			stale = append(stale, p)
		}
	}
	s.routes = slices.DeleteFunc(s.routes, func(q netip.Prefix) bool {
		return !slices.Contains(s.want.Routes, q) && !slices.Contains(stale, q)
	})
	if len(s.want.Routes) == 0 {
		return errs
	}
	have, err := s.linkRoutes()
	if err != nil {
		return append(errs, err)
	}
	added, failed := false, map[netip.Prefix]bool{}
	for _, p := range s.want.Routes {
		if slices.Contains(have, p.Masked()) {
			continue
		}
		if err := s.nl.AddRoute(s.index, p); err != nil {
			errs = append(errs, err)
			failed[p] = true
			continue
		}
		added = true
	}
	if added {
		if have, err = s.linkRoutes(); err != nil {
			return append(errs, err)
		}
	}
	s.routes = stale
	for _, p := range s.want.Routes {
		switch {
		case slices.Contains(have, p.Masked()):
			s.routes = append(s.routes, p)
		case !failed[p]:
			errs = append(errs, fmt.Errorf("route %s: not in place: the main table has a route of that network through another link", p))
		}
	}
	return errs
}

// delRoute removes the route to p through the link; one already gone,
// or whose link is, is removed.
func (s *Standalone) delRoute(p netip.Prefix) error {
	if err := s.nl.DelRoute(s.index, p); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("route %s: not removed: %w", p, err)
	}
	return nil
}

// linkRoutes are the main-table destinations routed through the link.
func (s *Standalone) linkRoutes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		rs, err := s.nl.Routes(family)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if r.Table == unix.RT_TABLE_MAIN && slices.Contains(r.Links(), s.index) {
				out = append(out, r.Dst)
			}
		}
	}
	return out, nil
}

// Complete tells whether the last Set put everything in place.
func (s *Standalone) Complete() bool { return len(s.missing) == 0 }

// State is what is in place.
func (s *Standalone) State() State {
	st := State{MTU: s.mtu, Addresses: slices.Clone(s.addrs)}
	for _, p := range s.routes {
		st.Routes = append(st.Routes, Route{Dst: p})
	}
	for _, h := range s.hosts {
		st.Endpoints = append(st.Endpoints, h.dst)
	}
	for _, e := range s.missing {
		st.Missing = append(st.Missing, e.Error())
	}
	return st
}

// Close removes the routes and host routes; the addresses go with the
// link.
func (s *Standalone) Close() error {
	var errs []error
	for _, p := range s.routes {
		errs = append(errs, s.delRoute(p))
	}
	errs = append(errs, s.setHostRoutes(nil)...)
	s.routes = nil
	errs = append(errs, s.nl.Close())
	return errors.Join(errs...)
}

// minus returns the prefixes of a that are not in b.
func minus(a, b []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range a {
		if !slices.Contains(b, p) {
			out = append(out, p)
		}
	}
	return out
}
