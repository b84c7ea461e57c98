package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/hotplug"
	"wgd/internal/netnstest"
)

// fakeDNS stands for the resolver in these tests: the names and what they
// resolve to change while the daemon runs.
type fakeDNS struct {
	mu      sync.Mutex
	names   map[string]string
	lookups int
}

func (f *fakeDNS) set(name, addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[name] = addr
}

func (f *fakeDNS) lookup(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	a, ok := f.names[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	return []netip.Addr{netip.MustParseAddr(a)}, nil
}

// startWithDNS is startDaemon with a wgd file and the fake resolver.
func startWithDNS(t *testing.T, network, wgd string, dns *fakeDNS) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	writeNetwork(t, dir, network)
	if err := os.WriteFile(filepath.Join(dir, "wgd"), []byte(wgd), 0o600); err != nil {
		t.Fatal(err)
	}
	return startDaemonWith(t, dir, Options{}, func(d *Daemon) {
		d.resolver.lookup = dns.lookup
		d.resolver.families = func() (bool, bool) { return true, false }
	})
}

func (td *testDaemon) hotplug(t *testing.T, ev hotplug.Event) {
	t.Helper()
	var ans api.HotplugAnswer
	if err := api.Call(context.Background(), td.socket, "hotplug", ev, &ans); err != nil {
		t.Fatal(err)
	}
	if !ans.Queued {
		t.Fatal("event not queued")
	}
}

// waitStatus polls status until ok accepts it.
func (td *testDaemon) waitStatus(t *testing.T, what string, ok func(*api.Status) bool) *api.Status {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := td.status(t)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; status: %+v hotplug %+v", what, s.Interfaces, s.Hotplug)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func engineEndpoint(s *api.Status, iface string, peer config.Key) string {
	for _, i := range s.Interfaces {
		if i.Name != iface {
			continue
		}
		for _, p := range i.Peers {
			if p.PublicKey == peer {
				return p.Endpoint
			}
		}
	}
	return ""
}

const wanWgd = "config wgd 'main'\n\tlist wan_interface 'wan'\n"

var wanUpdate = hotplug.Event{Action: hotplug.Update, Interface: "wan", Device: "eth9", Detail: "ifupdate: addresses"}

// A WAN event re-resolves endpoint names and applies what moved through
// the normal path: the engine's endpoint changes and status says so.
func TestHotplugMovesEndpoints(t *testing.T) {
	dns := &fakeDNS{names: map[string]string{"vpn.example": "192.0.2.7"}}
	k, p := secretKey(t), secretKey(t).PublicKey()
	td := startWithDNS(t, iface("wghp", k, "")+peer("wghp", p, "\toption endpoint_host 'vpn.example'\n\tlist allowed_ips '10.66.0.2/32'"), wanWgd, dns)
	td.waitStatus(t, "the first resolution", func(s *api.Status) bool { return engineEndpoint(s, "wghp", p) == "192.0.2.7:51820" })

	dns.set("vpn.example", "192.0.2.8")
	before := time.Now()
	td.hotplug(t, wanUpdate)
	td.waitStatus(t, "the endpoint to move", func(s *api.Status) bool { return engineEndpoint(s, "wghp", p) == "192.0.2.8:51820" })
	s := td.waitStatus(t, "the refresh to finish", func(s *api.Status) bool {
		return s.Hotplug.LastRefresh != nil && !s.Hotplug.LastRefresh.Finished.IsZero()
	})
	h := s.Hotplug
	if h.Refreshes != 1 || h.LastRefresh.Changed != 1 || h.LastRefresh.Resolved != 1 {
		t.Errorf("refresh: %d refreshes, last %+v; want 1 with one name resolved and one endpoint moved", h.Refreshes, h.LastRefresh)
	}
	if h.LastWANEvent == nil || h.LastWANEvent.Interface != "wan" || h.LastWANEvent.Source != hotplug.SourceHotplugD || h.LastWANEvent.Time.Before(before) {
		t.Errorf("last WAN event %+v", h.LastWANEvent)
	}
	if len(h.EndpointChanges) != 1 {
		t.Fatalf("endpoint changes %+v", h.EndpointChanges)
	}
	ch := h.EndpointChanges[0]
	if ch.From != "192.0.2.7:51820" || ch.To != "192.0.2.8:51820" || ch.By != "hotplug" || ch.Host != "vpn.example" || ch.Peer != p || ch.Interface != "wghp" {
		t.Errorf("endpoint change %+v", ch)
	}

	// Same answer again: nothing moves.
	td.hotplug(t, wanUpdate)
	s = td.waitStatus(t, "the second refresh", func(s *api.Status) bool {
		return s.Hotplug.Refreshes == 2 && !s.Hotplug.LastRefresh.Finished.IsZero()
	})
	if s.Hotplug.LastRefresh.Changed != 0 || len(s.Hotplug.EndpointChanges) != 1 {
		t.Errorf("an unchanged name moved something: %+v", s.Hotplug)
	}
}

