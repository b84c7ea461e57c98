package daemon

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
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
	log    *slog.Logger
	do     func(context.Context, func()) error
	found  func(iface string, peer config.Key, ap netip.AddrPort)
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	jobs   map[jobKey]*job
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

func newResolver(log *slog.Logger, do func(context.Context, func()) error, found func(string, config.Key, netip.AddrPort)) *resolver {
	ctx, cancel := context.WithCancel(context.Background())
	return &resolver{
		log: log, do: do, found: found,
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
		ctx: ctx, cancel: cancel,
		jobs: map[jobKey]*job{},
	}
}

// track starts resolving the names of c's peers that are new or changed,
// and stops work for peers that are gone.
func (r *resolver) track(c config.Interface) {
	for k, j := range r.jobs {
		if k.iface != c.Name {
			continue
		}
		if p := c.Peer(k.peer); p == nil || p.EndpointHost != j.host || p.EndpointPort != j.port {
			j.cancel()
			delete(r.jobs, k)
		}
	}
	for _, p := range c.Peers {
		k := jobKey{c.Name, p.PublicKey}
		if _, ok := r.jobs[k]; ok || !isName(p.EndpointHost) {
			continue
		}
		r.start(k, p.EndpointHost, p.EndpointPort)
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
		r.do(ctx, func() {
			if r.jobs[k] == j { // not replaced or forgotten meanwhile
				r.found(k.iface, k.peer, ap)
			}
		})
	}()
}

// resolve retries until the name resolves or ctx ends.
func (r *resolver) resolve(ctx context.Context, k jobKey, host string, port uint16) (netip.AddrPort, bool) {
	delay := resolveRetryMin
	for attempt := 1; ; attempt++ {
		lctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		addrs, err := r.lookup(lctx, host)
		cancel()
		if err == nil && len(addrs) > 0 {
			ap := netip.AddrPortFrom(pick(addrs), port)
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

// pick prefers IPv4, which more WAN links carry than IPv6.
func pick(addrs []netip.Addr) netip.Addr {
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap()
		}
	}
	return addrs[0]
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
