// Package daemon owns wgd's running state. Every change, whatever its
// source (start-up, reload, a resolved endpoint name, a control request),
// takes one path: desired state -> difference to the running state ->
// devices.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"

	"wgd/api"
	"wgd/config"
	"wgd/device"
	"wgd/hotplug"
	"wgd/router"
	"wgd/totals"
	"wgd/uci"
)

// Options configure a daemon.
type Options struct {
	ConfigDir string // holds the UCI files network and wgd
	Socket    string // control socket
	UAPIDir   string // where wg(8) finds interfaces
	// Netifd: netifd owns addresses, routes and link state and says which
	// interfaces run (netifd.go). Otherwise wgd runs every enabled
	// interface and owns their layer 3 itself (standalone).
	Netifd      bool
	NetifdState string // file remembering what netifd asked for; may be ""
	Logger      *slog.Logger
	Level       *slog.LevelVar // set from /etc/config/wgd on every reload; may be nil
	// Settings, when set, is called with the daemon settings of every
	// successful reload, on the daemon's goroutine: keep it short.
	Settings func(config.Daemon)
	// Applied, when set, is called after every change of the running
	// state (reload, ifup, ifdown), on the daemon's goroutine.
	Applied func()
	// Stop, when set, is called as Run ends, before it returns: it stops
	// what Settings and Applied started (the metrics endpoint, a timer).
	Stop func()
	// NetifdCall asks netifd for something about an interface: `ubus
	// call network.interface.IFACE METHOD` for each method in turn
	// (renew: run the protocol handler again; down, up: set it up anew).
	// It may wait for netifd, whose handler calls back into the daemon:
	// the calls run in order on a goroutine of their own, which Run
	// waits for; ctx ends as Run ends. May be nil.
	NetifdCall func(ctx context.Context, iface string, methods ...string)
	// TotalsFile is where traffic totals are saved unless the
	// configuration says (`option totals_file`); "": wgd/totals.json
	// next to ConfigDir.
	TotalsFile string
	// Open makes the parts of a running interface.
	Open Opener
}

// Opener makes the parts of a running interface: its TUN, the engine's
// sockets and the router of its layer 3. A nil field is the real one
// (a kernel TUN, UDP sockets, router.NewStandalone or, under netifd,
// router.NewNetifd); tests run the daemon on channels (tun/tuntest,
// conn/bindtest) and a router of their own.
type Opener struct {
	TUN    func(name string, mtu int) (tun.Device, error)
	Bind   func() conn.Bind
	Router func(link string) (router.Router, error)
}

// Daemon runs the interfaces of a configuration.
type Daemon struct {
	opts      Options
	log       *slog.Logger
	requests  chan func()
	resolver  *resolver
	cfg       *config.Config
	problems  []*config.Problem
	lastLoad  time.Time
	ifaces    map[string]*device.Interface
	ifaceErrs map[string]string // interfaces that failed to come up, or to take their configuration
	portBusy  map[string]bool   // of those, the ones whose listen port another program holds
	kept      map[string]string // interfaces kept on their last good configuration: the new one's errors

	// routers set the layer 3 of each of ifaces, and know what of it is
	// missing: the retries set it again.
	routers map[string]router.Router

	endpoints endpoints     // where peers are sent: endpoints.go
	hp        *hotplugState // WAN events: hotplug.go
	// wan is the kernel's network state: where the WAN is. wanCfg says
	// which links it may be, published by every apply for the monitor,
	// which must not wait for this goroutine on each notification.
	wan       *hotplug.Monitor
	wanCfg    atomic.Pointer[hotplug.WANConfig]
	requested map[string]bool // interfaces netifd asked for: netifd.go
	netifd    netifdState     // what netifd was told: netifd.go
	fw        *firewallKeeper
	fwGen     uint64        // the firewall wish of the last apply
	fwWait    time.Duration // how long start and reload wait for it
	counters  api.Counters  // reloads; resolutions are counted by the resolver
	// tasks are the goroutines Run starts besides its subsystems' own
	// (control connections, netifd calls, the retry): Run waits for them.
	tasks   sync.WaitGroup
	netifdQ *callQueue // calls to netifd, in order: netifd.go
	// Failed interfaces are retried with backoff.
	runCtx     context.Context
	retryTimer *time.Timer
	retryDelay time.Duration

	// wanFits is the largest inner packet the WAN was last seen to carry
	// (0: unknown); wanChanged wakes runMTU: mtu.go.
	wanFits    int
	wanChanged chan struct{}
	// expired are the peers each interface runs without, their time
	// being up; expiryRearm wakes runExpiry: expiry.go.
	expired     map[string][]config.Key
	expiryRearm chan struct{}
	totals      *totals.Store // per-peer traffic across sessions: totals.go
	clock       func() time.Time

	// dead are the interfaces whose device the engine closed by itself,
	// told by their watchers (which must not wait); Run's loop takes them
	// down and has the retries bring them back.
	deadMu   sync.Mutex
	dead     []*device.Interface
	deadWake chan struct{}
}