// Events that are not about the WAN coming up or changing are recorded
// and nothing else.
func TestHotplugRecordsWithoutReacting(t *testing.T) {
	dns := &fakeDNS{names: map[string]string{"vpn.example": "192.0.2.7"}}
	k, p := secretKey(t), secretKey(t).PublicKey()
	td := startWithDNS(t, iface("wghq", k, "")+peer("wghq", p, "\toption endpoint_host 'vpn.example'"), wanWgd, dns)
	td.waitStatus(t, "the first resolution", func(s *api.Status) bool { return engineEndpoint(s, "wghq", p) == "192.0.2.7:51820" })
	dns.set("vpn.example", "192.0.2.9")

	td.hotplug(t, hotplug.Event{Action: hotplug.Down, Interface: "wan"})
	td.hotplug(t, hotplug.Event{Action: hotplug.Up, Interface: "lan", Device: "br-lan"})
	td.hotplug(t, hotplug.Event{Action: hotplug.Up, Interface: "wghq", Device: "wghq"}) // our own tunnel
	td.hotplug(t, hotplug.Event{Action: hotplug.Other, Interface: "wan", Detail: "ifupdate: data"})
	td.waitStatus(t, "four events", func(s *api.Status) bool { return s.Hotplug.Events == 4 })
	time.Sleep(hotplugQuiet + 500*time.Millisecond)
	s := td.status(t)
	if s.Hotplug.Refreshes != 0 {
		t.Errorf("%d refreshes for events that need none", s.Hotplug.Refreshes)
	}
	if w := s.Hotplug.LastWANEvent; w == nil || w.Interface != "wan" || w.Action != hotplug.Other {
		t.Errorf("last WAN event %+v", w)
	}
	if e := s.Hotplug.LastEvent; e == nil || e.Action != hotplug.Other {
		t.Errorf("last event %+v", e)
	}
	if got := engineEndpoint(s, "wghq", p); got != "192.0.2.7:51820" {
		t.Errorf("WAN down or a LAN event moved the endpoint to %s", got)
	}

	// Reaction off: recorded, nothing done.
	os.WriteFile(filepath.Join(td.dir, "wgd"), []byte(wanWgd+"\toption hotplug '0'\n"), 0o600)
	td.reload(t)
	td.hotplug(t, wanUpdate)
	td.waitStatus(t, "the event", func(s *api.Status) bool { return s.Hotplug.Events == 5 })
	time.Sleep(hotplugQuiet + 500*time.Millisecond)
	if s := td.status(t); s.Hotplug.Refreshes != 0 || s.Hotplug.Reacting {
		t.Errorf("option hotplug '0': %d refreshes, reacting %v", s.Hotplug.Refreshes, s.Hotplug.Reacting)
	}
}

