package device

import (
	"bytes"
	"errors"
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
	if ia.index != 0 || ia.Reattached() {
		t.Errorf("an injected TUN has index %d, reattached %v", ia.index, ia.Reattached())
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

// Close returns only once the interface's watcher has: a Died callback
// under way as the interface is closed has ended when Close returns, so
// nothing of the interface runs on after it.
func TestCloseWaitsForDied(t *testing.T) {
	fail := make(chan struct{})
	dying, release := make(chan struct{}), make(chan struct{})
	i, err := Open(Desired{Config: config.Interface{Name: "wgdw", PrivateKey: newKey(t)}}, Options{
		UAPIDir: t.TempDir(),
		TUN: func(string, int) (tun.Device, error) {
			return failingTUN{tuntest.NewChannelTUN().TUN(), fail}, nil
		},
		Bind: func() conn.Bind { return bindtest.NewChannelBinds()[0] },
		Died: func(*Interface) { close(dying); <-release },
	})
	if err != nil {
		t.Fatal(err)
	}
	close(fail) // the engine closes the device by itself
	select {
	case <-dying:
	case <-time.After(10 * time.Second):
		t.Fatal("Died was not called: the test proves nothing")
	}
	closed := make(chan struct{})
	go func() { i.Close(); close(closed) }()
	select {
	case <-closed:
		t.Error("Close returned while Died was still running")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return once Died had")
	}
}

// failingTUN reads nothing until fail is closed, then fails every read,
// as a kernel TUN whose link was deleted does.
type failingTUN struct {
	tun.Device
	fail chan struct{}
}

func (t failingTUN) Read([][]byte, []int, int) (int, error) {
	<-t.fail
	return 0, errors.New("TUN read: the link is gone")
}