// New makes a daemon; Run starts it.
func New(opts Options) *Daemon {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Daemon{
		opts:      opts,
		log:       opts.Logger,
		requests:  make(chan func()),
		cfg:       &config.Config{},
		ifaces:    map[string]*device.Interface{},
		routers:   map[string]router.Router{},
		ifaceErrs: map[string]string{},
		portBusy:  map[string]bool{},
		endpoints: endpoints{},
		requested: map[string]bool{},
		netifd:    newNetifdState(),
		netifdQ:   newCallQueue(),
	}
	d.wanChanged, d.deadWake = make(chan struct{}, 1), make(chan struct{}, 1)
	d.expired, d.expiryRearm, d.clock = map[string][]config.Key{}, make(chan struct{}, 1), time.Now
	d.wan = &hotplug.Monitor{Log: d.log, Changed: func() {
		select {
		case d.wanChanged <- struct{}{}:
		default: // one wake-up is pending already
		}
	}}
	d.fw, d.fwWait = newFirewallKeeper(d.log), firewallWait
	d.resolver = newResolver(d.log, d.do, func(iface string, peer config.Key, host string, port uint16, ap netip.AddrPort) {
		d.setEndpoint(iface, peer, host, port, ap)
	})
	d.resolver.families = d.wan.Families
	d.hp = newHotplugState()
	return d
}

// Run brings the configuration up and serves control requests until ctx
// ends, then takes everything down again.
func (d *Daemon) Run(ctx context.Context) error {
	l, err := listenControl(d.opts.Socket)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.runCtx = ctx
	d.resolver.root(ctx)
	d.goTask(func() { d.netifdQ.run(ctx) })
	d.removeStaleTemps(ctx)
	if d.opts.Netifd {
		d.loadRequested()
	}
	fwCtx, fwStop := context.WithCancel(context.Background())
	fwDone := make(chan struct{})
	go func() { defer close(fwDone); d.fw.run(fwCtx) }()
	if _, err := d.reload(); err != nil {
		d.log.Error("initial configuration", "error", err)
	}
	d.waitFirewall(ctx, d.fwGen)
	d.goTask(func() { serveControl(ctx, l, d.handlers(), d.log) })
	d.startHotplug(ctx)
	d.log.Info("wgd running", "interfaces", len(d.ifaces), "control", d.opts.Socket)
	for {
		select {
		case f := <-d.requests:
			f()
		case <-d.deadWake:
			d.bringBack()
		case <-ctx.Done():
			if d.retryTimer != nil && d.retryTimer.Stop() {
				d.tasks.Done() // it will not run
			}
			l.Close()
			d.stopHotplug()
			d.resolver.stop()
			d.tasks.Wait()
			d.shutdown()
			fwStop() // removes the rules
			<-fwDone
			d.saveTotals()
			if d.opts.Stop != nil {
				d.opts.Stop()
			}
			d.log.Info("wgd stopped")
			return nil
		}
	}
}

// goTask runs f on a goroutine that Run waits for before it returns; f
// must return soon once Run's context ends.
func (d *Daemon) goTask(f func()) {
	d.tasks.Add(1)
	go func() {
		defer d.tasks.Done()
		f()
	}()
}

