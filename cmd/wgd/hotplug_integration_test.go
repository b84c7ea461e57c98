package main

// WAN hotplug: `wgd hotplug`, the shipped hotplug.d script, and tunnels
// recovering from a renumbered server, a NAT that lost its mappings and a
// NetworkManager signal, with the real wgd binary in network namespaces.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"wgd/internal/lab"
)

// hotplugScript is the shipped /etc/hotplug.d/iface script.
func hotplugScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../package/wgd/files/wgd.hotplug")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func setHotplugEnv(t *testing.T) {
	t.Setenv("ACTION", "ifupdate")
	t.Setenv("INTERFACE", "wan")
	t.Setenv("DEVICE", "eth1")
	t.Setenv("IFUPDATE_ADDRESSES", "1")
}

// With the daemon down, `wgd hotplug` says so and exits 0 at once: netifd
// must never wait on it. The bound below only catches a hang.
func TestHotplugDaemonDown(t *testing.T) {
	setHotplugEnv(t)
	dir := t.TempDir()
	for name, socket := range map[string]string{
		"no socket": filepath.Join(dir, "none.sock"),
		// A socket file left by a crashed daemon: nobody listens.
		"stale socket": staleSocket(t, filepath.Join(dir, "stale.sock")),
		// A daemon that accepts and never answers.
		"hung daemon": hungSocket(t, filepath.Join(dir, "hung.sock")),
	} {
		start := time.Now()
		code, stdout, stderr := runCLI("", "hotplug", "--socket", socket)
		took := time.Since(start)
		if code != 0 || !strings.Contains(stdout, "not passed on") || !strings.Contains(stdout, "interface wan") || stderr != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0 and a message", name, code, stdout, stderr)
		}
		if took > 10*time.Second {
			t.Errorf("%s: took %v", name, took)
		}
	}
	t.Setenv("ACTION", "")
	if code, _, stderr := runCLI("", "hotplug", "--socket", filepath.Join(dir, "none.sock")); code != 1 || !strings.Contains(stderr, "ACTION") {
		t.Errorf("without ACTION: %d %q", code, stderr)
	}
}

func staleSocket(t *testing.T, path string) string {
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	return path
}

// hungSocket accepts connections and never answers them.
func hungSocket(t *testing.T, path string) string {
	return serveUnix(t, path, func(c net.Conn) { t.Cleanup(func() { c.Close() }) })
}

func TestHotplugScriptShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck not installed: scripts/deps.sh installs it")
	}
	if out, err := exec.Command("shellcheck", "-s", "sh", hotplugScript(t)).CombinedOutput(); err != nil {
		t.Errorf("shellcheck -s sh: %v\n%s", err, out)
	}
}

