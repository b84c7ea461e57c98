package daemon

import (
	"context"
	"time"

	"wgd/config"
)

// The watchdog replaces OpenWrt's wireguard_watchdog cron job: a peer
// whose endpoint is a name and whose last handshake is older than the
// configured age (never counts as older) has its name resolved again; an
// endpoint that moved is applied and the peer kicked. It runs inside the
// daemon, so it needs no cron and checks more often than once a minute.

// watchdogInterval is how often peers are checked for an age: a fifth of
// it, within bounds; while the watchdog is off, how often the
// configuration is looked at again.
func watchdogInterval(age time.Duration) time.Duration {
	if age <= 0 {
		return 30 * time.Second
	}
	return min(max(age/5, time.Second), 30*time.Second)
}

func (d *Daemon) runWatchdog(ctx context.Context) {
	for {
		var age time.Duration
		if d.do(ctx, func() { age = d.cfg.Daemon.WatchdogAge }) != nil {
			return
		}
		select {
		case <-time.After(watchdogInterval(age)):
		case <-ctx.Done():
			return
		}
		if age > 0 {
			d.watchdogRound(ctx, age)
		}
	}
}

// watchdogRound re-resolves the stale peers once.
func (d *Daemon) watchdogRound(ctx context.Context, age time.Duration) {
	var targets []target
	if d.do(ctx, func() { targets = d.staleTargets(age, time.Now()) }) != nil || len(targets) == 0 {
		d.do(ctx, func() { d.hp.watchdog.LastRun, d.hp.watchdog.Stale = time.Now(), 0 })
		return
	}
	rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	rs := d.resolveTargets(rctx, targets)
	cancel()
	d.do(ctx, func() {
		d.hp.watchdog.LastRun, d.hp.watchdog.Stale = time.Now(), len(targets)
		var moved []target
		for _, ch := range d.applyResolved(rs, "watchdog") {
			moved = append(moved, target{iface: ch.Interface, peer: ch.Peer})
		}
		kicked := d.kickTargets(moved)
		d.log.Debug("watchdog", "stale", len(targets), "moved", len(moved), "kicked", kicked)
	})
}

// staleTargets lists the peers with an endpoint name whose last
// handshake is older than age; on the daemon goroutine.
func (d *Daemon) staleTargets(age time.Duration, now time.Time) []target {
	last := map[string]map[config.Key]time.Time{}
	for name, iface := range d.ifaces {
		st, err := iface.State()
		if err != nil {
			continue
		}
		m := map[config.Key]time.Time{}
		for _, p := range st.Peers {
			m[p.PublicKey] = p.LastHandshake
		}
		last[name] = m
	}
	return d.nameTargets(func(iface string, p config.Peer) bool {
		t := last[iface][p.PublicKey]
		return t.IsZero() || now.Sub(t) > age
	})
}
