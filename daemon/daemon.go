// Package daemon owns wgd's running state. Every change, whatever its
// source (start-up, reload, a resolved endpoint name, a control request),
// takes one path: desired state -> difference to the running state ->
// devices.
package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"sync/atomic"
	"time"

	"wgd/config"
	"wgd/device"
	"wgd/hotplug"
	"wgd/totals"
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
	// TotalsFile is where traffic totals are saved unless the
	// configuration says (`option totals_file`); "": wgd/totals.json
	// next to ConfigDir.
	TotalsFile string
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
	ifaceErrs map[string]string // interfaces that failed to come up
	endpoints map[string]map[config.Key]netip.AddrPort
	hp        *hotplugState // WAN events: hotplug.go
	// wan is the kernel's network state: where the WAN is. wanCfg says
	// which links it may be, published by every apply for the monitor,
	// which must not wait for this goroutine on each notification.
	wan       *hotplug.Monitor
	wanCfg    atomic.Pointer[hotplug.WANConfig]
	requested map[string]bool // interfaces netifd asked for: netifd.go
	fw        *firewallKeeper
	fwGen     uint64   // the firewall wish of the last apply
	counters  Counters // reloads; resolutions are counted by the resolver

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
		ifaceErrs: map[string]string{},
		endpoints: map[string]map[config.Key]netip.AddrPort{},
		requested: map[string]bool{},
	}
	d.wanChanged = make(chan struct{}, 1)
	d.expired, d.expiryRearm, d.clock = map[string][]config.Key{}, make(chan struct{}, 1), time.Now
	d.wan = &hotplug.Monitor{Log: d.log, Changed: func() {
		select {
		case d.wanChanged <- struct{}{}:
		default: // one wake-up is pending already
		}
	}}
	d.fw = newFirewallKeeper(d.log)
	d.resolver = newResolver(d.log, d.do, d.setEndpoint)
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
	if d.opts.Netifd {
		d.loadRequested()
	}
	fwCtx, fwStop := context.WithCancel(context.Background())
	fwDone := make(chan struct{})
	go func() { defer close(fwDone); d.fw.run(fwCtx) }()
	if _, err := d.reload(); err != nil {
		d.log.Error("initial configuration", "error", err)
	}
	d.fw.wait(ctx, d.fwGen)
	go serveControl(ctx, l, d.handlers(), d.log)
	d.startHotplug(ctx)
	d.log.Info("wgd running", "interfaces", len(d.ifaces), "control", d.opts.Socket)
	for {
		select {
		case f := <-d.requests:
			f()
		case <-ctx.Done():
			l.Close()
			d.stopHotplug()
			d.resolver.stop()
			d.shutdown()
			fwStop() // removes the rules
			<-fwDone
			d.saveTotals()
			d.log.Info("wgd stopped")
			return nil
		}
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
func (d *Daemon) Reload(ctx context.Context) (*ReloadResult, error) {
	var res *ReloadResult
	var err error
	var fw uint64
	if e := d.do(ctx, func() { res, err = d.reload(); fw = d.fwGen }); e != nil {
		return nil, e
	}
	d.fw.wait(ctx, fw)
	return res, err
}

// Status describes the running state.
func (d *Daemon) Status(ctx context.Context) (*Status, error) {
	var s *Status
	if err := d.do(ctx, func() { s = d.status() }); err != nil {
		return nil, err
	}
	return s, nil
}

// ReloadResult says what a reload did.
type ReloadResult struct {
	Up       []string `json:"up,omitempty"`
	Down     []string `json:"down,omitempty"`
	Updated  []string `json:"updated,omitempty"`
	Failed   []string `json:"failed,omitempty"`
	Problems []string `json:"problems,omitempty"`
	Errors   int      `json:"errors"` // problems that left something out
}

func (d *Daemon) reload() (*ReloadResult, error) {
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
func (d *Daemon) load() (*ReloadResult, error) {
	cfg, problems := config.Load(d.opts.ConfigDir)
	for _, p := range problems {
		if p.Line == 0 && p.Option == "" && p.Section == "" && !p.Warning {
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
	res := &ReloadResult{}
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
	d.useTotals(cfg)
	d.apply(cfg, res)
	return res, nil
}

// apply moves the running state to cfg: interfaces gone from it go down
// first (freeing their ports), then changed ones are updated and new
// ones come up.
func (d *Daemon) apply(cfg *config.Config, res *ReloadResult) {
	for name, iface := range d.ifaces {
		if cfg.Interface(name) == nil || !d.wanted(name) {
			d.down(iface)
			res.Down = append(res.Down, name)
		}
	}
	for name := range d.ifaceErrs {
		if cfg.Interface(name) == nil || !d.wanted(name) {
			delete(d.ifaceErrs, name)
		}
	}
	old := d.cfg
	d.cfg = cfg
	for _, c := range cfg.Interfaces {
		if !d.wanted(c.Name) {
			continue
		}
		d.resolver.track(c)
		if _, running := d.ifaces[c.Name]; running {
			if was := old.Interface(c.Name); was == nil || !reflect.DeepEqual(*was, c) {
				d.update(c.Name)
				res.Updated = append(res.Updated, c.Name)
			}
			continue
		}
		if err := d.up(c); err != nil {
			res.Failed = append(res.Failed, c.Name+": "+err.Error())
		} else {
			res.Up = append(res.Up, c.Name)
		}
	}
	d.syncFirewall()
	d.publishWANConfig()
	d.rearmExpiry()
	if d.opts.Applied != nil {
		d.opts.Applied()
	}
}

func (d *Daemon) desired(c config.Interface) device.Desired {
	eps := d.endpoints[c.Name]
	if eps == nil {
		eps = map[config.Key]netip.AddrPort{}
		d.endpoints[c.Name] = eps
	}
	for k := range eps {
		if c.Peer(k) == nil {
			delete(eps, k)
		}
	}
	for _, p := range c.Peers {
		if a, err := netip.ParseAddr(p.EndpointHost); err == nil {
			eps[p.PublicKey] = netip.AddrPortFrom(a, p.EndpointPort)
		}
	}
	return device.Desired{Config: d.active(c, d.clock()), Endpoints: eps, MTU: d.mtuOf(c)}
}

func (d *Daemon) up(c config.Interface) error {
	iface, err := device.Open(d.desired(c), device.Options{UAPIDir: d.opts.UAPIDir, ManageL3: !d.opts.Netifd, Logger: d.log})
	if err != nil {
		d.ifaceErrs[c.Name] = err.Error()
		d.log.Error("interface not up", "interface", c.Name, "error", err)
		return err
	}
	delete(d.ifaceErrs, c.Name)
	d.ifaces[c.Name] = iface
	d.log.Info("interface up", "interface", c.Name, "public_key", c.PublicKey(), "listen_port", c.ListenPort, "peers", len(c.Peers))
	return nil
}

// update applies the desired state of a running interface.
func (d *Daemon) update(name string) {
	iface, c := d.ifaces[name], d.cfg.Interface(name)
	if iface == nil || c == nil {
		return
	}
	counted := d.observeIface(iface)
	err := iface.Update(d.desired(*c))
	d.resetGone(iface, iface.Name(), counted)
	if err != nil {
		d.log.Error("interface update", "interface", name, "error", err)
		d.ifaceErrs[name] = err.Error()
		return
	}
	delete(d.ifaceErrs, name)
}

func (d *Daemon) down(iface *device.Interface) {
	counted := d.observeIface(iface)
	defer d.resetGone(nil, iface.Name(), counted)
	if err := iface.Close(); err != nil {
		d.log.Warn("interface down", "interface", iface.Name(), "error", err)
	}
	delete(d.ifaces, iface.Name())
	delete(d.endpoints, iface.Name())
	delete(d.expired, iface.Name())
	d.resolver.forget(iface.Name())
	d.log.Info("interface down", "interface", iface.Name())
}

func (d *Daemon) shutdown() {
	for _, iface := range d.ifaces {
		d.down(iface)
	}
}

// setEndpoint records a resolved endpoint name and applies it.
func (d *Daemon) setEndpoint(iface string, peer config.Key, ap netip.AddrPort) {
	c := d.cfg.Interface(iface)
	if c == nil || c.Peer(peer) == nil || d.endpoints[iface] == nil {
		return
	}
	if d.endpoints[iface][peer] == ap {
		return
	}
	d.endpoints[iface][peer] = ap
	d.update(iface)
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
