package daemon

import (
	"context"
	"slices"
	"time"

	"wgd/config"
)

// Guest peers: a peer with `option expires` runs until then. Each load
// of the configuration and each expiry look records the peers expired by
// the clock (noteExpiry), and the desired state leaves those out, so a
// restart or reload after the expiry never brings one back. While the
// daemon runs, runExpiry disables each peer live at its time through the
// normal update path: the other peers keep their sessions.

// expiryCheck bounds each wait for the next expiry: the timers follow a
// monotonic clock, the expiry is wall-clock time, and the two part when
// the clock is set (NTP at boot, by hand).
var expiryCheck = 30 * time.Second

// noteExpiry records which peers of c are expired at now, logging those
// whose expiry changed since the last look; it reports whether they
// changed. The desired state leaves the recorded ones out.
func (d *Daemon) noteExpiry(c config.Interface, now time.Time) bool {
	keys := c.Expired(now)
	was := d.expired[c.Name]
	if slices.Equal(keys, was) {
		return false
	}
	for _, p := range c.Peers {
		in, before := slices.Contains(keys, p.PublicKey), slices.Contains(was, p.PublicKey)
		switch {
		case in && !before:
			d.log.Info("peer expired: disabled", "interface", c.Name, "peer", p.Name(), "expires", p.Expires.Format(time.RFC3339))
		case !in && before:
			d.log.Warn("peer no longer expired (the clock was set back?): enabled", "interface", c.Name, "peer", p.Name(), "expires", p.Expires.Format(time.RFC3339))
		}
	}
	if len(keys) == 0 {
		delete(d.expired, c.Name)
	} else {
		d.expired[c.Name] = keys
	}
	return true
}

// active is c without the peers recorded as expired.
func (d *Daemon) active(c config.Interface) config.Interface { return c.Without(d.expired[c.Name]) }

// expire updates the running interfaces whose expired peers are no
// longer those they run without; on the daemon goroutine. It returns
// when to look again (zero: no peer has an expiry).
func (d *Daemon) expire(now time.Time) (next time.Time) {
	some := false
	for _, c := range d.cfg.Interfaces {
		for _, p := range c.Peers {
			some = some || !p.Expires.IsZero()
		}
		if d.wanted(&c) && d.noteExpiry(c, now) && d.ifaces[c.Name] != nil {
			d.update(c.Name)
		}
	}
	d.renewNetifd()
	if !some {
		return time.Time{}
	}
	next = now.Add(expiryCheck)
	if n := d.cfg.NextExpiry(now); !n.IsZero() && n.Before(next) {
		next = n
	}
	return next
}

// rearmExpiry makes runExpiry look at a new configuration.
func (d *Daemon) rearmExpiry() {
	select {
	case d.expiryRearm <- struct{}{}:
	default:
	}
}

// runExpiry disables peers at their expiry until ctx ends.
func (d *Daemon) runExpiry(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var next time.Time
		var now time.Time
		if d.do(ctx, func() { now = d.clock(); next = d.expire(now) }) != nil {
			return
		}
		var due <-chan time.Time
		if !next.IsZero() {
			timer.Reset(max(next.Sub(now), 0))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-d.expiryRearm:
		case <-due:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}