// removeStaleTemps removes the copies of the network file (keys
// included) that a writer such as `wgd peer add` left when it was killed
// mid-write; one that a live writer holds is left alone.
func (d *Daemon) removeStaleTemps(ctx context.Context) {
	removed, err := uci.RemoveStaleTemps(ctx, d.opts.ConfigDir, "network", time.Second)
	if err != nil {
		d.log.Debug("stale temporary files not looked for", "error", err)
	}
	for _, f := range removed {
		d.log.Warn("removed a temporary copy of the network file left by a killed writer", "file", f)
	}
}

// do runs f on the daemon's goroutine, which owns all state, and waits
// for it. It gives up when ctx ends first.
func (d *Daemon) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case d.requests <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

// Reload asks the running loop to re-read the configuration, and
// answers once the firewall follows.
func (d *Daemon) Reload(ctx context.Context) (*api.ReloadResult, error) {
	var res *api.ReloadResult
	var err error
	var fw uint64
	if e := d.do(ctx, func() { res, err = d.reload(); fw = d.fwGen }); e != nil {
		return nil, e
	}
	d.waitFirewall(ctx, fw)
	return res, err
}

// Status describes the running state.
func (d *Daemon) Status(ctx context.Context) (*api.Status, error) {
	var s *api.Status
	if err := d.do(ctx, func() { s = d.status() }); err != nil {
		return nil, err
	}
	return s, nil
}

func (d *Daemon) reload() (*api.ReloadResult, error) {
	res, err := d.load()
	switch {
	case err != nil:
		d.counters.ReloadsFailed++
		d.counters.LastReload = "failed"
	case res.Errors > 0 || len(res.Failed) > 0:
		d.counters.ReloadsPartial++
		d.counters.LastReload = "partial"
	default:
		d.counters.ReloadsOK++
		d.counters.LastReload = "ok"
	}
	return res, err
}

// load reads the configuration and applies it.
func (d *Daemon) load() (*api.ReloadResult, error) {
	cfg, problems := config.Load(d.opts.ConfigDir)
	for _, p := range problems {
		if p.Unreadable {
			// The file itself could not be read: keep what runs.
			return nil, fmt.Errorf("configuration not applied: %s", p.Error())
		}
	}
	if d.opts.Level != nil {
		d.opts.Level.Set(cfg.Daemon.LogLevel)
	}
	if d.opts.Settings != nil {
		d.opts.Settings(cfg.Daemon)
	}
	res := &api.ReloadResult{}
	for _, p := range problems {
		res.Problems = append(res.Problems, p.Error())
		if p.Warning {
			d.log.Warn("configuration", "problem", p.Error())
		} else {
			res.Errors++
			d.log.Error("configuration", "problem", p.Error())
		}
	}
	d.problems, d.lastLoad = problems, time.Now()
	res.Kept = d.keepLastGood(cfg)
	d.useTotals(cfg)
	d.apply(cfg, res)
	return res, nil
}

// keepLastGood puts back, in cfg, the last good configuration of every
// interface whose sections now have errors, so that one typo never takes
// a running tunnel down; it returns their names. An interface that never
// had a good configuration is left as cfg has it: down, or without its
// broken peers.
func (d *Daemon) keepLastGood(cfg *config.Config) []string {
	d.kept = map[string]string{}
	var kept []string
	for name, errs := range cfg.Broken {
		old := d.cfg.Interface(name)
		if old == nil {
			continue
		}
		texts := make([]string, len(errs))
		for i, e := range errs {
			texts[i] = e.Error()
		}
		d.kept[name] = strings.Join(texts, "; ")
		if c := cfg.Interface(name); c != nil {
			*c = *old
		} else {
			cfg.Interfaces = append(cfg.Interfaces, *old)
			sort.Slice(cfg.Interfaces, func(i, j int) bool { return cfg.Interfaces[i].Name < cfg.Interfaces[j].Name })
		}
		kept = append(kept, name)
		d.log.Warn("interface keeps its last good configuration", "interface", name, "errors", len(errs))
	}
	sort.Strings(kept)
	return kept
}

