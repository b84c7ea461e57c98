package device

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/conn/bindtest"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/tuntest"

	"wgd/config"
)

// With the TUN and the Bind of Options, two interfaces run on channels:
// no kernel link, no socket, no root. They handshake and carry a packet.
func TestInjectedTUNAndBind(t *testing.T) {
	binds := bindtest.NewChannelBinds()
	tuns := [2]*tuntest.ChannelTUN{tuntest.NewChannelTUN(), tuntest.NewChannelTUN()}
	opts := func(n int) Options {
		return Options{
			UAPIDir: t.TempDir(),
			TUN:     func(string, int) (tun.Device, error) { return tuns[n].TUN(), nil },
			Bind:    func() conn.Bind { return binds[n] },
		}
	}
	ka, kb := newKey(t), newKey(t)
	a := config.Interface{Name: "wgia", PrivateKey: ka, Peers: []config.Peer{{PublicKey: kb.PublicKey(), AllowedIPs: prefixes("10.66.0.2/32")}}}
	b := config.Interface{Name: "wgib", PrivateKey: kb, Peers: []config.Peer{{PublicKey: ka.PublicKey(), AllowedIPs: prefixes("10.66.0.1/32"), PersistentKeepalive: 1}}}
	ia, err := Open(Desired{Config: a}, opts(0))
	if err != nil {
		t.Fatal(err)
	}
	defer ia.Close()
	// bindtest's endpoint 2 is the first bind, seen from the second.
	ib, err := Open(Desired{Config: b, Endpoints: map[config.Key]netip.AddrPort{ka.PublicKey(): netip.MustParseAddrPort("127.0.0.1:2")}}, opts(1))
	if err != nil {
		t.Fatal(err)
	}
	defer ib.Close()
	if ia.Index() != 0 || ia.Reattached() {
		t.Errorf("an injected TUN has index %d, reattached %v", ia.Index(), ia.Reattached())
	}
	waitHandshake(t, ia, kb.PublicKey())

	ping := tuntest.Ping(netip.MustParseAddr("10.66.0.1"), netip.MustParseAddr("10.66.0.2"))
	tuns[1].Outbound <- ping
	select {
	case got := <-tuns[0].Inbound:
		if !bytes.Equal(got, ping) {
			t.Errorf("a received % x, want % x", got, ping)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the packet did not cross the tunnel")
	}
	if err := ib.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
