package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wgdevice "golang.zx2c4.com/wireguard/device"

	"wgd/api"
	"wgd/config"
	"wgd/device"
	"wgd/firewall"
	"wgd/internal/netnstest"
)

type testDaemon struct {
	*Daemon
	dir, socket string
	stop        func(t *testing.T) // stops the daemon; safe to call twice
	parts       *parts             // nil: the daemon runs on kernel objects
}

func secretKey(t *testing.T) config.Secret {
	k, err := config.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// startDaemon runs a daemon on network, on channels (parts).
func startDaemon(t *testing.T, network string) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	writeNetwork(t, dir, network)
	return startDaemonWith(t, dir, Options{}, nil)
}

// startKernelDaemon runs a daemon on network on kernel TUNs, UDP sockets
// and routers: for tests whose point is a kernel object.
func startKernelDaemon(t *testing.T, network string) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	writeNetwork(t, dir, network)
	return runDaemon(t, dir, Options{}, nil, nil)
}

// startDaemonWith runs a daemon on dir, on channels (parts), with opts
// completed for the test; prepare, if not nil, may adjust it before it
// runs.
func startDaemonWith(t *testing.T, dir string, opts Options, prepare func(*Daemon)) *testDaemon {
	t.Helper()
	return runDaemon(t, dir, opts, newParts(), prepare)
}