// apply moves the running state to cfg: interfaces gone from it go down
// first (freeing their ports), then changed ones are updated and new
// ones come up.
func (d *Daemon) apply(cfg *config.Config, res *api.ReloadResult) {
	for name, iface := range d.ifaces {
		if !d.wanted(cfg.Interface(name)) {
			d.down(iface)
			res.Down = append(res.Down, name)
		}
	}
	for name := range d.ifaceErrs {
		if !d.wanted(cfg.Interface(name)) {
			d.clearIfaceErr(name)
		}
	}
	for name := range d.endpoints { // of interfaces that never came up
		if !d.wanted(cfg.Interface(name)) {
			d.endpoints.forget(name)
			d.resolver.forget(name)
		}
	}
	for name := range d.expired {
		if !d.wanted(cfg.Interface(name)) {
			delete(d.expired, name)
		}
	}
	old := d.cfg
	d.cfg = cfg
	d.seeWAN()
	now := d.clock()
	for _, c := range cfg.Interfaces {
		if !d.wanted(&c) {
			continue
		}
		d.endpoints.follow(c)
		d.resolver.track(c.Name, d.endpoints.names(c.Name))
		expiryChanged := d.noteExpiry(c, now)
		if _, running := d.ifaces[c.Name]; running {
			if was := old.Interface(c.Name); was == nil || !reflect.DeepEqual(*was, c) || expiryChanged {
				if err := d.update(c.Name); err != nil {
					res.Failed = append(res.Failed, c.Name+": "+err.Error())
				} else {
					res.Updated = append(res.Updated, c.Name)
				}
			}
			continue
		}
		if err := d.up(c); err != nil {
			res.Failed = append(res.Failed, c.Name+": "+err.Error())
		} else {
			res.Up = append(res.Up, c.Name)
		}
	}
	for _, c := range cfg.Interfaces {
		if r := d.routers[c.Name]; r != nil && !r.Complete() {
			for _, m := range r.State().Missing {
				res.Problems = append(res.Problems, c.Name+": layer 3 missing, tried again: "+m)
			}
		}
	}
	d.syncFirewall()
	d.publishWANConfig()
	d.renewNetifd()
	d.rearmExpiry()
	if d.opts.Applied != nil {
		d.opts.Applied()
	}
	d.scheduleRetry()
}

// Bounds of the delay before failed interfaces are tried again.
const (
	retryMin = time.Second
	retryMax = time.Minute
)

// scheduleRetry arranges for the interfaces that failed (a listen port
// held by another program, say) to be tried again, later each time while
// they keep failing.
func (d *Daemon) scheduleRetry() {
	if !d.retrying() {
		d.retryDelay = 0
		return
	}
	if d.retryTimer != nil || d.runCtx == nil {
		return
	}
	d.retryDelay = min(max(2*d.retryDelay, retryMin), retryMax)
	ctx := d.runCtx
	d.tasks.Add(1)
	d.retryTimer = time.AfterFunc(d.retryDelay, func() {
		defer d.tasks.Done()
		d.do(ctx, d.retry)
	})
}

// retrying tells whether some interface waits to be tried again: one
// that is not running, or runs without the port it was given or without
// some of its layer 3.
func (d *Daemon) retrying() bool {
	for name := range d.ifaceErrs {
		if d.ifaces[name] == nil || d.portBusy[name] {
			return true
		}
	}
	for name := range d.ifaces {
		if d.layer3Missing(name) {
			return true
		}
	}
	return false
}

// layer3Missing tells whether the router of the running interface name
// lacks some of what it was set to.
func (d *Daemon) layer3Missing(name string) bool {
	r := d.routers[name]
	return r != nil && !r.Complete()
}

// retry tries the failed interfaces again: those running without their
// port or some of their layer 3 get their configuration again, the
// others are brought up.
func (d *Daemon) retry() {
	d.retryTimer = nil
	for name := range d.ifaces {
		if d.portBusy[name] || d.layer3Missing(name) {
			d.update(name)
		}
	}
	d.apply(d.cfg, &api.ReloadResult{})
}

