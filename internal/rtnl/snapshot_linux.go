package rtnl

import (
	"golang.org/x/sys/unix"
)

// Snapshot is the part of the kernel's network state that tells where the
// WAN is: links, addresses and default routes.
type Snapshot struct {
	Links map[int]Link
	// Addrs are the IPv4 and IPv6 addresses of every link.
	Addrs []Addr
	// Defaults are the unicast IPv4 and IPv6 default routes outside the
	// local table that lead through some link.
	Defaults []Route
}

// Snapshot reads the links, addresses and default routes.
func (c *Conn) Snapshot() (*Snapshot, error) {
	links, err := c.Links()
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Links: make(map[int]Link, len(links))}
	for _, l := range links {
		s.Links[l.Index] = l
	}
	if s.Addrs, err = c.Addrs(0); err != nil {
		return nil, err
	}
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		routes, err := c.Routes(family)
		if err != nil {
			return nil, err
		}
		for _, r := range routes {
			if r.Dst.IsValid() && r.Dst.Bits() == 0 && r.Type == unix.RTN_UNICAST &&
				r.Table != unix.RT_TABLE_LOCAL && len(r.Links()) > 0 {
				s.Defaults = append(s.Defaults, r)
			}
		}
	}
	return s, nil
}

// ReadSnapshot reads a snapshot through a connection of its own, for a
// process that keeps none open (the command line).
func ReadSnapshot() (*Snapshot, error) {
	c, err := Open()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Snapshot()
}