// A storm of 200 events in one second makes a bounded number of refreshes.
func TestHotplugStorm(t *testing.T) {
	dns := &fakeDNS{names: map[string]string{"vpn.example": "192.0.2.7"}}
	k, p := secretKey(t), secretKey(t).PublicKey()
	td := startWithDNS(t, iface("wghs", k, "")+peer("wghs", p, "\toption endpoint_host 'vpn.example'\n\toption persistent_keepalive '25'"), wanWgd, dns)
	td.waitStatus(t, "the first resolution", func(s *api.Status) bool { return engineEndpoint(s, "wghs", p) == "192.0.2.7:51820" })
	dns.mu.Lock()
	lookupsBefore := dns.lookups
	dns.mu.Unlock()

	start := time.Now()
	for i := 0; i < 200; i++ {
		ev := wanUpdate
		ev.Detail = fmt.Sprintf("storm %d", i)
		td.hotplug(t, ev)
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * 5 * time.Millisecond)))
	}
	t.Logf("200 events sent in %v", time.Since(start).Round(time.Millisecond))
	td.waitStatus(t, "all events", func(s *api.Status) bool { return s.Hotplug.Events+int(s.Hotplug.Dropped) == 200 })
	time.Sleep(hotplugMax + time.Second)
	s := td.status(t)
	dns.mu.Lock()
	lookups := dns.lookups - lookupsBefore
	dns.mu.Unlock()
	t.Logf("storm: %d events recorded, %d dropped, %d refreshes, %d lookups", s.Hotplug.Events, s.Hotplug.Dropped, s.Hotplug.Refreshes, lookups)
	// One per second of storm at most (Max), plus the one after it.
	if s.Hotplug.Refreshes < 1 || s.Hotplug.Refreshes > 3 {
		t.Errorf("%d refreshes for 200 events in one second, want 1 to 3", s.Hotplug.Refreshes)
	}
	if lookups > 3 {
		t.Errorf("%d lookups of the endpoint name, want at most one per refresh", lookups)
	}
	if !strings.HasPrefix(s.Hotplug.LastWANEvent.Detail, "storm ") {
		t.Errorf("last WAN event %+v", s.Hotplug.LastWANEvent)
	}
}

// The watchdog re-resolves a name whose peer has not completed a
// handshake for longer than the age, without any event.
func TestWatchdogMovesStaleEndpoints(t *testing.T) {
	dns := &fakeDNS{names: map[string]string{"vpn.example": "192.0.2.7"}}
	k, p, q := secretKey(t), secretKey(t).PublicKey(), secretKey(t).PublicKey()
	td := startWithDNS(t, iface("wghw", k, "")+
		peer("wghw", p, "\toption endpoint_host 'vpn.example'")+
		peer("wghw", q, "\toption endpoint_host '192.0.2.50'"),
		"config wgd 'main'\n\toption watchdog_age '1'\n", dns)
	td.waitStatus(t, "the first resolution", func(s *api.Status) bool { return engineEndpoint(s, "wghw", p) == "192.0.2.7:51820" })
	dns.set("vpn.example", "192.0.2.10")
	td.waitStatus(t, "the watchdog", func(s *api.Status) bool { return engineEndpoint(s, "wghw", p) == "192.0.2.10:51820" })
	s := td.waitStatus(t, "the record", func(s *api.Status) bool { return len(s.Hotplug.EndpointChanges) == 1 })
	ch := s.Hotplug.EndpointChanges[0]
	if ch.By != "watchdog" || ch.From != "192.0.2.7:51820" || ch.To != "192.0.2.10:51820" {
		t.Errorf("change %+v", ch)
	}
	if s.Hotplug.Refreshes != 0 || s.Hotplug.Watchdog.AgeSeconds != 1 || s.Hotplug.Watchdog.LastRun.IsZero() || s.Hotplug.Watchdog.Stale != 1 {
		t.Errorf("hotplug status %+v (the literal endpoint is never stale)", s.Hotplug)
	}
	if got := engineEndpoint(s, "wghw", q); got != "192.0.2.50:51820" {
		t.Errorf("literal endpoint %q", got)
	}
}

