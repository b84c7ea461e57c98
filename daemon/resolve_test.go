package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"wgd/config"
)

// A name that fails is retried until it resolves; the result reaches the
// endpoints record once; a peer whose host changed meanwhile gets the new
// name's address, never the old one's, even when the old lookup answers
// last.
func TestResolverRetriesAndDropsStaleResults(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	release := make(chan struct{})
	stale := netip.MustParseAddr("203.0.113.9")
	lookup := func(ctx context.Context, _, host string) ([]netip.Addr, error) {
		mu.Lock()
		calls[host]++
		n := calls[host]
		mu.Unlock()
		switch {
		case host == "late.example" && n < 3:
			return nil, errors.New("no such host")
		case host == "slow.example":
			<-release // answers after the peer moved to another name
			return []netip.Addr{stale}, nil
		}
		return []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.7")}, nil
	}
	type result struct {
		peer config.Key
		ap   netip.AddrPort
	}
	results := make(chan result, 10)
	eps := endpoints{}
	var loop sync.Mutex // stands for the daemon's goroutine
	do := func(ctx context.Context, f func()) error { loop.Lock(); defer loop.Unlock(); f(); return nil }
	r := newResolver(slog.New(slog.DiscardHandler), do, func(iface string, k config.Key, host string, port uint16, ap netip.AddrPort) {
		if eps.set(iface, k, host, port, ap) {
			results <- result{k, ap}
		}
	})
	r.lookup = lookup
	r.families = func() (bool, bool) { return true, true }
	defer r.stop()

	late, moved := config.Key{1}, config.Key{2}
	c := config.Interface{Name: "wg0", Peers: []config.Peer{
		{PublicKey: late, EndpointHost: "late.example", EndpointPort: 51820},
		{PublicKey: moved, EndpointHost: "slow.example", EndpointPort: 1},
		{PublicKey: config.Key{3}, EndpointHost: "192.0.2.9", EndpointPort: 1}, // literal: no lookup
	}}
	track := func() { eps.follow(c); r.track(c.Name, eps.names(c.Name)) }
	loop.Lock()
	track()
	c.Peers[1].EndpointHost = "fast.example"
	track()
	loop.Unlock()

	got := map[config.Key]netip.AddrPort{}
	timeout := time.After(15 * time.Second)
	for len(got) < 2 {
		select {
		case res := <-results:
			if _, dup := got[res.peer]; dup {
				t.Fatalf("second result for %v", res.peer)
			}
			got[res.peer] = res.ap
		case <-timeout:
			t.Fatalf("results so far: %v", got)
		}
	}
	close(release)
	r.stop() // the slow lookup has answered
	if got[late] != netip.MustParseAddrPort("192.0.2.7:51820") || got[moved] != netip.MustParseAddrPort("192.0.2.7:1") {
		t.Errorf("results %v (IPv4 is preferred)", got)
	}
	loop.Lock()
	defer loop.Unlock()
	if a := eps.addrs("wg0"); a[moved] != netip.MustParseAddrPort("192.0.2.7:1") || a[config.Key{3}] != netip.MustParseAddrPort("192.0.2.9:1") {
		t.Errorf("endpoints after the stale answer: %v", a)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["late.example"] != 3 || calls["192.0.2.9"] != 0 || calls["slow.example"] != 1 {
		t.Errorf("lookups %v", calls)
	}
}

// The address kept is the one in use while the name still lists it; else
// a family the WAN has a default route for.
func TestPickRespectsFamiliesAndCurrent(t *testing.T) {
	v4a, v4b, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::1")
	all := []netip.Addr{v6, v4a, v4b}
	for _, c := range []struct {
		current  netip.Addr
		v4, v6   bool
		want     netip.Addr
		wantNone bool
	}{
		{netip.Addr{}, true, true, v4a, false},
		{v4b, true, true, v4b, false}, // no flapping between A records
		{netip.Addr{}, false, true, v6, false},
		{v6, true, true, v6, false},
		{netip.Addr{}, true, false, v4a, false},
	} {
		got, ok := pick(all, c.current, c.v4, c.v6)
		if ok == c.wantNone || got != c.want {
			t.Errorf("pick(current %v, v4 %v, v6 %v) = %v %v, want %v", c.current, c.v4, c.v6, got, ok, c.want)
		}
	}
	if _, ok := pick([]netip.Addr{v6}, netip.Addr{}, true, false); ok {
		t.Error("an IPv6-only name picked for an IPv4-only WAN")
	}

	var asked []string
	r := newResolver(slog.New(slog.DiscardHandler), nil, nil)
	defer r.stop()
	r.lookup = func(_ context.Context, network, _ string) ([]netip.Addr, error) {
		asked = append(asked, network)
		return all, nil
	}
	for _, fam := range [][2]bool{{true, false}, {false, true}, {true, true}} {
		r.families = func() (bool, bool) { return fam[0], fam[1] }
		if _, err := r.resolveNow(context.Background(), "vpn.example", 1, netip.AddrPort{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(asked, " "); got != "ip4 ip6 ip" {
		t.Errorf("lookups asked for %q, want ip4 ip6 ip", got)
	}
}
