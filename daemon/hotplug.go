package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/hotplug"
)

// WAN events reach the daemon from several sources (hotplug.d through
// the control socket, netlink, D-Bus) and are handled in one place: the
// pump records each one, and a burst of events about the WAN coming up
// or changing makes one refresh: re-resolve endpoint names, apply changed
// endpoints through desired -> diff -> apply, rebind the sockets and kick
// the peers. A WAN going down is recorded and nothing else.

const (
	// A burst is acted on after hotplugQuiet without events, or
	// hotplugMax after it began.
	hotplugQuiet = 250 * time.Millisecond
	hotplugMax   = time.Second
	// refreshResolveTimeout bounds the re-resolution of one refresh; a
	// name still failing then is left to the watchdog.
	refreshResolveTimeout = 10 * time.Second
	// hotplugQueue bounds the events waiting for the pump; when it is
	// full a refresh is coming anyway, and further events are dropped.
	hotplugQueue = 256
	// keptChanges is how many endpoint changes status remembers.
	keptChanges = 20
)

// hotplugState is the record of WAN events and what was done about them.
// Fields other than events, dropped and wg belong to the daemon goroutine.
type hotplugState struct {
	events  chan hotplug.Event
	dropped atomic.Int64
	wg      sync.WaitGroup

	sources     []string
	received    int
	lastEvent   *hotplug.Event
	lastWAN     *hotplug.Event
	refreshes   int
	lastRefresh *api.RefreshStatus
	changes     []api.EndpointChange
	watchdog    api.WatchdogStatus
}

func newHotplugState() *hotplugState {
	return &hotplugState{events: make(chan hotplug.Event, hotplugQueue)}
}

// emit queues an event without ever blocking its source.
func (h *hotplugState) emit(ev hotplug.Event) bool {
	select {
	case h.events <- ev:
		return true
	default:
		h.dropped.Add(1)
		return false
	}
}

func (d *Daemon) hotplugStatus() *api.HotplugStatus {
	h := d.hp
	var last *api.RefreshStatus
	if h.lastRefresh != nil { // a copy: the refresh goes on changing its own
		c := *h.lastRefresh
		c.Errors = slices.Clone(c.Errors)
		last = &c
	}
	return &api.HotplugStatus{
		Reacting: d.cfg.Daemon.Hotplug, WANInterfaces: d.cfg.Daemon.WANInterfaces,
		Sources: append([]string{}, h.sources...), Events: h.received, Dropped: h.dropped.Load(),
		LastEvent: h.lastEvent, LastWANEvent: h.lastWAN,
		Refreshes: h.refreshes, LastRefresh: last,
		EndpointChanges: append([]api.EndpointChange(nil), h.changes...),
		Watchdog:        api.WatchdogStatus{AgeSeconds: int(d.cfg.Daemon.WatchdogAge / time.Second), LastRun: h.watchdog.LastRun, Stale: h.watchdog.Stale},
	}
}

// hotplugRequest takes an event from `wgd hotplug` (netifd's hotplug.d).
// It only queues it, so the caller, and netifd behind it, never waits.
func (d *Daemon) hotplugRequest(_ context.Context, args json.RawMessage) (any, error) {
	var ev hotplug.Event
	if len(args) == 0 {
		return nil, errors.New("hotplug: no event")
	}
	if err := json.Unmarshal(args, &ev); err != nil {
		return nil, fmt.Errorf("hotplug: bad event: %w", err)
	}
	if err := ev.Check(); err != nil {
		return nil, fmt.Errorf("hotplug: bad event: %w", err)
	}
	// What the client cannot know or vouch for is set here.
	ev.Source, ev.WAN, ev.Time = hotplug.SourceHotplugD, false, time.Now()
	return api.HotplugAnswer{Queued: d.hp.emit(ev)}, nil
}

// publishWANConfig makes what wanConfig says readable off the daemon
// goroutine.
func (d *Daemon) publishWANConfig() {
	c := d.wanConfig()
	d.wanCfg.Store(&c)
}

