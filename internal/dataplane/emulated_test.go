package dataplane

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"wgd/api"
	"wgd/internal/lab"
)

// TestEmulatedRouter runs the router's wgd, built for each router CPU, under
// qemu-user in the home-gateway scenario: a native wgd laptop completes a
// handshake with it and traffic crosses the tunnel both ways, single
// packets and bulk TCP (which takes the offload paths: TUN GSO reads and
// write coalescing, UDP GSO sends and GRO receives). Upstream's data plane
// dies here with SIGBUS on mips (unaligned loads); on a real router the
// kernel traps and emulates each such load.
func TestEmulatedRouter(t *testing.T) {
	for _, name := range []string{"mips", "mipsle", "armv5", "armv7", "arm64"} {
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
			emulatedRouter(t, ctx, l, native, []string{qemu, "-cpu", arch.QemuCPU}, router)
		})
	}
}

func emulatedRouter(t *testing.T, ctx context.Context, l *lab.Lab, native string, qemu []string, router string) {
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
	logf("router: %s %s run (emulated)", strings.Join(qemu, " "), router)
	argv := append(append([]string{}, qemu...), router, "run", "--config-dir", g.RouterDir, "--socket", g.RouterSocket)
	p, err := g.Router.Start(argv...)
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
		var st api.Status
		if err := g.Status(ctx, g.Router, g.RouterSocket, &st); err != nil {
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

	// Bulk TCP both ways: batches of full-sized packets, which the data
	// plane coalesces (and qemu-user must carry its offload control
	// messages for, or the data plane must do without them).
	for _, download := range []bool{false, true} {
		logf("bulk TCP, %d MiB, download %v", bulkBytes>>20, download)
		got, err := bulkTCP(ctx, g.LAN, laptop.Host, lab.LANHostIP, bulkBytes, download)
		if err != nil {
			t.Fatalf("bulk TCP (download %v): %v", download, err)
		}
		if got != bulkBytes {
			t.Errorf("bulk TCP (download %v): %d bytes arrived of %d", download, got, bulkBytes)
		}
	}

	// The emulated daemon's own view: a handshake and bytes both ways.
	var st api.Status
	if err := g.Status(ctx, g.Router, g.RouterSocket, &st); err != nil {
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

// bulkBytes is what bulkTCP moves in each direction.
const bulkBytes = 16 << 20

// bulkTCP sends n bytes over one TCP connection between client and a
// listener on server (at serverIP): from the client, or to it if
// download. It returns the bytes the receiving end counted once the
// sender closed the connection.
func bulkTCP(ctx context.Context, server, client *lab.Host, serverIP string, n int, download bool) (int, error) {
	const port = "5202"
	send := fmt.Sprintf("EXEC:head -c %d /dev/zero", n)
	const count = "SYSTEM:wc -c"
	// socat -u: one way, from the first address to the second.
	listen := []string{"socat", "-u", "TCP-LISTEN:" + port + ",reuseaddr", count}
	connect := []string{"socat", "-u", send, "TCP:" + serverIP + ":" + port + ",connect-timeout=5"}
	if download {
		listen = []string{"socat", "-u", send, "TCP-LISTEN:" + port + ",reuseaddr"}
		connect = []string{"socat", "-u", "TCP:" + serverIP + ":" + port + ",connect-timeout=5", count}
	}
	srv, err := server.Start(listen...)
	if err != nil {
		return 0, err
	}
	defer srv.Stop(2 * time.Second)
	var out string
	err = lab.Poll(ctx, 90*time.Second, func(ctx context.Context) error {
		if srv.Exited() {
			return lab.GiveUp(fmt.Errorf("listener exited: %s", srv.Output()))
		}
		out, err = client.Run(ctx, connect...)
		return err // e.g. not listening yet
	})
	if err != nil {
		return 0, err
	}
	if !download {
		if err := srv.Wait(ctx); err != nil {
			return 0, fmt.Errorf("listener: %w: %s", err, srv.Output())
		}
		out = srv.Output()
	}
	// wc's count is the last word (anything before it is socat's).
	words := strings.Fields(out)
	if len(words) == 0 {
		return 0, fmt.Errorf("no byte count from wc -c")
	}
	got, err := strconv.Atoi(words[len(words)-1])
	if err != nil {
		return 0, fmt.Errorf("byte count %q: %w", out, err)
	}
	return got, nil
}
