package daemon

import (
	"maps"
	"net/netip"
	"testing"

	"wgd/config"
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

// desired reads the record and changes nothing: an interface the record
// has never seen gets no endpoints and stays unseen.
func TestDesiredChangesNothing(t *testing.T) {
	d := New(Options{})
	c := config.Interface{Name: "wg0", Peers: []config.Peer{{PublicKey: config.Key{1}, EndpointHost: "192.0.2.1", EndpointPort: 1}}}
	d.wanFits = 1420
	if got := d.desired(c).Endpoints; len(got) != 0 {
		t.Errorf("endpoints of an interface the record has not followed: %v", got)
	}
	if len(d.endpoints) != 0 {
		t.Errorf("desired changed the record: %v", d.endpoints)
	}
	d.endpoints.follow(c)
	got := d.desired(c).Endpoints
	got[config.Key{1}] = netip.AddrPort{}
	if a := d.endpoints.addrs("wg0"); !a[config.Key{1}].IsValid() {
		t.Error("desired's endpoints share the record's map")
	}
}