// wanConfig says which links are the WAN, on the daemon goroutine.
func (d *Daemon) wanConfig() hotplug.WANConfig {
	c := hotplug.ConfigWAN(d.cfg)
	for name := range d.ifaces {
		if !slices.Contains(c.Own, name) {
			c.Own = append(c.Own, name)
		}
	}
	return c
}

// startHotplug starts the pump, the watchdog and the event sources; they
// end with ctx, and stopHotplug waits for them.
func (d *Daemon) startHotplug(ctx context.Context) {
	h := d.hp
	h.sources = []string{string(hotplug.SourceHotplugD)}
	run := func(name string, f func(context.Context, func(hotplug.Event)) error) {
		h.sources = append(h.sources, name)
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			if err := f(ctx, func(ev hotplug.Event) { h.emit(ev) }); err != nil {
				d.log.Warn("WAN event source stopped", "source", name, "error", err)
			}
		}()
	}
	d.wan.Config = func() hotplug.WANConfig {
		if c := d.wanCfg.Load(); c != nil {
			return *c
		}
		return hotplug.WANConfig{}
	}
	// Standalone, nobody else tells us about the WAN; under netifd,
	// hotplug.d does, and the monitor only keeps the snapshot.
	d.wan.Events = !d.opts.Netifd
	if d.wan.Events {
		run(string(hotplug.SourceNetlink), d.wan.Run)
	} else {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			if err := d.wan.Run(ctx, nil); err != nil {
				d.log.Warn("network monitor stopped", "error", err)
			}
		}()
	}
	run(string(hotplug.SourceDBus), (&hotplug.DBus{Log: d.log}).Run)
	h.wg.Add(5)
	go func() { defer h.wg.Done(); d.runMTU(ctx) }()
	go func() { defer h.wg.Done(); d.runExpiry(ctx) }()
	go func() { defer h.wg.Done(); d.runTotals(ctx) }()
	go func() { defer h.wg.Done(); d.pumpHotplug(ctx) }()
	go func() { defer h.wg.Done(); d.runWatchdog(ctx) }()
}

func (d *Daemon) stopHotplug() { d.hp.wg.Wait() }

// pumpHotplug records every event and runs one refresh per burst of WAN
// events. A burst that ends while a refresh still runs cancels it (its
// names may resolve to what the WAN had before) and starts another.
func (d *Daemon) pumpHotplug(ctx context.Context) {
	deb := hotplug.Debouncer{Quiet: hotplugQuiet, Max: hotplugMax}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var cancel context.CancelFunc
	var finished chan struct{}
	var again string // reason of a refresh waiting for the running one to end
	var reason string
	start := func(why string) {
		var rctx context.Context
		rctx, cancel = context.WithCancel(ctx)
		finished = make(chan struct{})
		go func(done chan struct{}) {
			defer close(done)
			d.refresh(rctx, why)
		}(finished)
	}
	for {
		var due <-chan time.Time
		if t, ok := deb.Deadline(); ok {
			timer.Reset(time.Until(t))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			if cancel != nil {
				cancel()
				<-finished
			}
			return
		case ev := <-d.hp.events:
			_, inBurst := deb.Deadline()
			if d.noteEvent(ctx, ev, inBurst) {
				deb.Add(time.Now())
				reason = ev.String()
			}
		case <-due:
			if !deb.Fire(time.Now()) {
				continue
			}
			if cancel != nil {
				cancel()
				again = reason
				continue
			}
			start(reason)
		case <-finished:
			cancel()
			cancel, finished = nil, nil
			if again != "" {
				start(again)
				again = ""
			}
		}
	}
}

