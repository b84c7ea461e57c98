package dataplane

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"wgd/internal/lab"
)

// TestEmulatedRouter runs the router's wgd, built for each router CPU, under
// qemu-user in the home-gateway scenario: a native wgd laptop completes a
// handshake with it and traffic crosses the tunnel both ways. Upstream's
// data plane dies here with SIGBUS on mips (unaligned loads); on a real
// router the kernel traps and emulates each such load.
func TestEmulatedRouter(t *testing.T) {
	for _, name := range []string{"mips", "mipsle", "armv7", "arm64"} {
		arch, _ := ArchByName(name)
		t.Run(name, func(t *testing.T) {
			l := forTest(t, "socat")
			qemu, err := exec.LookPath(arch.Qemu)
			if err != nil {
				t.Skipf("needs %s (qemu-user-static): run scripts/deps.sh", arch.Qemu)
			}
			ctx := testContext(t, 5*time.Minute)
			native := leanWGD(t, nil)
			router := leanWGD(t, &arch)
			emulatedRouter(t, ctx, l, native, qemu, router)
		})
	}
}

func emulatedRouter(t *testing.T, ctx context.Context, l *lab.Lab, native, qemu, router string) {
	logf := logf(t)
	g, err := lab.NewGateway(ctx, l, native, logf)
	if err != nil {
		t.Fatal(err)
	}
	laptop, err := g.AddLaptop(ctx, "laptop", lab.ClientWGD)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.WriteRouterConfig(); err != nil {
		t.Fatal(err)
	}
	logf("router: %s %s run (emulated)", qemu, router)
	p, err := g.Router.Start(qemu, router, "run", "--config-dir", g.RouterDir, "--socket", g.RouterSocket)
	if err != nil {
		t.Fatal(err)
	}
	g.RouterProc = p
	// The native CLI talks to the emulated daemon: the control protocol
	// is the same on every CPU.
	if err := lab.Poll(ctx, 90*time.Second, func(ctx context.Context) error {
		if p.Exited() {
			return lab.GiveUp(fmt.Errorf("emulated wgd exited (%s)", p.ExitStatus()))
		}
		st, err := g.Status(ctx, g.Router, g.RouterSocket)
		if err != nil {
			return err
		}
		if st.Interface(g.RouterIface) == nil {
			return fmt.Errorf("interface %s not in status yet", g.RouterIface)
		}
		return nil
	}); err != nil {
		t.Fatalf("emulated router did not come up: %v", err)
	}
	if err := laptop.Start(ctx); err != nil {
		t.Fatal(err)
	}

	logf("laptop -> LAN host through the emulated router")
	if err := lab.WaitReachable(ctx, laptop.Host, lab.LANHostIP); err != nil {
		t.Fatalf("laptop cannot reach the LAN host: %v", err)
	}
	if _, err := lab.Ping(ctx, laptop.Host, lab.LANHostIP, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Fetch(ctx, laptop.Host, lab.LANHostIP); err != nil {
		t.Fatalf("TCP from the laptop to the LAN host: %v", err)
	}
	logf("LAN host -> laptop through the emulated router")
	if _, err := lab.Ping(ctx, g.LAN, laptop.TunnelIP, 3); err != nil {
		t.Fatalf("LAN host to laptop: %v", err)
	}

	// The emulated daemon's own view: a handshake and bytes both ways.
	st, err := g.Status(ctx, g.Router, g.RouterSocket)
	if err != nil {
		t.Fatal(err)
	}
	peer := st.Interface(g.RouterIface).Peer(laptop.Key.Public)
	if peer == nil {
		t.Fatalf("router status has no peer %s", laptop.Key.Public)
	}
	if peer.LatestHandshake == 0 || peer.RxBytes == 0 || peer.TxBytes == 0 {
		t.Errorf("router peer status: handshake %d, rx %d, tx %d bytes; want all non-zero",
			peer.LatestHandshake, peer.RxBytes, peer.TxBytes)
	}
	if p.Exited() {
		t.Errorf("emulated wgd exited: %s", p.ExitStatus())
	}
}
