package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"wgd/config"
)

// A name that fails is retried until it resolves; the result reaches the
// daemon's side once; a peer whose host changed meanwhile gets the new
// name's address, never the old one's.
func TestResolverRetriesAndDropsStaleResults(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		calls[host]++
		switch {
		case host == "late.example" && calls[host] < 3:
			return nil, errors.New("no such host")
		case host == "slow.example":
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.7")}, nil
	}
	type result struct {
		peer config.Key
		ap   netip.AddrPort
	}
	results := make(chan result, 10)
	var loop sync.Mutex // stands for the daemon's goroutine
	do := func(ctx context.Context, f func()) error { loop.Lock(); defer loop.Unlock(); f(); return nil }
	r := newResolver(slog.New(slog.DiscardHandler), do, func(_ string, k config.Key, ap netip.AddrPort) { results <- result{k, ap} })
	r.lookup = lookup
	defer r.stop()

	late, moved := config.Key{1}, config.Key{2}
	c := config.Interface{Name: "wg0", Peers: []config.Peer{
		{PublicKey: late, EndpointHost: "late.example", EndpointPort: 51820},
		{PublicKey: moved, EndpointHost: "slow.example", EndpointPort: 1},
		{PublicKey: config.Key{3}, EndpointHost: "192.0.2.9", EndpointPort: 1}, // literal: no lookup
	}}
	loop.Lock()
	r.track(c)
	c.Peers[1].EndpointHost = "fast.example"
	r.track(c)
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
	if got[late] != netip.MustParseAddrPort("192.0.2.7:51820") || got[moved] != netip.MustParseAddrPort("192.0.2.7:1") {
		t.Errorf("results %v (IPv4 is preferred)", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["late.example"] != 3 || calls["192.0.2.9"] != 0 {
		t.Errorf("lookups %v", calls)
	}
}