// setIfaceErr records err, the failure of name's device. A listen port
// found busy stays so until the device takes it (clearIfaceErr): a later
// error of another kind does not make it free.
func (d *Daemon) setIfaceErr(name string, err error) {
	d.ifaceErrs[name] = err.Error()
	if errors.Is(err, device.ErrPortInUse) {
		d.portBusy[name] = true
	}
}

func (d *Daemon) clearIfaceErr(name string) {
	delete(d.ifaceErrs, name)
	delete(d.portBusy, name)
}

// desired is what c's interface should run: a function of the
// configuration, the peers recorded as expired (expiry.go), the endpoints
// record (an endpoint whose peer is gone, or now names another host or
// none, is not in it: its host route and netifd's host dependency go) and
// the WAN as last seen (mtu.go). It reads that state and changes none of
// it: what changes it is a reload, the expiry timer, the WAN monitor and
// the resolver.
func (d *Daemon) desired(c config.Interface) device.Desired {
	return device.Desired{Config: d.active(c), Endpoints: d.endpoints.addrs(c.Name), MTU: d.mtuOf(c)}
}

// routerConfig is the layer 3 of c running as des. Standalone routes
// the networks of the peers that run; netifd is told those of every
// peer, so that a guest's expiry has it renew nothing.
func (d *Daemon) routerConfig(c config.Interface, des device.Desired) router.Config {
	routes := des.Config.LinkRoutes()
	if d.opts.Netifd {
		routes = c.LinkRoutes()
	}
	rc := router.Config{MTU: des.LinkMTU(), Addresses: c.Addresses, Routes: routes, NoHostRoute: c.NoHostRoute}
	for _, p := range c.Peers {
		if ap, ok := des.Endpoints[p.PublicKey]; ok && !slices.Contains(rc.Endpoints, ap.Addr()) {
			rc.Endpoints = append(rc.Endpoints, ap.Addr())
		}
	}
	return rc
}

func (d *Daemon) newRouter(link string) (router.Router, error) {
	switch {
	case d.opts.Open.Router != nil:
		return d.opts.Open.Router(link)
	case d.opts.Netifd:
		return router.NewNetifd(link)
	}
	return router.NewStandalone(link)
}

// up brings c up. An interface whose router cannot put all of its layer
// 3 in place runs, and the rest is tried again later: the error is the
// device's only.
func (d *Daemon) up(c config.Interface) error {
	des := d.desired(c)
	iface, err := device.Open(des, device.Options{UAPIDir: d.opts.UAPIDir, TUN: d.opts.Open.TUN, Bind: d.opts.Open.Bind,
		Persist: d.opts.Netifd, Logger: d.log, Died: d.died})
	var r router.Router
	if err == nil {
		if r, err = d.newRouter(c.Name); err != nil {
			iface.Close()
		}
	}
	if err != nil {
		d.setIfaceErr(c.Name, err)
		d.log.Error("interface not up", "interface", c.Name, "error", err)
		return err
	}
	d.ifaces[c.Name], d.routers[c.Name] = iface, r
	d.clearIfaceErr(c.Name)
	d.setLayer3(c, des)
	d.restored(c.Name, iface.Reattached())
	d.log.Info("interface up", "interface", c.Name, "public_key", c.PublicKey(), "listen_port", c.ListenPort, "peers", len(c.Peers))
	return nil
}

// setLayer3 sets the layer 3 of c, running as des. What its router
// cannot put in place is the router's to tell (status `missing`); the
// retries set it again.
func (d *Daemon) setLayer3(c config.Interface, des device.Desired) {
	r := d.routers[c.Name]
	if r == nil {
		return
	}
	if err := r.Set(d.routerConfig(c, des)); err != nil {
		d.log.Warn("interface runs without all of its layer 3", "interface", c.Name, "error", err)
		d.scheduleRetry()
	}
}

