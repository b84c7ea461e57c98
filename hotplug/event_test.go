package hotplug

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFromEnv(t *testing.T) {
	for _, c := range []struct {
		env    map[string]string
		action Action
		detail string
	}{
		{map[string]string{"ACTION": "ifup", "INTERFACE": "wan", "DEVICE": "eth1"}, Up, "ifup"},
		{map[string]string{"ACTION": "ifdown", "INTERFACE": "wan"}, Down, "ifdown"},
		{map[string]string{"ACTION": "ifup-failed", "INTERFACE": "wan"}, Down, "ifup-failed"},
		{map[string]string{"ACTION": "ifupdate", "INTERFACE": "wan", "IFUPDATE_ADDRESSES": "1", "IFUPDATE_DATA": "1"}, Update, "ifupdate: addresses data"},
		{map[string]string{"ACTION": "ifupdate", "INTERFACE": "wan", "IFUPDATE_ROUTES": "1"}, Update, "ifupdate: routes"},
		// Only proto data changed: nothing about addressing.
		{map[string]string{"ACTION": "ifupdate", "INTERFACE": "wan", "IFUPDATE_DATA": "1"}, Other, "ifupdate: data"},
		{map[string]string{"ACTION": "ifupdate", "INTERFACE": "wan"}, Update, "ifupdate"},
		{map[string]string{"ACTION": "iflink", "INTERFACE": "wan"}, Other, "iflink"},
	} {
		ev, err := FromEnv(env(c.env))
		if err != nil {
			t.Errorf("%v: %v", c.env, err)
			continue
		}
		if ev.Action != c.action || ev.Detail != c.detail || ev.Interface != c.env["INTERFACE"] || ev.Device != c.env["DEVICE"] || ev.Source != SourceHotplugD {
			t.Errorf("%v: got %+v, want action %s detail %q", c.env, ev, c.action, c.detail)
		}
	}
	if _, err := FromEnv(env(nil)); err == nil || !strings.Contains(err.Error(), "ACTION") {
		t.Errorf("no ACTION: %v", err)
	}
	if _, err := FromEnv(env(map[string]string{"ACTION": "ifup", "INTERFACE": "wan\n"})); err == nil {
		t.Error("a control character in INTERFACE passed")
	}
	if _, err := FromEnv(env(map[string]string{"ACTION": "ifup", "DEVICE": strings.Repeat("x", 65)})); err == nil {
		t.Error("an overlong DEVICE passed")
	}
}

func TestEventReacts(t *testing.T) {
	for a, want := range map[Action]bool{Up: true, Update: true, Down: false, Other: false} {
		if got := (Event{Action: a}).Reacts(); got != want {
			t.Errorf("%s reacts = %v", a, got)
		}
	}
	if err := (Event{Action: "explode"}).Check(); err == nil {
		t.Error("unknown action passed Check")
	}
}

// fires counts how often a debouncer fires when events arrive at the
// given offsets and time is sampled every step afterwards, as the
// daemon's timer would.
func fires(d *Debouncer, events []time.Duration, until time.Duration) []time.Duration {
	start := time.Unix(1_000_000, 0)
	var out []time.Duration
	next := 0
	for now := time.Duration(0); now <= until; now += time.Millisecond {
		for next < len(events) && events[next] <= now {
			d.Add(start.Add(events[next]))
			next++
		}
		if d.Fire(start.Add(now)) {
			out = append(out, now)
		}
	}
	return out
}

func TestDebounceStorm(t *testing.T) {
	d := &Debouncer{Quiet: 250 * time.Millisecond, Max: time.Second}
	var storm []time.Duration
	for i := 0; i < 200; i++ {
		storm = append(storm, time.Duration(i)*5*time.Millisecond) // 200 events in one second
	}
	got := fires(d, storm, 5*time.Second)
	if len(got) == 0 || len(got) > 2 {
		t.Fatalf("200 events in 1 s fired %d times (%v), want 1 or 2", len(got), got)
	}
	// The first fires at the latest Max after the storm began.
	if got[0] > time.Second {
		t.Errorf("first refresh at %v, after Max", got[0])
	}
}

func TestDebounceSingleAndSeparateEvents(t *testing.T) {
	d := &Debouncer{Quiet: 250 * time.Millisecond, Max: time.Second}
	if got := fires(d, []time.Duration{0}, 2*time.Second); len(got) != 1 || got[0] != 250*time.Millisecond {
		t.Errorf("one event fired at %v, want once after Quiet", got)
	}
	d = &Debouncer{Quiet: 250 * time.Millisecond, Max: time.Second}
	if got := fires(d, []time.Duration{0, time.Second, 2 * time.Second}, 3*time.Second); len(got) != 3 {
		t.Errorf("three separate events fired %d times (%v), want 3", len(got), got)
	}
	// A link that never stops flapping still gets a refresh every Max.
	d = &Debouncer{Quiet: 250 * time.Millisecond, Max: time.Second}
	var flap []time.Duration
	for i := 0; i < 50; i++ {
		flap = append(flap, time.Duration(i)*100*time.Millisecond)
	}
	if got := fires(d, flap, 6*time.Second); len(got) < 5 || len(got) > 6 {
		t.Errorf("5 s of flapping fired %d times (%v), want one per second", len(got), got)
	}
	if _, ok := (&Debouncer{}).Deadline(); ok {
		t.Error("an idle debouncer has a deadline")
	}
}
