package daemon

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"wgd/api"
)

// goroutines are the stacks of the goroutines running now, by id.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		id, _, _ := strings.Cut(strings.TrimPrefix(g, "goroutine "), " ")
		out[id] = g
	}
	return out
}

// leftSince returns the goroutines started after before that are still
// there a second later: what goes on after Run returned.
func leftSince(before map[string]string) []string {
	deadline := time.Now().Add(time.Second)
	for {
		var left []string
		for id, g := range goroutines() {
			if _, ok := before[id]; !ok {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			slices.Sort(left)
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// When Run returns, nothing it started runs on: not a lookup of an
// endpoint name, not a control connection a client keeps open, not the
// WAN sources and timers, not the watcher of a device the engine closed
// by itself (one brought back, one dying as Run ends); and Stop has
// closed what the settings started.
func TestRunLeavesNoGoroutine(t *testing.T) {
	before := goroutines()
	k, p := secretKey(t), secretKey(t).PublicKey()
	dir := t.TempDir()
	writeNetwork(t, dir, iface("wgsv", k, "\tlist addresses '10.81.0.1/24'")+
		peer("wgsv", p, "\tlist allowed_ips '10.81.0.2/32'\n\toption endpoint_host 'slow.example'"))
	looking := make(chan struct{}, 1)
	var stopped atomic.Bool
	td := startDaemonWith(t, dir, Options{Stop: func() { stopped.Store(true) }}, func(d *Daemon) {
		d.resolver.lookup = func(ctx context.Context, _, _ string) ([]netip.Addr, error) {
			select {
			case looking <- struct{}{}:
			default:
			}
			<-ctx.Done() // a name server that does not answer
			return nil, ctx.Err()
		}
	})
	select {
	case <-looking:
	case <-time.After(10 * time.Second):
		t.Fatal("the endpoint name is not being looked up: the test proves nothing")
	}
	idle, err := net.Dial("unix", td.socket) // a client that says nothing
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if err := api.Call(context.Background(), td.socket, "ping", nil, nil); err != nil {
		t.Fatal(err)
	}
	first := td.running("wgsv")
	td.parts.failTUN("wgsv")
	waitFor(t, "the dead device to come back", func() bool {
		s := td.status(t)
		return s.Counters.DeviceRestarts == 1 && s.Interfaces[0].Up && td.running("wgsv") != first
	})
	td.parts.failTUN("wgsv") // and dies again as Run ends
	td.stop(t)
	if !stopped.Load() {
		t.Error("Run returned without calling Stop")
	}
	for _, g := range leftSince(before) {
		t.Errorf("left running after Run returned:\n%s", g)
	}
}

// Under netifd, a call to netifd under way (a renew whose handler is
// slow) ends with Run too.
func TestRunWaitsForNetifdCalls(t *testing.T) {
	before := goroutines()
	k, p := secretKey(t), secretKey(t).PublicKey()
	network := func(extra string) string {
		return iface("wgsn", k, "\tlist addresses '10.82.0.1/24'") + peer("wgsn", p, "\tlist allowed_ips '10.82.0.2/32'"+extra)
	}
	dir := t.TempDir()
	writeNetwork(t, dir, network(""))
	calling := make(chan struct{}, 1)
	var ended atomic.Bool
	td := startDaemonWith(t, dir, Options{Netifd: true, NetifdCall: func(ctx context.Context, _ string, _ ...string) {
		calling <- struct{}{}
		<-ctx.Done() // netifd does not answer
		ended.Store(true)
	}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := api.Call(ctx, td.socket, "ifup", api.InterfaceArgs{Interface: "wgsn"}, &api.IfupResult{}); err != nil {
		t.Fatal(err)
	}
	writeNetwork(t, dir, network("\n\tlist allowed_ips '10.82.1.0/24'\n\toption route_allowed_ips '1'"))
	td.reload(t) // the answer changes: netifd is asked to renew
	select {
	case <-calling:
	case <-time.After(10 * time.Second):
		t.Fatal("netifd was not asked to renew: the test proves nothing")
	}
	td.stop(t)
	if !ended.Load() {
		t.Error("Run returned while a call to netifd was under way")
	}
	for _, g := range leftSince(before) {
		t.Errorf("left running after Run returned:\n%s", g)
	}
}

// Calls run in the order they were queued, one at a time, also those
// queued while one runs; run returns once its context ends, with a call
// under way ended by it, and drops the rest.
func TestCallQueue(t *testing.T) {
	q := newCallQueue()
	ctx, cancel := context.WithCancel(context.Background())
	var order []int
	step := make(chan int)
	for i := range 3 {
		q.push(func(context.Context) { order = append(order, i); step <- i })
	}
	done := make(chan struct{})
	go func() { defer close(done); q.run(ctx) }()
	<-step
	q.push(func(context.Context) { order = append(order, 3); step <- 3 })
	<-step
	<-step
	<-step
	blocked := make(chan struct{})
	q.push(func(ctx context.Context) { close(blocked); <-ctx.Done() })
	q.push(func(context.Context) { order = append(order, 99) })
	<-blocked
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	if !slices.Equal(order, []int{0, 1, 2, 3}) {
		t.Errorf("calls ran as %v, want 0 1 2 3 and nothing after the end", order)
	}
}
