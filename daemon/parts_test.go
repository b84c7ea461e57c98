package daemon

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/conn/bindtest"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/tuntest"

	"wgd/router"
)

// parts is an Opener on channels: wireguard-go's tun/tuntest TUNs and
// conn/bindtest binds, and routers that keep what they are set to. A
// daemon on it makes no kernel object and needs no root.
type parts struct {
	mu      sync.Mutex
	routers map[string]*fakeRouter // the last router of each link
	// refused are routes no router puts in place, as if the kernel
	// refused them.
	refused map[netip.Prefix]bool
}

func newParts() *parts {
	return &parts{routers: map[string]*fakeRouter{}, refused: map[netip.Prefix]bool{}}
}

func (p *parts) opener() Opener {
	return Opener{
		TUN:  func(string, int) (tun.Device, error) { return tuntest.NewChannelTUN().TUN(), nil },
		Bind: func() conn.Bind { return portBind{bindtest.NewChannelBinds()[0]} },
		Router: func(link string) (router.Router, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			r := &fakeRouter{parts: p}
			p.routers[link] = r
			return r, nil
		},
	}
}

// router is the last router made for link, nil if none.
func (p *parts) router(link string) *fakeRouter {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.routers[link]
}

func (p *parts) refuse(route netip.Prefix, refused bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refused[route] = refused
}

// fakeRouter keeps what it is set to; its routes are in place unless
// parts refuses them.
type fakeRouter struct {
	parts  *parts
	want   router.Config
	routes []netip.Prefix // in place
	sets   int
	closed bool
}

func (r *fakeRouter) Set(c router.Config) error {
	r.parts.mu.Lock()
	defer r.parts.mu.Unlock()
	r.want, r.sets, r.routes = c, r.sets+1, nil
	var missing []error
	for _, p := range c.Routes {
		if r.parts.refused[p] {
			missing = append(missing, fmt.Errorf("%w: route %s refused", router.ErrIncomplete, p))
			continue
		}
		r.routes = append(r.routes, p)
	}
	if len(missing) > 0 {
		return missing[0]
	}
	return nil
}

func (r *fakeRouter) State() router.State {
	r.parts.mu.Lock()
	defer r.parts.mu.Unlock()
	st := router.State{MTU: r.want.MTU, Addresses: slices.Clone(r.want.Addresses), Endpoints: slices.Clone(r.want.Endpoints)}
	for _, p := range r.routes {
		st.Routes = append(st.Routes, router.Route{Dst: p})
	}
	for _, p := range r.want.Routes {
		if !slices.Contains(r.routes, p) {
			st.Missing = append(st.Missing, "route "+p.String()+" refused")
		}
	}
	return st
}

func (r *fakeRouter) Close() error {
	r.parts.mu.Lock()
	defer r.parts.mu.Unlock()
	r.closed = true
	return nil
}

// config is what r was set to last, and whether it is closed.
func (r *fakeRouter) config() (router.Config, bool) {
	r.parts.mu.Lock()
	defer r.parts.mu.Unlock()
	return r.want, r.closed
}

// portBind is bindtest's ChannelBind as UDP sockets look: it listens on
// the port it is asked for, and its endpoints keep their address.
type portBind struct{ conn.Bind }

type addrEndpoint struct {
	bindtest.ChannelEndpoint
	ap netip.AddrPort
}

func (e addrEndpoint) DstToString() string { return e.ap.String() }
func (e addrEndpoint) DstIP() netip.Addr   { return e.ap.Addr() }

func (b portBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, actual, err := b.Bind.Open(port)
	if port != 0 {
		actual = port
	}
	return fns, actual, err
}

func (b portBind) ParseEndpoint(s string) (conn.Endpoint, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil, err
	}
	ep, err := b.Bind.ParseEndpoint(s)
	if err != nil {
		return nil, err
	}
	return addrEndpoint{ep.(bindtest.ChannelEndpoint), ap}, nil
}

func (b portBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	if a, ok := ep.(addrEndpoint); ok {
		ep = a.ChannelEndpoint
	}
	return b.Bind.Send(bufs, ep)
}