// update applies the desired state of a running interface; the error is
// its device's (setLayer3 says what of its layer 3 is missing).
func (d *Daemon) update(name string) error {
	iface, c := d.ifaces[name], d.cfg.Interface(name)
	if iface == nil || c == nil {
		return nil
	}
	counted := d.observeIface(iface)
	des := d.desired(*c)
	err := iface.Update(des)
	d.resetGone(iface, iface.Name(), counted)
	d.setLayer3(*c, des)
	if err != nil {
		d.log.Error("interface update", "interface", name, "error", err)
		d.setIfaceErr(name, err)
		return err
	}
	d.clearIfaceErr(name)
	return nil
}

// died is told, by the interface's watcher, that the engine closed its
// device by itself; Run's loop takes it from there (bringBack). It does
// not wait: the watcher ends at once, and Close, which waits for it, may
// be running on the daemon's goroutine.
func (d *Daemon) died(iface *device.Interface) {
	d.deadMu.Lock()
	d.dead = append(d.dead, iface)
	d.deadMu.Unlock()
	select {
	case d.deadWake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// bringBack takes the interfaces whose device died down, and has the
// retries bring them up again (at most one a second, should they keep
// dying); on the daemon's goroutine.
func (d *Daemon) bringBack() {
	d.deadMu.Lock()
	dead := d.dead
	d.dead = nil
	d.deadMu.Unlock()
	for _, iface := range dead {
		name := iface.Name()
		if d.ifaces[name] != iface {
			continue // taken down meanwhile
		}
		d.log.Error("interface device closed unexpectedly: bringing it back", "interface", name)
		d.down(iface)
		d.setIfaceErr(name, errors.New("device closed unexpectedly; being brought back"))
		d.counters.DeviceRestarts++
	}
	d.scheduleRetry()
}

func (d *Daemon) down(iface *device.Interface) {
	counted := d.observeIface(iface)
	defer d.resetGone(nil, iface.Name(), counted)
	if r := d.routers[iface.Name()]; r != nil {
		if err := r.Close(); err != nil {
			d.log.Warn("interface down: layer 3", "interface", iface.Name(), "error", err)
		}
	}
	if err := iface.Close(); err != nil {
		d.log.Warn("interface down", "interface", iface.Name(), "error", err)
	}
	delete(d.ifaces, iface.Name())
	delete(d.routers, iface.Name())
	d.endpoints.forget(iface.Name())
	delete(d.expired, iface.Name())
	d.resolver.forget(iface.Name())
	d.log.Info("interface down", "interface", iface.Name())
}

// shutdown takes every interface down. Under netifd, whose interfaces
// stay up, their links are kept for the next daemon to attach to.
func (d *Daemon) shutdown() {
	for name, iface := range d.ifaces {
		if !d.opts.Netifd {
			d.down(iface)
			continue
		}
		if err := iface.Detach(); err != nil {
			d.log.Warn("interface detach", "interface", name, "error", err)
		}
		if r := d.routers[name]; r != nil {
			r.Close()
		}
		delete(d.ifaces, name)
		delete(d.routers, name)
		d.log.Info("interface detached: its link stays for netifd", "interface", name)
	}
}

// setEndpoint records what host:port, a peer's endpoint name, resolved
// to and applies it; false when that changed nothing (the peer names
// another host now, or the address is the same). A peer without a
// session then starts its handshake at once: the engine's own attempt
// went nowhere while the name was unresolved, and it would not try again
// for 5 seconds.
func (d *Daemon) setEndpoint(iface string, peer config.Key, host string, port uint16, ap netip.AddrPort) bool {
	if !d.endpoints.set(iface, peer, host, port, ap) {
		return false
	}
	if running := d.ifaces[iface]; running != nil && d.update(iface) == nil {
		running.Handshake(peer)
	}
	d.renewNetifd()
	return true
}

func (d *Daemon) handlers() map[string]handler {
	return map[string]handler{
		"reload":  func(ctx context.Context, _ json.RawMessage) (any, error) { return d.Reload(ctx) },
		"status":  func(ctx context.Context, _ json.RawMessage) (any, error) { return d.Status(ctx) },
		"ping":    func(context.Context, json.RawMessage) (any, error) { return "pong", nil },
		"hotplug": d.hotplugRequest,
		"ifup":    d.ifupRequest,
		"ifdown":  d.ifdownRequest,
		"forget":  d.forgetRequest,
	}
}
