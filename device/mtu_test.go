package device

import (
	"strconv"
	"testing"

	wgdevice "golang.zx2c4.com/wireguard/device"

	"wgd/config"
	"wgd/internal/netnstest"
	"wgd/router"
)

func TestAutoMTU(t *testing.T) {
	top := min(1420, wgdevice.MaxContentSize)
	if MaxAutoMTU != top {
		t.Fatalf("MaxAutoMTU %d, want %d", MaxAutoMTU, top)
	}
	for _, c := range []struct{ fits, want int }{
		{0, top},               // unknown WAN
		{1440, top},            // IPv4-only ethernet: no more than WireGuard's usual
		{1420, top},            // ethernet with IPv6
		{1412, min(1412, top)}, // PPPoE
		{1380, min(1380, top)}, // DS-Lite
		{1000, MinMTU},
		{-5, top},
	} {
		if got := AutoMTU(c.fits); got != c.want {
			t.Errorf("AutoMTU(%d) = %d, want %d", c.fits, got, c.want)
		}
	}
	if got := MTU(config.Interface{MTU: 1300}, 1412); got != 1300 {
		t.Errorf("an explicit MTU: %d, want 1300", got)
	}
	if got := MTU(config.Interface{MTU: 9000}, 1412); got != wgdevice.MaxContentSize {
		t.Errorf("an explicit MTU above the data plane's: %d, want %d", got, wgdevice.MaxContentSize)
	}
	if got := MTU(config.Interface{}, 1412); got != 1412 {
		t.Errorf("auto: %d, want 1412", got)
	}
}

// Under netifd too the link takes a new MTU live (netifd leaves a
// protocol handler's device MTU alone, its router sets it): same link,
// same session.
func TestMTULiveUnderNetifd(t *testing.T) {
	netnstest.Root(t)
	ka, kb := newKey(t), newKey(t)
	a := config.Interface{Name: "wgtm", PrivateKey: ka, ListenPort: 51830, Peers: []config.Peer{{PublicKey: kb.PublicKey(), AllowedIPs: prefixes("10.80.0.2/32")}}}
	b := config.Interface{Name: "wgtn", PrivateKey: kb, ListenPort: 51831, Peers: []config.Peer{{PublicKey: ka.PublicKey(), AllowedIPs: prefixes("10.80.0.1/32"), PersistentKeepalive: 1}}}
	opts := Options{UAPIDir: t.TempDir()}
	ia, _ := openPair(t, Desired{Config: a, MTU: 1420}, b, opts)
	waitHandshake(t, ia, kb.PublicKey())
	st, _ := ia.State()
	index := ia.index
	if m := jsonNumber(ipJSON(t, "link", "show", "wgtm")[0]["mtu"]); m != "1420" {
		t.Fatalf("link mtu %s, want 1420", m)
	}
	r, err := router.NewNetifd("wgtm")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := ia.Update(Desired{Config: a, MTU: 1412}); err != nil {
		t.Fatal(err)
	}
	if err := r.Set(router.Config{MTU: ia.MTU()}); err != nil {
		t.Fatal(err)
	}
	link := ipJSON(t, "link", "show", "wgtm")[0]
	if jsonNumber(link["mtu"]) != "1412" || jsonNumber(link["ifindex"]) != strconv.Itoa(index) || ia.MTU() != 1412 {
		t.Errorf("after the update: link %v (index was %d), MTU() %d", link, index, ia.MTU())
	}
	after, _ := ia.State()
	if len(after.Peers) != 1 || after.Peers[0].LastHandshake != st.Peers[0].LastHandshake {
		t.Errorf("the session changed: %+v, was %+v", after.Peers, st.Peers)
	}
}
