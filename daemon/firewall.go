package daemon

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"wgd/config"
	"wgd/firewall"
)

// firewallKeeper owns the firewall backend and wgd's rules in it. The
// daemon says what it wants (want, on its own goroutine, never waiting);
// the keeper's goroutine runs the nft, iptables or ubus commands, which
// may take seconds, and applies only the latest wish.
type firewallKeeper struct {
	log  *slog.Logger
	open func(kind string, log *slog.Logger) (firewall.Backend, error)

	mu      sync.Mutex
	changed *sync.Cond // applied grew
	wish    *firewallWish
	wished  uint64 // generation of the latest wish
	applied uint64 // generation of the last one applied
	status  firewall.Status
	wake    chan struct{}
	stopped chan struct{}

	// Only the keeper's goroutine touches these.
	backend firewall.Backend
	kind    string // as configured
	kindErr string // why the configured backend is not in use
}

type firewallWish struct {
	kind  string // "" = auto
	holes []firewall.Hole
	gen   uint64
}

func newFirewallKeeper(log *slog.Logger) *firewallKeeper {
	k := &firewallKeeper{log: log, open: firewall.New, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	k.changed = sync.NewCond(&k.mu)
	return k
}

// want asks for exactly holes through the backend of kind and returns
// the wish's generation, for wait.
func (k *firewallKeeper) want(kind string, holes []firewall.Hole) uint64 {
	k.mu.Lock()
	k.wished++
	k.wish = &firewallWish{kind: kind, holes: holes, gen: k.wished}
	gen := k.wished
	k.mu.Unlock()
	select {
	case k.wake <- struct{}{}:
	default:
	}
	return gen
}

// wait returns once the wish gen (or a later one) is applied, or the
// keeper has stopped, or ctx ends.
func (k *firewallKeeper) wait(ctx context.Context, gen uint64) {
	stop := context.AfterFunc(ctx, func() { k.mu.Lock(); k.changed.Broadcast(); k.mu.Unlock() })
	defer stop()
	k.mu.Lock()
	defer k.mu.Unlock()
	for k.applied < gen && ctx.Err() == nil {
		select {
		case <-k.stopped:
			return
		default:
		}
		k.changed.Wait()
	}
}

// firewallWait bounds how long start and reload wait for the firewall: a
// firewall command that hangs must not keep the control socket shut.
const firewallWait = 20 * time.Second

// waitFirewall waits for the firewall wish gen, at most d.fwWait.
func (d *Daemon) waitFirewall(ctx context.Context, gen uint64) {
	ctx, cancel := context.WithTimeout(ctx, d.fwWait)
	defer cancel()
	d.fw.wait(ctx, gen)
	if ctx.Err() == context.DeadlineExceeded {
		d.log.Warn("the firewall has not followed yet; going on", "waited", d.fwWait)
	}
}

// Status is the firewall as last applied.
func (k *firewallKeeper) Status() firewall.Status {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.status
}

// run applies wishes until ctx ends, then removes every rule it made.
func (k *firewallKeeper) run(ctx context.Context) {
	defer func() {
		if k.backend != nil {
			if err := k.backend.Flush(); err != nil {
				k.log.Error("firewall", "backend", k.backend.Name(), "error", err)
			}
		}
		k.mu.Lock()
		close(k.stopped)
		k.changed.Broadcast()
		k.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.wake:
		}
		k.mu.Lock()
		w := k.wish
		k.wish = nil
		k.mu.Unlock()
		if w == nil {
			continue
		}
		st := k.apply(w)
		k.mu.Lock()
		k.status, k.applied = st, w.gen
		k.changed.Broadcast()
		k.mu.Unlock()
	}
}

func (k *firewallKeeper) apply(w *firewallWish) firewall.Status {
	k.use(w.kind)
	holes := w.holes
	if k.backend.Name() != "fw4" {
		holes = withoutZones(holes) // only fw4 knows zones
	}
	st := firewall.Status{Backend: k.backend.Name(), Holes: holes, Error: k.kindErr}
	if err := k.backend.Sync(holes); err != nil {
		st.Error = err.Error()
		k.log.Error("firewall", "backend", k.backend.Name(), "error", err)
	}
	return st
}

// use switches to the backend of kind when it differs from the one in
// use. A new backend first removes rules a crashed daemon left. A backend
// that cannot be had is reported; the tunnels stay up.
func (k *firewallKeeper) use(kind string) {
	if k.backend != nil && kind == k.kind {
		return
	}
	if k.backend != nil {
		if err := k.backend.Flush(); err != nil {
			k.log.Error("firewall", "backend", k.backend.Name(), "error", err)
		}
	}
	k.kind, k.kindErr = kind, ""
	b, err := k.open(kind, k.log)
	if err != nil {
		k.log.Error("firewall", "error", err)
		b, _ = firewall.New("none", k.log)
		k.kindErr = err.Error()
	}
	k.backend = b
	if err := b.Flush(); err != nil {
		k.log.Error("firewall", "backend", b.Name(), "error", err)
	}
}

// firewallKind is the backend the configuration asks for.
func (d *Daemon) firewallKind() string {
	kind := d.cfg.Daemon.Firewall
	if kind == "" && d.opts.Netifd {
		// Under netifd the protocol handler records the ports `wgd ifup`
		// answers and /etc/init.d/wgd publishes them as procd service
		// data, which fw4 reads: nothing to do here.
		kind = "none"
	}
	return kind
}

// syncFirewall asks for exactly the listen ports of the running
// interfaces that did not opt out. An interface without a configured
// port is a client: nobody can reach a port chosen at random, so none is
// opened.
func (d *Daemon) syncFirewall() {
	holes := []firewall.Hole{}
	for _, c := range d.cfg.Interfaces {
		iface := d.ifaces[c.Name]
		if iface == nil || !c.OpenFirewall || c.ListenPort == 0 {
			continue
		}
		// Only the port the interface was given and listens on: never
		// one the engine fell back to.
		st, err := iface.State()
		if err != nil || st.ListenPort != iface.ListenPort() || st.ListenPort == 0 {
			continue
		}
		holes = append(holes, d.holes(&c, st.ListenPort)...)
	}
	d.fwGen = d.fw.want(d.firewallKind(), holes)
}

// holes are the openings of c's listen port: one per firewall zone on
// c's WAN side (config.ListenZones), or one for every zone (Zone "") when
// no zone covers it.
func (d *Daemon) holes(c *config.Interface, port uint16) []firewall.Hole {
	h := firewall.Hole{Interface: c.Name, Port: port}
	var out []firewall.Hole
	for _, z := range d.cfg.ListenZones(c) {
		h.Zone = z
		out = append(out, h)
	}
	if len(out) == 0 {
		h.Zone = ""
		out = append(out, h)
	}
	return out
}

// withoutZones is one hole per interface and port.
func withoutZones(holes []firewall.Hole) []firewall.Hole {
	out := []firewall.Hole{}
	for _, h := range holes {
		h.Zone = ""
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}