// noteEvent records ev and reports whether it calls for a refresh.
// Within a burst, only its first event is logged above debug level.
func (d *Daemon) noteEvent(ctx context.Context, ev hotplug.Event, inBurst bool) bool {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	var cfg hotplug.WANConfig
	react := false
	if d.do(ctx, func() { cfg, react = d.wanConfig(), d.cfg.Daemon.Hotplug }) != nil {
		return false
	}
	if !ev.WAN && ev.Device != "" {
		// netifd runs hotplug.d after it changed the routes: read them
		// again rather than trust a snapshot that may not have caught up.
		d.wan.Refresh()
	}
	ev.WAN = hotplug.IsWAN(d.wan.Snapshot(), ev, cfg)
	d.do(ctx, func() {
		h := d.hp
		h.received++
		e := ev
		h.lastEvent = &e
		if ev.WAN {
			h.lastWAN = &e
		}
	})
	switch {
	case !ev.WAN:
		d.log.Debug("network event, not the WAN", "event", ev.String())
		return false
	case ev.Action == hotplug.Down:
		d.log.Info("WAN down: tunnels wait for it to return", "event", ev.String())
		return false
	case !ev.Reacts():
		d.log.Debug("WAN event needs nothing done", "event", ev.String())
		return false
	case !react:
		d.log.Info("WAN event; reaction off (option hotplug '0')", "event", ev.String())
		return false
	}
	level := slog.LevelInfo
	if inBurst {
		level = slog.LevelDebug
	}
	d.log.Log(ctx, level, "WAN event", "event", ev.String())
	return true
}

// target is a peer whose endpoint is a name.
type target struct {
	iface   string
	peer    config.Key
	host    string
	port    uint16
	current netip.AddrPort // what the name gave last, if anything
}

// nameTargets lists the peers of running interfaces whose endpoint is a
// name, those accepted by keep (all when keep is nil).
func (d *Daemon) nameTargets(keep func(iface string, p config.Peer) bool) []target {
	var out []target
	for _, c := range d.cfg.Interfaces {
		if d.ifaces[c.Name] == nil {
			continue
		}
		for _, p := range c.Peers {
			if !isName(p.EndpointHost) || (keep != nil && !keep(c.Name, p)) {
				continue
			}
			ep, _ := d.endpoints.get(c.Name, p.PublicKey)
			out = append(out, target{iface: c.Name, peer: p.PublicKey, host: p.EndpointHost, port: p.EndpointPort, current: ep.addr})
		}
	}
	return out
}

type resolved struct {
	target
	ap  netip.AddrPort
	err error
}

// resolveTargets looks up every target's name, each name once, in
// parallel; off the daemon goroutine.
func (d *Daemon) resolveTargets(ctx context.Context, targets []target) []resolved {
	type answer struct {
		addr netip.Addr
		err  error
	}
	byHost := map[string][]int{}
	for i, t := range targets {
		byHost[t.host] = append(byHost[t.host], i)
	}
	answers := make(map[string]answer, len(byHost))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for host, idx := range byHost {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := targets[idx[0]]
			ap, err := d.resolver.resolveNow(ctx, host, t.port, t.current)
			mu.Lock()
			answers[host] = answer{ap.Addr(), err}
			mu.Unlock()
		}()
	}
	wg.Wait()
	out := make([]resolved, len(targets))
	for i, t := range targets {
		a := answers[t.host]
		out[i] = resolved{target: t, err: a.err}
		if a.err == nil {
			out[i].ap = netip.AddrPortFrom(a.addr, t.port)
		}
	}
	return out
}

// applyResolved sets the endpoints that moved, through the normal path,
// and records them; on the daemon goroutine. It returns the changes.
func (d *Daemon) applyResolved(rs []resolved, by string) []api.EndpointChange {
	var changes []api.EndpointChange
	for _, r := range rs {
		if r.err != nil || d.ifaces[r.iface] == nil {
			continue
		}
		old, _ := d.endpoints.get(r.iface, r.peer)
		if !d.setEndpoint(r.iface, r.peer, r.host, r.port, r.ap) {
			continue // not moved, or the configuration changed meanwhile
		}
		ch := api.EndpointChange{Time: time.Now(), Interface: r.iface, Peer: r.peer, Host: r.host, To: r.ap.String(), By: by}
		if old.addr.IsValid() {
			ch.From = old.addr.String()
		}
		d.log.Info("endpoint moved", "interface", r.iface, "peer", d.peerName(r.iface, r.peer), "host", r.host, "from", ch.From, "to", ch.To, "by", by)
		changes = append(changes, ch)
	}
	d.hp.changes = append(d.hp.changes, changes...)
	if n := len(d.hp.changes) - keptChanges; n > 0 {
		d.hp.changes = slices.Delete(d.hp.changes, 0, n)
	}
	return changes
}

