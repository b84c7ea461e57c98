package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/device"
	"wgd/totals"
)

// Traffic totals (package totals): the engine's session counters are
// read whenever status is asked for, every totalsObserve while running,
// and just before anything that starts them again (an interface going
// down, peers taken off the engine); saved at most once an hour and when
// the daemon stops.

const totalsObserve = 10 * time.Minute

// totalsPath is where the totals go: `option totals_file`, else the
// daemon's option, else wgd/totals.json next to the configuration
// directory (/etc/wgd/totals.json for /etc/config).
func (d *Daemon) totalsPath(cfg *config.Config) string {
	switch {
	case cfg.Daemon.TotalsFile != "":
		return cfg.Daemon.TotalsFile
	case d.opts.TotalsFile != "":
		return d.opts.TotalsFile
	}
	return filepath.Join(filepath.Dir(filepath.Clean(d.opts.ConfigDir)), "wgd", filepath.Base(totals.DefaultPath))
}

// useTotals opens the totals at the path cfg asks for: read on the first
// load; a later change of path only moves where they are saved.
func (d *Daemon) useTotals(cfg *config.Config) {
	path := d.totalsPath(cfg)
	if d.totals == nil {
		s, err := totals.Load(path)
		if err != nil {
			d.log.Warn("traffic totals start from zero", "error", err)
		}
		d.totals = s
		d.totals.SaveDue(time.Now()) // starts the clock: the first save is an hour away
		return
	}
	d.totals.Path = path
}

// observe records the session counters of a running interface's peers.
func (d *Daemon) observe(name string, st device.State, now time.Time) {
	if d.totals == nil {
		return
	}
	for _, p := range st.Peers {
		d.totals.Observe(name, p.PublicKey, totals.Counts{Rx: p.RxBytes, Tx: p.TxBytes}, now)
	}
}

// observeIface reads and records an interface's counters; it returns the
// peers the engine runs.
func (d *Daemon) observeIface(iface *device.Interface) []config.Key {
	st, err := iface.State()
	if err != nil {
		return nil
	}
	d.observe(iface.Name(), st, time.Now())
	keys := make([]config.Key, len(st.Peers))
	for i, p := range st.Peers {
		keys[i] = p.PublicKey
	}
	return keys
}

// resetGone tells the totals which of keys the engine of interface name
// no longer runs: all of them when iface is nil (it closed).
func (d *Daemon) resetGone(iface *device.Interface, name string, keys []config.Key) {
	if d.totals == nil || len(keys) == 0 {
		return
	}
	running := map[config.Key]bool{}
	if iface != nil {
		if st, err := iface.State(); err == nil {
			for _, p := range st.Peers {
				running[p.PublicKey] = true
			}
		}
	}
	for _, k := range keys {
		if !running[k] {
			d.totals.Reset(name, k)
		}
	}
}

// total is a peer's traffic over all its sessions.
func (d *Daemon) total(iface string, k config.Key) (totals.Counts, bool) {
	if d.totals == nil {
		return totals.Counts{}, false
	}
	return d.totals.Total(iface, k)
}

// observeAll records every running interface, marks the configured peers
// as such and saves when due; on the daemon goroutine.
func (d *Daemon) observeAll(save bool) {
	if d.totals == nil {
		return
	}
	now := time.Now()
	for _, iface := range d.ifaces {
		d.observeIface(iface)
	}
	for _, c := range d.cfg.Interfaces {
		for _, p := range c.Peers {
			d.totals.Seen(c.Name, p.PublicKey, now)
		}
	}
	if !save {
		return
	}
	if _, err := d.totals.SaveDue(now); err != nil {
		d.log.Warn("saving traffic totals", "error", err)
	}
}

// saveTotals writes the totals as the daemon stops.
func (d *Daemon) saveTotals() {
	if d.totals == nil {
		return
	}
	if err := d.totals.Save(time.Now()); err != nil {
		d.log.Warn("saving traffic totals", "error", err)
	}
}

// runTotals reads the counters now and then and saves when due.
func (d *Daemon) runTotals(ctx context.Context) {
	t := time.NewTicker(totalsObserve)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.do(ctx, func() { d.observeAll(true) })
		}
	}
}

// forgetRequest drops a removed peer's totals (`wgd peer remove`).
func (d *Daemon) forgetRequest(ctx context.Context, raw json.RawMessage) (any, error) {
	var a api.ForgetArgs
	if err := json.Unmarshal(raw, &a); err != nil || a.Interface == "" || a.PublicKey.IsZero() {
		return nil, errors.New("want {\"interface\": NAME, \"public_key\": KEY}")
	}
	var out api.ForgetAnswer
	err := d.do(ctx, func() {
		if d.totals != nil {
			out.Forgotten = d.totals.Forget(a.Interface, a.PublicKey)
		}
	})
	return out, err
}