// runDaemon runs a daemon on p, or on kernel objects when p is nil.
func runDaemon(t *testing.T, dir string, opts Options, p *parts, prepare func(*Daemon)) *testDaemon {
	t.Helper()
	td := &testDaemon{dir: dir, socket: filepath.Join(dir, "wgd.sock"), parts: p}
	if p != nil {
		opts.Open = p.opener()
	}
	opts.ConfigDir, opts.Socket, opts.UAPIDir = dir, td.socket, filepath.Join(dir, "wireguard")
	opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	td.Daemon = New(opts)
	if prepare != nil {
		prepare(td.Daemon)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- td.Run(ctx) }()
	var once sync.Once
	td.stop = func(t *testing.T) {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("daemon did not stop")
			}
		})
	}
	t.Cleanup(func() { td.stop(t) })
	deadline := time.Now().Add(10 * time.Second)
	for api.Call(context.Background(), td.socket, "ping", nil, nil) != nil {
		if time.Now().After(deadline) {
			t.Fatal("daemon did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return td
}

// running is the device of the running interface name, nil if none:
// another one after a change means the interface was made anew.
func (td *testDaemon) running(name string) *device.Interface {
	var i *device.Interface
	td.do(context.Background(), func() { i = td.ifaces[name] })
	return i
}

// flushNetifd returns once the calls to netifd queued so far have run.
func (td *testDaemon) flushNetifd() {
	done := make(chan struct{})
	td.netifdQ.push(func(context.Context) { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second): // the daemon stopped
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func writeNetwork(t *testing.T, dir, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "network"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (td *testDaemon) status(t *testing.T) *api.Status {
	t.Helper()
	var s api.Status
	if err := api.Call(context.Background(), td.socket, "status", nil, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func (td *testDaemon) reload(t *testing.T) *api.ReloadResult {
	t.Helper()
	var r api.ReloadResult
	if err := api.Call(context.Background(), td.socket, "reload", nil, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func iface(name string, key config.Secret, extra string) string {
	return "config interface '" + name + "'\n\toption proto 'wgd'\n\toption private_key '" + key.Base64() + "'\n" + extra + "\n"
}

func peer(ifname string, key config.Key, extra string) string {
	return "config wireguard_" + ifname + "\n\toption public_key '" + key.String() + "'\n" + extra + "\n"
}

func TestReloadAppliesOnlyTheDifference(t *testing.T) {
	k1, p1, p2 := secretKey(t), secretKey(t).PublicKey(), secretKey(t).PublicKey()
	td := startDaemon(t, iface("wgda", k1, "\tlist addresses '10.55.0.1/24'")+
		peer("wgda", p1, "\toption description 'one'\n\tlist allowed_ips '10.55.0.2/32'"))
	s := td.status(t)
	if len(s.Interfaces) != 1 || !s.Interfaces[0].Up || len(s.Interfaces[0].Peers) != 1 || s.Interfaces[0].Peers[0].Description != "one" {
		t.Fatalf("status: %+v", s)
	}
	first := td.running("wgda")

	// A second peer and a second interface, plus a broken peer.
	writeNetwork(t, td.dir, iface("wgda", k1, "\tlist addresses '10.55.0.1/24'")+
		peer("wgda", p1, "\toption description 'one'\n\tlist allowed_ips '10.55.0.2/32'")+
		peer("wgda", p2, "\toption description 'two'\n\tlist allowed_ips '10.55.0.3/32'")+
		iface("wgdb", secretKey(t), "")+
		"config wireguard_wgdb\n\toption public_key 'broken'\n\n")
	r := td.reload(t)
	if strings.Join(r.Up, " ") != "wgdb" || strings.Join(r.Updated, " ") != "wgda" || r.Errors != 1 || len(r.Down) != 0 {
		t.Fatalf("reload: %+v", r)
	}
	s = td.status(t)
	if len(s.Interfaces) != 2 || len(s.Interfaces[0].Peers) != 2 || len(s.Problems) == 0 {
		t.Fatalf("status: %+v", s)
	}
	if td.running("wgda") != first {
		t.Errorf("the interface was recreated")
	}
	// The patched engine reports its buffer pool; plain upstream does not.
	if _, patched := any(&wgdevice.Device{}).(interface{ BufferPoolStats() (int, int) }); patched && (s.Pool == nil || s.Pool.Capacity == 0) {
		t.Errorf("no buffer pool in the status of a patched engine: %+v", s.Pool)
	}

	// Nothing changed: nothing updated.
	if r := td.reload(t); len(r.Updated)+len(r.Up)+len(r.Down) != 0 {
		t.Errorf("idempotent reload did %+v", r)
	}

	// An interface gone from the file goes down.
	writeNetwork(t, td.dir, iface("wgdb", secretKey(t), ""))
	r = td.reload(t)
	if strings.Join(r.Down, " ") != "wgda" {
		t.Fatalf("reload: %+v", r)
	}
	if td.running("wgda") != nil {
		t.Errorf("wgda still runs")
	}
	if _, closed := td.parts.router("wgda").config(); !closed {
		t.Errorf("the router of wgda is not closed")
	}
	if _, err := os.Stat(filepath.Join(td.dir, "wireguard", "wgda.sock")); !os.IsNotExist(err) {
		t.Errorf("the UAPI socket of wgda is left: %v", err)
	}

	// A missing file keeps what runs.
	os.Remove(filepath.Join(td.dir, "network"))
	if err := api.Call(context.Background(), td.socket, "reload", nil, nil); err == nil || !strings.Contains(err.Error(), "not applied") {
		t.Errorf("reload of a missing file: %v", err)
	}
	if s := td.status(t); len(s.Interfaces) != 1 || !s.Interfaces[0].Up {
		t.Errorf("running interface lost: %+v", s)
	}
}

func TestStatusHoldsNoSecret(t *testing.T) {
	k, psk := secretKey(t), secretKey(t)
	td := startDaemon(t, iface("wgdc", k, "")+peer("wgdc", secretKey(t).PublicKey(), "\toption preshared_key '"+psk.Base64()+"'"))
	var raw map[string]any
	if err := api.Call(context.Background(), td.socket, "status", nil, &raw); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(raw)
	text := strings.ToLower(string(b))
	for _, secret := range []string{k.Base64(), k.Hex(), psk.Base64(), psk.Hex()} {
		if strings.Contains(text, strings.ToLower(secret)) {
			t.Errorf("status leaks a secret")
		}
	}
	if !strings.Contains(text, strings.ToLower(k.PublicKey().String())) {
		t.Errorf("status lacks the public key: %s", text)
	}
}

func TestControlSocketIsRootOnly(t *testing.T) {
	netnstest.Root(t)
	td := startDaemon(t, "")
	fi, err := os.Stat(td.socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("control socket mode %v", fi.Mode())
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed")
	}
	// Even with the socket made world-writable, the peer's uid is checked.
	os.Chmod(td.socket, 0o777)
	os.Chmod(td.dir, 0o755)
	os.Chmod(filepath.Dir(td.dir), 0o755)
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "socat", "-t5", "-", "UNIX-CONNECT:"+td.socket)
	cmd.Stdin = strings.NewReader(`{"version":1,"command":"status"}` + "\n")
	out, err := cmd.CombinedOutput()
	if !strings.Contains(string(out), refused) || strings.Contains(string(out), `"ok":true`) {
		t.Errorf("non-root client got: %s (%v)", out, err)
	}
}

// The control socket's rule: root, or the daemon's own user; no third.
func TestControlSocketUsers(t *testing.T) {
	for _, c := range []struct {
		uid, self uint32
		ok        bool
	}{{0, 0, true}, {65534, 0, false}, {0, 1000, true}, {1000, 1000, true}, {1001, 1000, false}, {65534, 1000, false}} {
		if got := permitted(c.uid, c.self); got != c.ok {
			t.Errorf("uid %d, daemon's uid %d: permitted %v, want %v", c.uid, c.self, got, c.ok)
		}
	}
}

func TestBadRequestsDoNotHurt(t *testing.T) {
	td := startDaemon(t, "")
	for _, req := range []string{"", "{", `{"version":2,"command":"status"}`, `{"version":1,"command":"nope"}`, strings.Repeat("x", 1<<20)} {
		cmd := exec.Command("socat", "-t5", "-", "UNIX-CONNECT:"+td.socket)
		cmd.Stdin = strings.NewReader(req + "\n")
		out, _ := cmd.CombinedOutput()
		if strings.Contains(string(out), `"ok":true`) {
			t.Errorf("request %.20q answered ok: %s", req, out)
		}
	}
	td.status(t) // still serving
}

// heldBackend is a firewall whose syncs after the first wait for release.
type heldBackend struct {
	syncs   atomic.Int32
	holding chan struct{}
	release chan struct{}
}

func (b *heldBackend) Name() string { return "held" }
func (b *heldBackend) Flush() error { return nil }
func (b *heldBackend) Sync([]firewall.Hole) error {
	if b.syncs.Add(1) > 1 {
		b.holding <- struct{}{}
		<-b.release
	}
	return nil
}

// A firewall command that takes long (nft, iptables and ubus may) holds
// up neither status nor the daemon's other work; the reload that asked
// for it answers once it is done.
func TestSlowFirewallBlocksNothingElse(t *testing.T) {
	fw := &heldBackend{holding: make(chan struct{}), release: make(chan struct{})}
	dir := t.TempDir()
	writeNetwork(t, dir, "")
	td := startDaemonWith(t, dir, Options{}, func(d *Daemon) {
		d.fw.open = func(string, *slog.Logger) (firewall.Backend, error) { return fw, nil }
	})
	reloaded := make(chan error, 1)
	go func() { _, err := td.Reload(context.Background()); reloaded <- err }()
	<-fw.holding
	if s := td.status(t); s.Firewall.Backend != "held" {
		t.Errorf("firewall status %+v", s.Firewall)
	}
	select {
	case err := <-reloaded:
		t.Fatalf("reload answered (%v) before the firewall followed", err)
	default:
	}
	close(fw.release)
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
}

// A typo in a running interface (mtu '1400 ') keeps it on its last good
// configuration: same link, same peers; the reload reports the error and
// status says so. An interface that never had a good configuration stays
// down.
func TestReloadKeepsLastGoodConfiguration(t *testing.T) {
	k, p1, p2 := secretKey(t), secretKey(t).PublicKey(), secretKey(t).PublicKey()
	good := iface("wgdk", k, "\tlist addresses '10.56.0.1/24'") + peer("wgdk", p1, "\tlist allowed_ips '10.56.0.2/32'")
	td := startDaemon(t, good)
	first := td.running("wgdk")

	writeNetwork(t, td.dir, iface("wgdk", k, "\tlist addresses '10.56.0.1/24'\n\toption mtu '1400 '")+
		peer("wgdk", p1, "\tlist allowed_ips '10.56.0.2/32'")+peer("wgdk", p2, "\tlist allowed_ips '10.56.0.3/32'")+
		iface("wgdn", secretKey(t), "\toption mtu 'x'"))
	var r api.ReloadResult
	err := api.Call(context.Background(), td.socket, "reload", nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 2 || strings.Join(r.Kept, " ") != "wgdk" || len(r.Down)+len(r.Up)+len(r.Updated) != 0 {
		t.Fatalf("reload: %+v", r)
	}
	if td.running("wgdk") != first {
		t.Fatalf("wgdk was taken down or recreated")
	}
	s := td.status(t)
	if len(s.Interfaces) != 1 {
		t.Fatalf("want only wgdk in status (wgdn never had a good configuration): %+v", s.Interfaces)
	}
	is := s.Interfaces[0]
	if !is.Up || len(is.Peers) != 1 || !strings.Contains(is.Error, "running its last good configuration") ||
		!strings.Contains(is.Error, "network:5: section wgdk, option mtu") {
		t.Errorf("status: %+v", is)
	}
	if c, closed := td.parts.router("wgdk").config(); closed || !slices.Contains(c.Addresses, netip.MustParsePrefix("10.56.0.1/24")) {
		t.Errorf("wgdk lost its address: %+v, closed %v", c, closed)
	}

	// A second reload with the same error still keeps it.
	if r := td.reload(t); strings.Join(r.Kept, " ") != "wgdk" || td.running("wgdk") != first {
		t.Errorf("second reload: %+v", r)
	}

	// Fixed: the new configuration applies, on the same link.
	writeNetwork(t, td.dir, iface("wgdk", k, "\tlist addresses '10.56.0.1/24'\n\toption mtu '1400'")+
		peer("wgdk", p1, "\tlist allowed_ips '10.56.0.2/32'")+peer("wgdk", p2, "\tlist allowed_ips '10.56.0.3/32'"))
	if r := td.reload(t); r.Errors != 0 || strings.Join(r.Updated, " ") != "wgdk" || len(r.Kept) != 0 {
		t.Errorf("reload after the fix: %+v", r)
	}
	s = td.status(t)
	if is := s.Interfaces[0]; !is.Up || len(is.Peers) != 2 || is.Error != "" || td.running("wgdk") != first {
		t.Errorf("after the fix: %+v", is)
	}
}

// holdPort takes UDP port (IPv4, any address) away from wgd until the
// returned function is called.
func holdPort(t *testing.T, port int) func() {
	t.Helper()
	c, err := net.ListenPacket("udp4", fmt.Sprintf(":%d", port))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() { once.Do(func() { c.Close() }) }
	t.Cleanup(release)
	return release
}

// A listen port held by another program: the interface is down with the
// reason, never on a random port, and comes up on its port once it is free.
func TestBusyListenPortAtStart(t *testing.T) {
	netnstest.Root(t)
	release := holdPort(t, 51999)
	td := startKernelDaemon(t, iface("wgdp", secretKey(t), "\toption listen_port '51999'"))
	s := td.status(t)
	if len(s.Interfaces) != 1 {
		t.Fatalf("status: %+v", s)
	}
	is := s.Interfaces[0]
	if is.Up || !strings.Contains(is.Error, "51999") || !strings.Contains(is.Error, "in use") || is.Reason != "listen_port_in_use" {
		t.Fatalf("with the port busy: %+v", is)
	}
	if len(s.Firewall.Holes) != 0 {
		t.Errorf("firewall holes for a down interface: %+v", s.Firewall.Holes)
	}
	var r api.ReloadResult
	if err := api.Call(context.Background(), td.socket, "reload", nil, &r); err != nil || len(r.Failed) != 1 {
		t.Errorf("reload with the port busy: %+v %v", r, err)
	}
	release()
	deadline := time.Now().Add(20 * time.Second)
	for {
		is = td.status(t).Interfaces[0]
		if is.Up {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not up after the port was freed: %+v", is)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if is.ListenPort != 51999 || is.Error != "" || is.Reason != "" {
		t.Errorf("after the port was freed: %+v", is)
	}
}

// Reloading a running interface onto a busy port keeps it on its old
// port, says so and fails the reload; it moves once the port is free.
func TestBusyListenPortOnReload(t *testing.T) {
	netnstest.Root(t)
	k := secretKey(t)
	td := startKernelDaemon(t, iface("wgdq", k, "\toption listen_port '51997'"))
	if is := td.status(t).Interfaces[0]; !is.Up || is.ListenPort != 51997 {
		t.Fatalf("start: %+v", is)
	}
	release := holdPort(t, 51998)
	writeNetwork(t, td.dir, iface("wgdq", k, "\toption listen_port '51998'"))
	var r api.ReloadResult
	if err := api.Call(context.Background(), td.socket, "reload", nil, &r); err != nil || len(r.Failed) != 1 || !strings.Contains(r.Failed[0], "51998") {
		t.Errorf("reload onto a busy port: %+v %v", r, err)
	}
	is := td.status(t).Interfaces[0]
	if !is.Up || is.ListenPort != 51997 || !strings.Contains(is.Error, "51998") || is.Reason != "listen_port_in_use" {
		t.Errorf("after a reload onto a busy port: %+v", is)
	}
	if c, err := net.ListenPacket("udp4", ":51997"); err == nil {
		c.Close()
		t.Errorf("nobody listens on the old port 51997 any more")
	}
	// A WAN refresh (rebind) and another reload while the port is busy:
	// still the old port, and the firewall opens no other.
	td.do(context.Background(), func() { td.ifaces["wgdq"].Rebind() })
	td.reload(t)
	s := td.status(t)
	if is := s.Interfaces[0]; is.ListenPort != 51997 {
		t.Errorf("after a rebind and a reload: %+v", is)
	}
	for _, h := range s.Firewall.Holes {
		if h.Port != 51997 {
			t.Errorf("firewall opens port %d", h.Port)
		}
	}
	release()
	deadline := time.Now().Add(20 * time.Second)
	for {
		is = td.status(t).Interfaces[0]
		if is.ListenPort == 51998 && is.Error == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not on the new port after it was freed: %+v", is)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Half-sent requests on the control socket cost a bounded number of
// goroutines; once they end, requests are answered again.
func TestControlConnectionFlood(t *testing.T) {
	td := startDaemon(t, "")
	td.status(t)
	base := runtime.NumGoroutine()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 300; i++ {
		c, err := net.Dial("unix", td.socket)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(`{"version":1,`))
		conns = append(conns, c)
	}
	time.Sleep(500 * time.Millisecond)
	if n := runtime.NumGoroutine() - base; n > 50 {
		t.Errorf("%d more goroutines with 300 half-sent requests (want at most 50)", n)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := api.Call(ctx, td.socket, "status", nil, nil); err != nil {
		t.Errorf("status after the flood: %v", err)
	}
}

// An endpoint removed from the configuration, or replaced by a name that
// does not resolve, is no longer given to the router, which then drops
// its host route (router's tests).
func TestRemovedEndpointLeavesRouter(t *testing.T) {
	k, p := secretKey(t), secretKey(t).PublicKey()
	network := func(endpoint string) string {
		return iface("wgdh", k, "\tlist addresses '10.78.0.1/24'") +
			peer("wgdh", p, "\tlist allowed_ips '0.0.0.0/0'\n\toption route_allowed_ips '1'"+endpoint)
	}
	var td *testDaemon
	// The router pins the endpoints it is given that the routes cover
	// (router's tests): here, whether it is given 10.77.0.5.
	hostRoute := func() bool {
		c, _ := td.parts.router("wgdh").config()
		return slices.Contains(c.Endpoints, netip.MustParseAddr("10.77.0.5")) && !c.NoHostRoute
	}
	dir := t.TempDir()
	writeNetwork(t, dir, network("\n\toption endpoint_host '10.77.0.5'"))
	td = startDaemonWith(t, dir, Options{}, func(d *Daemon) {
		d.resolver.lookup = func(_ context.Context, _, host string) ([]netip.Addr, error) {
			if host == "wgd-test.example" {
				return []netip.Addr{netip.MustParseAddr("10.77.0.5")}, nil
			}
			return nil, fmt.Errorf("%s: no such host", host)
		}
	})
	if !hostRoute() {
		t.Fatal("no host route to the endpoint: the test proves nothing")
	}
	source := func() string {
		s := td.status(t)
		if len(s.Interfaces) != 1 || len(s.Interfaces[0].Peers) != 1 {
			t.Fatalf("status: %+v", s.Interfaces)
		}
		return s.Interfaces[0].Peers[0].EndpointSource
	}
	if got := source(); got != "config" {
		t.Errorf("endpoint_source of an address in endpoint_host: %q, want config", got)
	}
	writeNetwork(t, td.dir, network(""))
	td.reload(t)
	if hostRoute() {
		t.Error("host route to 10.77.0.5 kept after endpoint_host was removed")
	}
	writeNetwork(t, td.dir, network("\n\toption endpoint_host '10.77.0.5'"))
	td.reload(t)
	if !hostRoute() {
		t.Error("no host route after endpoint_host came back")
	}
	writeNetwork(t, td.dir, network("\n\toption endpoint_host 'wgd-test.invalid'"))
	td.reload(t)
	if hostRoute() {
		t.Error("host route to 10.77.0.5 kept after endpoint_host became a name that does not resolve")
	}
	// The same from a name that resolved.
	writeNetwork(t, td.dir, network("\n\toption endpoint_host 'wgd-test.example'"))
	td.reload(t)
	for deadline := time.Now().Add(10 * time.Second); !hostRoute(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no host route to the address wgd-test.example resolved to")
		}
	}
	if got := source(); got != "dns" {
		t.Errorf("endpoint_source of a resolved name: %q, want dns", got)
	}
	writeNetwork(t, td.dir, network("\n\toption endpoint_host 'wgd-test.invalid'"))
	td.reload(t)
	if hostRoute() {
		t.Error("host route to what the old name resolved to kept after endpoint_host became a name that does not resolve")
	}
}

// Two peers with the same allowed IP: the later one has it, status says
// what the engine routes, and once the later one is removed the earlier
// one has it again.
func TestOverlappingAllowedIPs(t *testing.T) {
	k, p1, p2 := secretKey(t), secretKey(t).PublicKey(), secretKey(t).PublicKey()
	one := peer("wgdo", p1, "\toption description 'one'\n\tlist allowed_ips '10.57.0.2/32'\n\tlist allowed_ips '10.57.1.0/24'")
	two := peer("wgdo", p2, "\toption description 'two'\n\tlist allowed_ips '10.57.0.2/32'")
	td := startDaemon(t, iface("wgdo", k, "")+one+two)
	routes := func() map[string]string {
		out := map[string]string{}
		for _, p := range td.status(t).Interfaces[0].Peers {
			out[p.Description] = fmt.Sprint(p.AllowedIPs)
		}
		return out
	}
	if r := routes(); r["one"] != "[10.57.1.0/24]" || r["two"] != "[10.57.0.2/32]" {
		t.Errorf("status with a shared allowed IP: %v", r)
	}
	if s := td.status(t); len(s.Problems) != 1 || !strings.Contains(s.Problems[0], "10.57.0.2/32 is also peer \"one\"'s") {
		t.Errorf("problems: %q", s.Problems)
	}
	writeNetwork(t, td.dir, iface("wgdo", k, "")+one)
	td.reload(t)
	if r := routes(); r["one"] != "[10.57.0.2/32 10.57.1.0/24]" {
		t.Errorf("after removing the later peer: %v", r)
	}
}

// A copy of the network file left by a killed writer is removed when
// wgd starts.
func TestStartRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	writeNetwork(t, dir, "")
	stale := filepath.Join(dir, ".network.wgd-1234567")
	if err := os.WriteFile(stale, []byte("option private_key 'x'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemonWith(t, dir, Options{}, nil)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file still there: %v", err)
	}
}

// A device the engine closes by itself (here: its link deleted under it,
// so the TUN fails) is noticed and brought back.
func TestDeadDeviceComesBack(t *testing.T) {
	netnstest.Root(t)
	td := startKernelDaemon(t, iface("wgdd", secretKey(t), "\tlist addresses '10.58.0.1/24'\n\toption listen_port '51996'"))
	linkIndex := func() int {
		if l, err := net.InterfaceByName("wgdd"); err == nil {
			return l.Index
		}
		return 0
	}
	index := linkIndex()
	if out, err := exec.Command("ip", "link", "del", "wgdd").CombinedOutput(); err != nil {
		t.Fatalf("ip link del: %v %s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := td.status(t)
		now := linkIndex()
		if is := s.Interfaces[0]; is.Up && now != 0 && now != index {
			if s.Counters.DeviceRestarts != 1 || is.ListenPort != 51996 {
				t.Errorf("after the restart: %+v, counters %+v", is, s.Counters)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not back: %+v (index %d, was %d)", s.Interfaces, now, index)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := exec.Command("ip", "-o", "addr", "show", "dev", "wgdd").CombinedOutput(); err != nil || !strings.Contains(string(out), "10.58.0.1/24") {
		t.Errorf("wgdd after the restart: %s %v", out, err)
	}
}

// Under netifd, an endpoint removed from the configuration, or replaced
// by a name that does not resolve, is no longer a host dependency in the
// ifup answer.
func TestRemovedEndpointLeavesIfupAnswer(t *testing.T) {
	k, p := secretKey(t), secretKey(t).PublicKey()
	network := func(endpoint string) string {
		return iface("wgne", k, "") + peer("wgne", p, "\tlist allowed_ips '10.79.0.2/32'"+endpoint)
	}
	dir := t.TempDir()
	writeNetwork(t, dir, network("\n\toption endpoint_host '192.0.2.79'"))
	td := startDaemonWith(t, dir, Options{Netifd: true}, func(d *Daemon) {
		d.resolver.lookup = func(_ context.Context, _, host string) ([]netip.Addr, error) {
			if host == "wgd-test.example" {
				return []netip.Addr{netip.MustParseAddr("192.0.2.80")}, nil
			}
			return nil, fmt.Errorf("%s: no such host", host)
		}
	})
	ifup := func() []netip.Addr {
		var up api.IfupResult
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := api.Call(ctx, td.socket, "ifup", map[string]string{"interface": "wgne"}, &up); err != nil {
			t.Fatal(err)
		}
		return up.Endpoints
	}
	if eps := ifup(); len(eps) != 1 || eps[0].String() != "192.0.2.79" {
		t.Fatalf("ifup endpoints %v", eps)
	}
	writeNetwork(t, dir, network(""))
	if eps := ifup(); len(eps) != 0 {
		t.Errorf("endpoint_host removed: ifup endpoints %v", eps)
	}
	writeNetwork(t, dir, network("\n\toption endpoint_host '192.0.2.79'"))
	ifup()
	writeNetwork(t, dir, network("\n\toption endpoint_host 'wgd-test.invalid'"))
	if eps := ifup(); len(eps) != 0 {
		t.Errorf("endpoint_host a name that does not resolve: ifup endpoints %v", eps)
	}
	writeNetwork(t, dir, network("\n\toption endpoint_host 'wgd-test.example'"))
	if eps := ifup(); len(eps) != 1 || eps[0].String() != "192.0.2.80" {
		t.Fatalf("endpoint_host a name: ifup endpoints %v", eps)
	}
	writeNetwork(t, dir, network("\n\toption endpoint_host 'wgd-test.invalid'"))
	if eps := ifup(); len(eps) != 0 {
		t.Errorf("endpoint_host changed from a resolved name to one that does not resolve: ifup endpoints %v", eps)
	}
}

// A firewall command that never returns keeps neither the control socket
// shut nor a reload waiting for ever.
func TestHungFirewallDoesNotShutControl(t *testing.T) {
	fw := &heldBackend{holding: make(chan struct{}, 10), release: make(chan struct{})}
	fw.syncs.Store(1) // hold from the first sync on
	dir := t.TempDir()
	writeNetwork(t, dir, "")
	td := startDaemonWith(t, dir, Options{}, func(d *Daemon) {
		d.fwWait = 300 * time.Millisecond
		d.fw.open = func(string, *slog.Logger) (firewall.Backend, error) { return fw, nil }
	})
	t.Cleanup(func() { close(fw.release) }) // before the daemon stops: it waits for its firewall
	if _, err := td.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	td.status(t)
}