// peerName is how people call a peer of a configured interface.
func (d *Daemon) peerName(iface string, peer config.Key) string {
	if c := d.cfg.Interface(iface); c != nil {
		if p := c.Peer(peer); p != nil {
			return p.Name()
		}
	}
	return peer.String()
}

// kickTargets sends a keepalive to the targets' peers, per interface.
func (d *Daemon) kickTargets(ts []target) int {
	byIface := map[string][]config.Key{}
	for _, t := range ts {
		byIface[t.iface] = append(byIface[t.iface], t.peer)
	}
	n := 0
	for name, keys := range byIface {
		if iface := d.ifaces[name]; iface != nil {
			n += iface.Kick(keys)
		}
	}
	return n
}

// followWANPath has the host routes that keep the endpoints of name
// outside its tunnel take the WAN's new path (what cannot is retried).
// Standalone only, and only for an interface that has such routes: the
// rest of its layer 3 does not depend on the WAN (its MTU follows it in
// followWAN), so the others are not asked the kernel again.
func (d *Daemon) followWANPath(name string) {
	c := d.cfg.Interface(name)
	if d.opts.Netifd || c == nil {
		return
	}
	des := d.desired(*c)
	if len(d.routerConfig(*c, des).Pinned()) > 0 {
		d.setLayer3(*c, des)
	}
}

// refresh brings the tunnels over a changed WAN. Peers whose endpoint is
// an address (or was learnt from their packets) are kicked at once, over
// fresh sockets; peers whose endpoint is a name are kicked once the name
// is resolved again, so their first packet goes to the right place.
func (d *Daemon) refresh(ctx context.Context, reason string) {
	st := &api.RefreshStatus{Reason: reason, Started: time.Now()}
	var targets []target
	err := d.do(ctx, func() {
		d.hp.refreshes++
		d.hp.lastRefresh = st
		targets = d.nameTargets(nil)
		names := make([]string, 0, len(d.ifaces))
		for name := range d.ifaces {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			iface := d.ifaces[name]
			if d.ifaceErrs[name] != "" && !d.opts.Netifd {
				d.update(name) // all of it again: the error goes once it takes
			} else {
				d.followWANPath(name)
			}
			if err := iface.Rebind(); err != nil {
				st.Errors = append(st.Errors, err.Error())
				d.log.Warn("refresh", "interface", name, "error", err)
				d.setIfaceErr(name, err)
				d.scheduleRetry() // a listen port another program took meanwhile
			}
			c := d.cfg.Interface(name)
			if c == nil {
				continue
			}
			var now []config.Key
			for _, p := range c.Peers {
				if !isName(p.EndpointHost) {
					now = append(now, p.PublicKey)
				}
			}
			if len(now) > 0 {
				st.Kicked += iface.Kick(now)
			}
		}
	})
	if err != nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, refreshResolveTimeout)
	rs := d.resolveTargets(rctx, targets)
	cancel()
	if ctx.Err() != nil {
		return // superseded by a newer burst, or shutting down
	}
	d.do(ctx, func() {
		for _, r := range rs {
			if r.err != nil {
				st.Errors = append(st.Errors, fmt.Sprintf("%s: %v", r.host, r.err))
			}
		}
		st.Resolved = len(rs)
		st.Changed = len(d.applyResolved(rs, "hotplug"))
		st.Kicked += d.kickTargets(targets)
		st.Finished = time.Now()
		d.log.Info("tunnels refreshed after a WAN event", "reason", reason, "kicked", st.Kicked,
			"names", st.Resolved, "moved", st.Changed, "errors", len(st.Errors), "took", st.Finished.Sub(st.Started).Round(time.Millisecond))
	})
}
