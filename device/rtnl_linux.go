package device

import (
	"net/netip"

	nl "wgd/internal/rtnl"
)

// rtnl is the interface's rtnetlink socket, bound to the network
// namespace it was opened in; internal/rtnl speaks the protocol.
type rtnl struct{ *nl.Conn }

func openRtnl() (*rtnl, error) {
	c, err := nl.Open()
	if err != nil {
		return nil, err
	}
	return &rtnl{c}, nil
}

func (r *rtnl) linkIndex(name string) (int, error) {
	l, err := r.LinkByName(name)
	return l.Index, err
}

func (r *rtnl) setLinkUp(index int) error                { return r.SetLinkUp(index) }
func (r *rtnl) setMTU(index, mtu int) error              { return r.SetMTU(index, mtu) }
func (r *rtnl) addAddr(index int, p netip.Prefix) error  { return r.AddAddr(index, p) }
func (r *rtnl) delAddr(index int, p netip.Prefix) error  { return r.DelAddr(index, p) }
func (r *rtnl) addRoute(index int, p netip.Prefix) error { return r.AddRoute(index, p) }
func (r *rtnl) delRoute(index int, p netip.Prefix) error { return r.DelRoute(index, p) }
