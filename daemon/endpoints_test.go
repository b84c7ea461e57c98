package daemon

import (
	"bytes"
	"log/slog"
	"maps"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"wgd/config"
	"wgd/device"
)

// The record follows the configuration: an address is used as it is, a
// name has an address once it resolved and keeps it while the peer names
// the same host and port; a peer gone, without endpoint_host, or naming
// another host or port has its old address no more.
func TestEndpointsFollowConfiguration(t *testing.T) {
	lit, name, gone := config.Key{1}, config.Key{2}, config.Key{3}
	c := config.Interface{Name: "wg0", Peers: []config.Peer{
		{PublicKey: lit, EndpointHost: "192.0.2.1", EndpointPort: 51820},
		{PublicKey: name, EndpointHost: "vpn.example", EndpointPort: 51820},
		{PublicKey: gone, EndpointHost: "192.0.2.3", EndpointPort: 1},
	}}
	e := endpoints{}
	e.follow(c)
	want := map[config.Key]netip.AddrPort{lit: netip.MustParseAddrPort("192.0.2.1:51820"), gone: netip.MustParseAddrPort("192.0.2.3:1")}
	if got := e.addrs("wg0"); !maps.Equal(got, want) {
		t.Fatalf("before resolving: %v, want %v", got, want)
	}
	if n := e.names("wg0"); len(n) != 1 || n[name].host != "vpn.example" {
		t.Errorf("names %v", n)
	}
	resolved := netip.MustParseAddrPort("198.51.100.7:51820")
	if !e.set("wg0", name, "vpn.example", 51820, resolved) {
		t.Fatal("the answer for the name the peer has was refused")
	}
	if e.set("wg0", name, "vpn.example", 51820, resolved) {
		t.Error("the same answer again reports a change")
	}
	if e.set("wg0", lit, "192.0.2.1", 51820, resolved) {
		t.Error("an answer replaced a configured address")
	}
	e.follow(c) // a reload that changes nothing keeps the resolved address
	want[name] = resolved
	if got := e.addrs("wg0"); !maps.Equal(got, want) {
		t.Fatalf("after resolving: %v, want %v", got, want)
	}

	c.Peers = c.Peers[:2]
	c.Peers[0].EndpointHost = ""                // endpoint_host removed
	c.Peers[1].EndpointHost = "nowhere.invalid" // a name that does not resolve
	e.follow(c)
	if got := e.addrs("wg0"); len(got) != 0 {
		t.Errorf("old addresses kept: %v", got)
	}
	if e.set("wg0", name, "vpn.example", 51820, resolved) {
		t.Error("an answer for the host the peer named before was taken")
	}
	if got := e.addrs("wg0"); len(got) != 0 {
		t.Errorf("after the stale answer: %v", got)
	}

	c.Peers[1].EndpointHost = "vpn.example"
	c.Peers[1].EndpointPort = 51821 // same name, other port: resolved anew
	e.follow(c)
	if got := e.addrs("wg0"); len(got) != 0 {
		t.Errorf("the old port's address kept: %v", got)
	}
	if e.set("wg0", name, "vpn.example", 51820, resolved) || !e.set("wg0", name, "vpn.example", 51821, netip.MustParseAddrPort("198.51.100.7:51821")) {
		t.Error("the answer for the old port taken, or the new one refused")
	}

	e.forget("wg0")
	if e.set("wg0", name, "vpn.example", 51821, resolved) || len(e.addrs("wg0")) != 0 {
		t.Error("an interface forgotten takes answers")
	}
}

// desired reads the endpoints record, the peers recorded as expired and
// the WAN as last seen, and changes none of them: asked twice, at a time
// a guest has expired and with a WAN (here lo, whose MTU is like no
// other) the daemon has not looked at yet, it answers the same, logs
// nothing, and leaves the record, the expired peers and the WAN's MTU as
// they were. An interface the record has never seen gets no endpoints.
func TestDesiredChangesNothing(t *testing.T) {
	var log bytes.Buffer
	d := New(Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	guest, friend := config.Key{1}, config.Key{2}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := config.Interface{Name: "wg0", Peers: []config.Peer{
		{PublicKey: guest, EndpointHost: "192.0.2.1", EndpointPort: 1, Expires: start.Add(time.Hour)},
		{PublicKey: friend},
	}}
	d.cfg = &config.Config{Interfaces: []config.Interface{c}, Daemon: config.Daemon{WANInterfaces: []string{"lo"}}}
	d.wanFits = 1000
	d.clock = func() time.Time { return start.Add(2 * time.Hour) }

	first := d.desired(c)
	if len(first.Endpoints) != 0 {
		t.Errorf("endpoints of an interface the record has not followed: %v", first.Endpoints)
	}
	if again := d.desired(c); !reflect.DeepEqual(first, again) {
		t.Errorf("desired answered %+v, then %+v", first, again)
	}
	if len(d.endpoints) != 0 {
		t.Errorf("desired changed the record: %v", d.endpoints)
	}
	if len(d.expired) != 0 {
		t.Errorf("desired recorded expired peers: %v", d.expired)
	}
	if d.wanFits != 1000 || first.MTU != device.AutoMTU(1000) {
		t.Errorf("desired looked at the WAN: it now carries %d, MTU %d", d.wanFits, first.MTU)
	}
	if log.Len() != 0 {
		t.Errorf("desired logged:\n%s", log.String())
	}
	if len(first.Config.Peers) != 2 {
		t.Errorf("peers before the expiry was noted: %d, want 2", len(first.Config.Peers))
	}

	// What changes that state: a reload's steps, the expiry timer, the
	// WAN monitor.
	d.endpoints.follow(c)
	if !d.noteExpiry(c, d.clock()) || d.noteExpiry(c, d.clock()) {
		t.Error("the expiry noted no change, or a change twice")
	}
	d.seeWAN()
	got := d.desired(c)
	if len(got.Config.Peers) != 1 || got.Config.Peers[0].PublicKey != friend || len(c.Peers) != 2 {
		t.Errorf("after the expiry: peers %+v (configuration %d peers)", got.Config.Peers, len(c.Peers))
	}
	if d.wanFits == 1000 {
		t.Errorf("the WAN as seen did not change: lo is the WAN")
	}
	got.Endpoints[guest] = netip.AddrPort{}
	if a := d.endpoints.addrs("wg0"); !a[guest].IsValid() {
		t.Error("desired's endpoints share the record's map")
	}
}
