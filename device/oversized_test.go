package device

import (
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	wgdevice "golang.zx2c4.com/wireguard/device"

	"wgd/config"
	"wgd/internal/netnstest"
)

// An MTU raised from outside (ip link, netifd, LuCI) past what the data
// plane carries is set back by the engine, and the tunnel carries packets
// of the MTU it holds; a datagram from the network too large for the
// buffers is dropped and counted. Before, the lean engine closed the
// device at the first packet larger than its buffers.
func TestRaisedMTUHeld(t *testing.T) {
	netnstest.Root(t)
	limit := wgdevice.MaxContentSize
	raised := min(limit+100, 65535)
	if raised == limit {
		t.Skipf("this build carries the largest MTU a TUN link takes (%d)", limit)
	}
	ka, kb := newKey(t), newKey(t)
	a := config.Interface{Name: "wgma", PrivateKey: ka, ListenPort: 51830, Addresses: prefixes("10.71.0.1/24", "fd71::1/64"),
		Peers: []config.Peer{{PublicKey: kb.PublicKey(), AllowedIPs: prefixes("10.71.0.2/32", "fd71::2/128")}}}
	b := config.Interface{Name: "wgmb", PrivateKey: kb, ListenPort: 51831, Addresses: prefixes("10.71.0.2/24", "fd71::2/64"),
		Peers: []config.Peer{{PublicKey: ka.PublicKey(), AllowedIPs: prefixes("10.71.0.1/32", "fd71::1/128"), PersistentKeepalive: 1}}}
	opts := Options{UAPIDir: t.TempDir()}
	ia, ib := openPair(t, Desired{Config: a}, b, opts)
	layer3(t, ia, Desired{Config: a})
	layer3(t, ib, Desired{Config: b})
	waitHandshake(t, ib, ka.PublicKey())

	ipRun(t, "link", "set", "wgmb", "mtu", strconv.Itoa(raised))
	deadline := time.Now().Add(5 * time.Second)
	for {
		mtu := jsonNumber(ipJSON(t, "link", "show", "wgmb")[0]["mtu"])
		if mtu == strconv.Itoa(limit) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("link MTU %s after raising it to %d, want it set back to %d", mtu, raised, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Packets of the held MTU cross the tunnel, both families, without
	// fragmenting (at most 4000 bytes: a throughput build holds 65503,
	// more than a UDP datagram can carry wrapped).
	probe := min(limit, 4000)
	for _, dst := range []string{"10.71.0.1", "fd71::1"} {
		size := probe - 28
		if dst == "fd71::1" {
			size = probe - 48
		}
		if out, err := exec.Command("ping", "-n", "-c", "2", "-W", "2", "-M", "do", "-s", strconv.Itoa(size), dst).CombinedOutput(); err != nil {
			t.Errorf("ping %s with %d-byte packets after the MTU was held: %v\n%s", dst, probe, err, out)
		}
	}

	// From the network: a datagram larger than the buffers, at a's port.
	if limit+32 < 65000 {
		c, err := net.Dial("udp4", "127.0.0.1:51830")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(make([]byte, limit+500)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, err := ia.State()
			if err != nil {
				t.Fatal(err)
			}
			if st.OversizedFromNetwork == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d oversized datagrams counted, want 1", st.OversizedFromNetwork)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Both ends still run: b's state reads and the tunnel carries a ping.
	if _, err := ib.State(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ping", "-n", "-c", "1", "-W", "2", "10.71.0.1").CombinedOutput(); err != nil {
		t.Errorf("tunnel after the oversized datagram: %v\n%s", err, out)
	}
}
