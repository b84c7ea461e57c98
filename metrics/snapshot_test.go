package metrics

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/firewall"
)

// TestFromStatus: the daemon's status maps field by field; an endpoint that
// is not an address:port is left out; parts the status lacks stay nil.
func TestFromStatus(t *testing.T) {
	k1, _ := config.ParseKey(keyLaptop)
	k2, _ := config.ParseKey(keyNever)
	ips := []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")}
	st := &api.Status{
		LastReload: time.Unix(1767320000, 0),
		Problems:   []string{"network:3: a warning"},
		Interfaces: []api.InterfaceStatus{{Name: "wg0", Up: true, ListenPort: 51820, Oversized: &api.OversizedStatus{FromLink: 3, FromNetwork: 4, ICMPSent: 3}, Peers: []api.PeerStatus{
			{Description: "laptop", PublicKey: k1, Endpoint: "[2001:db8::7]:40000", AllowedIPs: ips, LatestHandshake: 17, RxBytes: 1, TxBytes: 2,
				TotalRxBytes: 10, TotalTxBytes: 20, Expires: 99},
			{PublicKey: k2, EndpointHost: "vpn.example.com", Endpoint: "vpn.example.com (unresolved)"},
		}}},
		Hotplug:  &api.HotplugStatus{Events: 4, Dropped: 1, Refreshes: 2},
		Counters: api.Counters{ReloadsOK: 3, ReloadsPartial: 1, LastReload: "partial", ResolutionsOK: 5, ResolutionsFail: 2},
		Firewall: firewall.Status{Backend: "nftables", Holes: []firewall.Hole{{Interface: "wg0", Port: 51820}}},
		Pool:     &api.PoolStatus{Capacity: 512, InUse: 37},
	}
	dropped := uint64(7)
	want := &Snapshot{
		Interfaces: []Interface{{Name: "wg0", Up: true, ListenPort: 51820, DroppedPackets: &dropped, Peers: []Peer{
			{PublicKey: keyLaptop, Description: "laptop", AllowedIPs: ips, Endpoint: netip.MustParseAddrPort("[2001:db8::7]:40000"),
				LatestHandshake: 17, RxBytes: 1, TxBytes: 2, Totals: &Totals{Rx: 10, Tx: 20}, Expires: 99},
			{PublicKey: keyNever, Totals: &Totals{}},
		}}},
		Daemon: Daemon{LastReload: time.Unix(1767320000, 0), Problems: 1, Hotplug: &Hotplug{Events: 4, Dropped: 1, Refreshes: 2},
			Reloads:     &Reloads{OK: 3, Partial: 1, Last: ReloadPartial},
			Resolutions: &Resolutions{OK: 5, Failed: 2},
			Firewall:    &Firewall{Backend: "nftables", Active: true},
			Pool:        &Pool{Capacity: 512, InUse: 37}},
	}
	if got := FromStatus(st); !reflect.DeepEqual(got, want) {
		t.Errorf("FromStatus:\n got %+v\nwant %+v", got, want)
	}
	st.Hotplug, st.Counters.LastReload = nil, ""
	st.Firewall.Error = "nft: permission denied"
	got := FromStatus(st)
	if got.Daemon.Hotplug != nil || got.Daemon.Reloads != nil {
		t.Errorf("FromStatus without hotplug status or reloads: %+v, want nil", got.Daemon)
	}
	if got.Daemon.Firewall.Active {
		t.Errorf("a firewall with an error is not active")
	}
}
