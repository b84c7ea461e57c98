package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"wgd/config"
)

// Bounds of the retry delay of an endpoint name that does not resolve.
const (
	resolveRetryMin = time.Second
	resolveRetryMax = 5 * time.Minute
	resolveTimeout  = 10 * time.Second
)

// resolver turns peers' endpoint names into addresses in the background,
// retrying with backoff, so a name that does not resolve never holds up
// an interface. Its methods run on the daemon's goroutine; results come
// back through do, onto that goroutine.
type resolver struct {
	log *slog.Logger
	do  func(context.Context, func()) error
	// found takes what host:port resolved to; it drops an answer for a
	// host the peer no longer names.
	found func(iface string, peer config.Key, host string, port uint16, ap netip.AddrPort)
	// lookup resolves host in network "ip", "ip4" or "ip6".
	lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)
	// families tells which address families the WAN can reach now.
	families func() (v4, v6 bool)
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	jobs     map[jobKey]*job
	// Lookups that gave an address, and those that did not.
	resolvedOK, resolvedFailed atomic.Uint64
}

type jobKey struct {
	iface string
	peer  config.Key
}

type job struct {
	host   string
	port   uint16
	cancel context.CancelFunc
}

func newResolver(log *slog.Logger, do func(context.Context, func()) error, found func(string, config.Key, string, uint16, netip.AddrPort)) *resolver {
	ctx, cancel := context.WithCancel(context.Background())
	return &resolver{
		log: log, do: do, found: found,
		lookup: func(ctx context.Context, network, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, network, host)
		},
		families: func() (bool, bool) { return true, true },
		ctx:      ctx, cancel: cancel,
		jobs: map[jobKey]*job{},
	}
}

// root ties the lookups to ctx (Run's): they end with it.
func (r *resolver) root(ctx context.Context) {
	r.cancel()
	r.ctx, r.cancel = context.WithCancel(ctx)
}

// track starts resolving the names of iface's peers that are new or
// changed, and stops work for peers that are gone or name another host.
func (r *resolver) track(iface string, names map[config.Key]endpoint) {
	for k, j := range r.jobs {
		if k.iface != iface {
			continue
		}
		if ep, ok := names[k.peer]; !ok || ep.host != j.host || ep.port != j.port {
			j.cancel()
			delete(r.jobs, k)
		}
	}
	for peer, ep := range names {
		k := jobKey{iface, peer}
		if _, ok := r.jobs[k]; !ok {
			r.start(k, ep.host, ep.port)
		}
	}
}

func isName(host string) bool {
	if host == "" {
		return false
	}
	_, err := netip.ParseAddr(host)
	return err != nil
}

func (r *resolver) start(k jobKey, host string, port uint16) {
	ctx, cancel := context.WithCancel(r.ctx)
	j := &job{host: host, port: port, cancel: cancel}
	r.jobs[k] = j
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ap, ok := r.resolve(ctx, k, host, port)
		if !ok {
			return
		}
		r.do(ctx, func() { r.found(k.iface, k.peer, host, port, ap) })
	}()
}

// resolve retries until the name resolves or ctx ends.
func (r *resolver) resolve(ctx context.Context, k jobKey, host string, port uint16) (netip.AddrPort, bool) {
	delay := resolveRetryMin
	for attempt := 1; ; attempt++ {
		ap, err := r.lookupOnce(ctx, host, port, netip.AddrPort{})
		if err == nil {
			r.log.Info("endpoint resolved", "interface", k.iface, "peer", k.peer, "host", host, "endpoint", ap)
			return ap, true
		}
		if ctx.Err() != nil {
			return netip.AddrPort{}, false
		}
		level := slog.LevelDebug
		if attempt == 1 {
			level = slog.LevelWarn
		}
		r.log.Log(ctx, level, "endpoint name does not resolve; peer has no endpoint until it does",
			"interface", k.iface, "peer", k.peer, "host", host, "error", err, "retry_in", delay)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return netip.AddrPort{}, false
		}
		delay = min(2*delay, resolveRetryMax)
	}
}

// lookupOnce resolves host once, asking only for the address families
// the WAN has a default route for.
func (r *resolver) lookupOnce(ctx context.Context, host string, port uint16, current netip.AddrPort) (netip.AddrPort, error) {
	v4, v6 := r.families()
	network := "ip"
	switch {
	case v4 && !v6:
		network = "ip4"
	case v6 && !v4:
		network = "ip6"
	}
	lctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	addrs, err := r.lookup(lctx, network, host)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			r.resolvedFailed.Add(1)
		}
		return netip.AddrPort{}, err
	}
	a, ok := pick(addrs, current.Addr(), v4, v6)
	if !ok {
		r.resolvedFailed.Add(1)
		return netip.AddrPort{}, fmt.Errorf("%s has no address of a family the WAN reaches (%s)", host, network)
	}
	r.resolvedOK.Add(1)
	return netip.AddrPortFrom(a, port), nil
}

// Bounds of the quick retries of resolveNow: a WAN that just came up may
// not reach its DNS server for a moment.
const (
	resolveNowRetryMin = 200 * time.Millisecond
	resolveNowRetryMax = 2 * time.Second
)

// resolveNow resolves host now, retrying with backoff until it resolves
// or ctx ends. current is the address in use: kept when the name still
// lists it, so a name with several addresses does not flap.
func (r *resolver) resolveNow(ctx context.Context, host string, port uint16, current netip.AddrPort) (netip.AddrPort, error) {
	delay := resolveNowRetryMin
	for {
		ap, err := r.lookupOnce(ctx, host, port, current)
		if err == nil {
			return ap, nil
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return netip.AddrPort{}, err
		}
		delay = min(2*delay, resolveNowRetryMax)
	}
}

// pick chooses among a name's addresses: the current one if it is still
// listed, else IPv4 when the WAN has it (more WAN links carry it than
// IPv6), else IPv6.
func pick(addrs []netip.Addr, current netip.Addr, v4, v6 bool) (netip.Addr, bool) {
	var four, six netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if current.IsValid() && a == current.Unmap() {
			return a, true
		}
		if a.Is4() && !four.IsValid() {
			four = a
		}
		if a.Is6() && !six.IsValid() {
			six = a
		}
	}
	switch {
	case four.IsValid() && v4:
		return four, true
	case six.IsValid() && v6:
		return six, true
	}
	return netip.Addr{}, false
}

// forget stops all work for an interface.
func (r *resolver) forget(iface string) {
	for k, j := range r.jobs {
		if k.iface == iface {
			j.cancel()
			delete(r.jobs, k)
		}
	}
}

func (r *resolver) stop() {
	r.cancel()
	r.wg.Wait()
}
