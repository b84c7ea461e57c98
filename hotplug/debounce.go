package hotplug

import "time"

// Debouncer turns a burst of events into one action: it is due once the
// events have paused for Quiet, or Max after the burst began, whichever
// comes first, so a link that never stops flapping still gets a refresh
// every Max. It holds no timer of its own: the caller passes the time,
// which keeps it deterministic in tests.
type Debouncer struct {
	Quiet, Max  time.Duration
	pending     bool
	first, last time.Time
}

// Add records an event at now.
func (d *Debouncer) Add(now time.Time) {
	if !d.pending {
		d.pending, d.first = true, now
	}
	d.last = now
}

// Deadline is when the pending burst is due; ok is false when no event
// is pending.
func (d *Debouncer) Deadline() (t time.Time, ok bool) {
	if !d.pending {
		return time.Time{}, false
	}
	t = d.last.Add(d.Quiet)
	if m := d.first.Add(d.Max); m.Before(t) {
		t = m
	}
	return t, true
}

// Fire reports whether the burst is due at now; if so, it is consumed and
// the next event starts a new burst.
func (d *Debouncer) Fire(now time.Time) bool {
	t, ok := d.Deadline()
	if !ok || now.Before(t) {
		return false
	}
	d.pending = false
	return true
}
