package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
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
	tuns    map[string]*failingTUN // the last TUN of each link
	routers map[string]*fakeRouter // the last router of each link
	// refused are routes no router puts in place, as if the kernel
	// refused them.
	refused map[netip.Prefix]bool
}

func newParts() *parts {
	return &parts{tuns: map[string]*failingTUN{}, routers: map[string]*fakeRouter{}, refused: map[netip.Prefix]bool{}}
}

func (p *parts) opener() Opener {
	return Opener{
		TUN: func(name string, _ int) (tun.Device, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			t := newFailingTUN()
			p.tuns[name] = t
			return t, nil
		},
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

// failTUN makes the last TUN of link fail, as a kernel TUN does whose
// link was deleted: the engine closes the device by itself.
func (p *parts) failTUN(link string) {
	p.mu.Lock()
	t := p.tuns[link]
	p.mu.Unlock()
	t.failOnce.Do(func() { close(t.failed) })
}

// failingTUN is a tuntest TUN whose reads can be made to fail.
type failingTUN struct {
	tun.Device
	ch                 *tuntest.ChannelTUN
	failed, closed     chan struct{}
	failOnce, shutOnce sync.Once
}

func newFailingTUN() *failingTUN {
	ch := tuntest.NewChannelTUN()
	return &failingTUN{Device: ch.TUN(), ch: ch, failed: make(chan struct{}), closed: make(chan struct{})}
}

func (t *failingTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case <-t.closed:
		return 0, os.ErrClosed
	case <-t.failed:
		return 0, errors.New("TUN read: the link is gone")
	case msg := <-t.ch.Outbound:
		sizes[0] = copy(bufs[0][offset:], msg)
		return 1, nil
	}
}

func (t *failingTUN) Close() error {
	t.shutOnce.Do(func() { close(t.closed) })
	return t.Device.Close()
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
	sets   int            // calls of Set
	closed bool
}

func (r *fakeRouter) Set(c router.Config) error {
	r.parts.mu.Lock()
	defer r.parts.mu.Unlock()
	r.want, r.routes, r.sets = c, nil, r.sets+1
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

func (r *fakeRouter) Complete() bool { return len(r.State().Missing) == 0 }

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

// setCount is how many times r was set.
func (r *fakeRouter) setCount() int {
	r.parts.mu.Lock()
	defer r.parts.mu.Unlock()
	return r.sets
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