// Under busybox ash, sourced in a subshell as hotplug-call does: with the
// daemon down it returns 0 and wgd's message; other actions do nothing.
func TestHotplugScriptAshDaemonDown(t *testing.T) {
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("busybox not installed: scripts/deps.sh installs it")
	}
	if wgdBin == "" {
		t.Skip("needs root: the wgd binary is built for the root-only integration tests")
	}
	socket := filepath.Join(t.TempDir(), "none.sock")
	run := func(action string) (string, error) {
		cmd := exec.Command("busybox", "ash", "-c", `( . "$0" ); echo "status $?"`, hotplugScript(t))
		cmd.Env = append(os.Environ(), "WGD_BIN="+wgdBin, "WGD_SOCKET="+socket, "ACTION="+action, "INTERFACE=wan", "DEVICE=eth1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("ifup")
	if err != nil || !strings.Contains(out, "not passed on") || !strings.Contains(out, "status 0") {
		t.Errorf("ifup with the daemon down: %v\n%s", err, out)
	}
	out, err = run("iflink")
	if err != nil || strings.TrimSpace(out) != "status 0" {
		t.Errorf("iflink is not passed on, yet: %v\n%s", err, out)
	}
}

// hotplugStatus is the hotplug part of `wgd status --json`.
type hotplugStatus struct {
	Refreshes    int `json:"refreshes"`
	LastWANEvent *struct {
		Source    string `json:"source"`
		Action    string `json:"action"`
		Interface string `json:"interface"`
		Device    string `json:"device"`
	} `json:"last_wan_event"`
	EndpointChanges []struct {
		Host string `json:"host"`
		From string `json:"from"`
		To   string `json:"to"`
		By   string `json:"by"`
	} `json:"endpoint_changes"`
}

func hotplugOf(t *testing.T, ctx context.Context, g *lab.Gateway, h *lab.Host, socket string) hotplugStatus {
	t.Helper()
	out, err := g.WGDCmd(ctx, h, "status", "--json", "--socket", socket)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Hotplug hotplugStatus `json:"hotplug"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	return st.Hotplug
}

// dead checks that the tunnel stays broken for a while without help, so
// that a recovery afterwards is the reaction's doing.
func dead(t *testing.T, ctx context.Context, h *lab.Host, dst string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := h.Run(ctx, "ping", "-n", "-c", "1", "-W", "1", dst); err == nil {
			t.Fatalf("%s reaches %s without any reaction: the scenario proves nothing", h.Name, dst)
		}
	}
}

const noReaction = "config wgd 'main'\n\toption log_level 'debug'\n\toption hotplug '0'\n"

// Server renumbering: the router's WAN address changes and its DNS name
// (a real dnsmasq) follows. The router does not react here; the laptop
// gets a hotplug event (through the shipped script under busybox ash),
// re-resolves the name and its ping recovers. Without the event it does
// not (checked for longer than the router's own 15 s rekey).
func TestHotplugServerRenumbering(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	laptop := addLaptop(t, ctx, g, "laptop", lab.ClientWGD)
	dns := nameServer(t, ctx, g, laptop.Host)
	if err := dns.Set(ctx, laptop.Host, lab.VPNName, lab.RouterWANIP); err != nil {
		t.Fatal(err)
	}
	if err := g.StartRouterWith(ctx, noReaction); err != nil {
		t.Fatal(err)
	}
	if err := laptop.StartWith(ctx, lab.LaptopOptions{EndpointHost: lab.VPNName}); err != nil {
		t.Fatal(err)
	}
	mustReach(t, ctx, laptop)
	// A stateful firewall on the laptop, as laptops have: the router's
	// packets count only as answers to the laptop's own. Stock WireGuard
	// on the router would otherwise mend the tunnel by itself some 15 s
	// after the change (its rekey after unanswered data, sent from the new
	// address); here only the laptop's reaction can.
	if err := lab.StatefulFirewall(ctx, laptop.Host, lab.RouterWANIP+"/24"); err != nil {
		t.Fatal(err)
	}

	const newIP = "198.51.100.2"
	if _, err := lab.Renumber(ctx, g.Router, lab.RouterWANIP, newIP, lab.InetWANIP); err != nil {
		t.Fatal(err)
	}
	if err := dns.Set(ctx, laptop.Host, lab.VPNName, newIP); err != nil {
		t.Fatal(err)
	}
	dead(t, ctx, laptop.Host, lab.LANHostIP, 20*time.Second)

	dev, err := lab.DeviceWith(ctx, laptop.Host, laptop.WANIP)
	if err != nil {
		t.Fatal(err)
	}
	out, err := lab.Hotplug(ctx, laptop.Host, hotplugScript(t), wgdBin, laptop.Socket,
		"ACTION=ifupdate", "INTERFACE=wan", "DEVICE="+dev, "IFUPDATE_ADDRESSES=1")
	if err != nil {
		t.Fatalf("hotplug script: %v\n%s", err, out)
	}
	if err := lab.WaitReachable(ctx, laptop.Host, lab.LANHostIP); err != nil {
		t.Fatalf("the laptop's tunnel did not recover after the hotplug event: %v", err)
	}
	mustReach(t, ctx, laptop)

	h := hotplugOf(t, ctx, g, laptop.Host, laptop.Socket)
	if w := h.LastWANEvent; w == nil || w.Source != "hotplug.d" || w.Interface != "wan" || w.Device != dev || w.Action != "update" {
		t.Errorf("laptop's last WAN event: %+v", w)
	}
	if h.Refreshes < 1 || len(h.EndpointChanges) != 1 {
		t.Fatalf("laptop's hotplug status: %+v", h)
	}
	c := h.EndpointChanges[0]
	if c.Host != lab.VPNName || c.From != lab.RouterWANIP+":51820" || c.To != newIP+":51820" || c.By != "hotplug" {
		t.Errorf("endpoint change %+v", c)
	}
}

// The router renumbered by itself reacts (netlink: no hotplug.d in
// standalone mode): its keepalive from the new address moves the laptop
// over, with no event on the laptop's side. The tunnel is idle at the
// change, so stock WireGuard would send nothing: the laptop learning the
// new address before it sends anything is the router's doing.
func TestHotplugRouterReactsToRenumbering(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	laptop := addLaptop(t, ctx, g, "laptop", lab.ClientWGD)
	if err := g.StartRouter(ctx); err != nil {
		t.Fatal(err)
	}
	if err := laptop.StartWith(ctx, lab.LaptopOptions{WGD: noReaction}); err != nil {
		t.Fatal(err)
	}
	mustReach(t, ctx, laptop)
	// Idle: the last data gets its answer (at worst a passive keepalive,
	// within 10 s), so no side waits for one.
	time.Sleep(12 * time.Second)
	const newIP = "198.51.100.3"
	dev, err := lab.Renumber(ctx, g.Router, lab.RouterWANIP, newIP, lab.InetWANIP)
	if err != nil {
		t.Fatal(err)
	}
	err = lab.Poll(ctx, 10*time.Second, func(ctx context.Context) error {
		r := status(t, ctx, g, laptop.Host, laptop.Socket, laptop.Iface)
		if p := r.Peer(g.RouterKey.Public); p == nil || !strings.HasPrefix(p.Endpoint, newIP+":") {
			return fmt.Errorf("laptop's router endpoint %+v, want %s (roamed)", p, newIP)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.WaitReachable(ctx, laptop.Host, lab.LANHostIP); err != nil {
		t.Fatalf("the tunnel did not recover after the router's renumbering: %v", err)
	}
	h := hotplugOf(t, ctx, g, g.Router, g.RouterSocket)
	if w := h.LastWANEvent; w == nil || w.Source != "netlink" || w.Device != dev || h.Refreshes < 1 {
		t.Errorf("router's hotplug status: %+v (event %+v)", h, h.LastWANEvent)
	}
}

// NAT rebinding: the laptop sits behind a NAT whose public address changes
// and whose mappings are flushed; the router loses the laptop. After a
// hotplug event on the laptop (a keepalive from fresh sockets) the router
// reaches it again. Nothing else can mend it here: the laptop's persistent
// keepalive is off, and the tunnel is idle before the change, so no
// unanswered data makes the laptop start a handshake by itself (stock
// WireGuard does after 15 s).
func TestHotplugNATRebinding(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	laptop, nat, err := g.AddNATLaptop(ctx, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.StartRouter(ctx); err != nil {
		t.Fatal(err)
	}
	off := 0
	if err := laptop.StartWith(ctx, lab.LaptopOptions{Keepalive: &off}); err != nil {
		t.Fatal(err)
	}
	mustReach(t, ctx, laptop)
	if _, err := lab.Ping(ctx, g.Router, laptop.TunnelIP, 2); err != nil {
		t.Fatalf("router -> laptop before the change: %v", err)
	}
	if p := status(t, ctx, g, g.Router, g.RouterSocket, g.RouterIface).Peer(laptop.Key.Public); p == nil || !strings.HasPrefix(p.Endpoint, lab.NATPublicIP+":") {
		t.Fatalf("router sees the laptop at %+v, want behind %s", p, lab.NATPublicIP)
	}

	// Idle: the last data gets its answer (at worst a passive keepalive,
	// within 10 s), so no side waits for one.
	time.Sleep(12 * time.Second)

	const newIP = "100.64.0.3"
	if err := nat.Renumber(ctx, newIP); err != nil {
		t.Fatal(err)
	}
	dead(t, ctx, g.Router, laptop.TunnelIP, 20*time.Second)

	dev, err := lab.DeviceWith(ctx, laptop.Host, laptop.WANIP)
	if err != nil {
		t.Fatal(err)
	}
	out, err := lab.Hotplug(ctx, laptop.Host, hotplugScript(t), wgdBin, laptop.Socket, "ACTION=ifup", "INTERFACE=wan", "DEVICE="+dev)
	if err != nil {
		t.Fatalf("hotplug script: %v\n%s", err, out)
	}
	if err := lab.WaitReachable(ctx, g.Router, laptop.TunnelIP); err != nil {
		t.Fatalf("the router cannot reach the laptop after the laptop's hotplug event: %v", err)
	}
	if p := status(t, ctx, g, g.Router, g.RouterSocket, g.RouterIface).Peer(laptop.Key.Public); p == nil || !strings.HasPrefix(p.Endpoint, newIP+":") {
		t.Errorf("router sees the laptop at %+v, want behind %s", p, newIP)
	}
	if h := hotplugOf(t, ctx, g, laptop.Host, laptop.Socket); h.Refreshes < 1 {
		t.Errorf("laptop's hotplug status: %+v", h)
	}
}

// D-Bus: a real dbus-daemon on a private bus; a NetworkManager-shaped
// StateChanged signal makes the laptop's wgd refresh. A wgd whose bus is
// missing runs normally.
func TestHotplugDBus(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	withBus := addLaptop(t, ctx, g, "laptop1", lab.ClientWGD)
	noBus := addLaptop(t, ctx, g, "laptop2", lab.ClientWGD)
	addr, err := g.Lab.StartBus(ctx, withBus.Host)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.StartRouter(ctx); err != nil {
		t.Fatal(err)
	}
	if err := withBus.StartWith(ctx, lab.LaptopOptions{Env: []string{"DBUS_SYSTEM_BUS_ADDRESS=" + addr}}); err != nil {
		t.Fatal(err)
	}
	missing := "unix:path=" + filepath.Join(g.Lab.Dir, "no-bus")
	if err := noBus.StartWith(ctx, lab.LaptopOptions{Env: []string{"DBUS_SYSTEM_BUS_ADDRESS=" + missing}}); err != nil {
		t.Fatal(err)
	}
	mustReach(t, ctx, noBus)
	if !strings.Contains(noBus.Proc.Output(), "no D-Bus system bus") {
		t.Errorf("laptop2 did not say its bus is missing:\n%s", noBus.Proc.Output())
	}
	mustReach(t, ctx, withBus)
	if err := lab.Poll(ctx, 10*time.Second, func(context.Context) error {
		// Nobody owns NetworkManager's name yet: wgd listens for it.
		if !strings.Contains(withBus.Proc.Output(), "listening in case one starts") {
			return os.ErrNotExist
		}
		return nil
	}); err != nil {
		t.Fatalf("laptop1's wgd did not connect to the bus: %v", err)
	}

	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nm, err := dbus.Connect(addr, dbus.WithContext(cctx))
	if err != nil {
		t.Fatal(err)
	}
	defer nm.Close()
	if reply, err := nm.RequestName("org.freedesktop.NetworkManager", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own NetworkManager's name: %v %v", reply, err)
	}
	if err := nm.Emit("/org/freedesktop/NetworkManager", "org.freedesktop.NetworkManager.StateChanged", uint32(70)); err != nil {
		t.Fatal(err)
	}
	err = lab.Poll(ctx, 10*time.Second, func(ctx context.Context) error {
		h := hotplugOf(t, ctx, g, withBus.Host, withBus.Socket)
		if h.Refreshes < 1 || h.LastWANEvent == nil || h.LastWANEvent.Source != "dbus" || h.LastWANEvent.Action != "up" {
			return os.ErrNotExist
		}
		return nil
	})
	if err != nil {
		t.Errorf("no refresh after NetworkManager's StateChanged(70): %+v", hotplugOf(t, ctx, g, withBus.Host, withBus.Socket))
	}
	if h := hotplugOf(t, ctx, g, noBus.Host, noBus.Socket); h.Refreshes != 0 {
		t.Errorf("laptop2 refreshed without any event: %+v", h)
	}
	mustReach(t, ctx, withBus)
}