func TestWatchdogInterval(t *testing.T) {
	for age, want := range map[time.Duration]time.Duration{0: 30 * time.Second, time.Second: time.Second, 150 * time.Second: 30 * time.Second, 20 * time.Second: 4 * time.Second} {
		if got := watchdogInterval(age); got != want {
			t.Errorf("watchdogInterval(%v) = %v, want %v", age, got, want)
		}
	}
}

func TestHotplugRefusesBadEvents(t *testing.T) {
	td := startDaemon(t, "")
	for _, args := range []any{nil, "x", map[string]string{"action": "explode"}, map[string]string{"action": "up", "interface": "wan\x00"}} {
		if err := api.Call(context.Background(), td.socket, "hotplug", args, nil); err == nil || !strings.Contains(err.Error(), "hotplug") {
			t.Errorf("hotplug %v: %v", args, err)
		}
	}
	if s := td.status(t); s.Hotplug == nil || s.Hotplug.Events != 0 || !s.Hotplug.Reacting || s.Hotplug.Watchdog.AgeSeconds != 150 {
		t.Errorf("status %+v", s.Hotplug)
	}
}

// The network monitor follows the kernel while the daemon's goroutine is
// busy (a firewall command, a slow apply): it never waits for it.
func TestMonitorDoesNotWaitForTheDaemon(t *testing.T) {
	netnstest.Root(t)
	td := startDaemon(t, "")
	release := make(chan struct{})
	blocked := make(chan struct{})
	go td.do(context.Background(), func() { close(blocked); <-release })
	<-blocked
	defer close(release)

	for _, args := range [][]string{
		{"link", "add", "mwan0", "type", "veth", "peer", "name", "mwan0p"},
		{"link", "set", "mwan0", "up"},
		{"link", "set", "mwan0p", "up"},
		{"addr", "add", "192.0.2.2/24", "dev", "mwan0"},
		{"route", "add", "default", "via", "192.0.2.1"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", "mwan0").Run() })
	deadline := time.Now().Add(5 * time.Second)
	for td.wan.Snapshot() == nil || len(td.wan.Snapshot().Defaults) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the default route never reached the monitor while the daemon was busy")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A WAN event sets again the layer 3 of an interface whose endpoints are
// kept outside its tunnel by host routes (their path follows the WAN),
// and leaves that of the others alone.
func TestRefreshSetsOnlyPinnedLayer3(t *testing.T) {
	full := iface("wghf", secretKey(t), "") + peer("wghf", secretKey(t).PublicKey(),
		"\tlist allowed_ips '0.0.0.0/0'\n\toption route_allowed_ips '1'\n\toption endpoint_host '192.0.2.7'")
	split := iface("wghs", secretKey(t), "") + peer("wghs", secretKey(t).PublicKey(),
		"\tlist allowed_ips '10.57.0.0/24'\n\toption route_allowed_ips '1'\n\toption endpoint_host '192.0.2.8'")
	td := startWithDNS(t, full+split, wanWgd, &fakeDNS{names: map[string]string{}})
	pinned, other := td.parts.router("wghf"), td.parts.router("wghs")
	if c, _ := pinned.config(); len(c.Pinned()) != 1 {
		t.Fatalf("wghf's endpoint is not pinned: %+v", c)
	}
	setsPinned, setsOther := pinned.setCount(), other.setCount()
	td.hotplug(t, wanUpdate)
	td.waitStatus(t, "the refresh", func(s *api.Status) bool {
		return s.Hotplug.LastRefresh != nil && !s.Hotplug.LastRefresh.Finished.IsZero()
	})
	if pinned.setCount() == setsPinned {
		t.Error("the host route of a full tunnel's endpoint was not set again after a WAN event")
	}
	if other.setCount() != setsOther {
		t.Error("a split tunnel's layer 3 was set again after a WAN event")
	}
}
