package device

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"wgd/config"
	"wgd/internal/netnstest"
	"wgd/router"
)

func newKey(t *testing.T) config.Secret {
	t.Helper()
	k, err := config.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ipJSON(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-j"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ip %v: %v", args, err)
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("ip %v: %v", args, err)
	}
	return v
}

func addrsOf(t *testing.T, name string) []string {
	var out []string
	for _, link := range ipJSON(t, "addr", "show", "dev", name) {
		infos, _ := link["addr_info"].([]any)
		for _, i := range infos {
			m := i.(map[string]any)
			if m["scope"] == "global" {
				out = append(out, m["local"].(string)+"/"+strings.TrimSpace(jsonNumber(m["prefixlen"])))
			}
		}
	}
	return out
}

func jsonNumber(v any) string { b, _ := json.Marshal(v); return string(b) }

func routesOf6(t *testing.T, name string, family string) []string {
	var out []string
	for _, r := range ipJSON(t, family, "route", "show", "dev", name) {
		if r["protocol"] == "static" {
			out = append(out, r["dst"].(string))
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// waitGoroutines waits for the goroutine count to fall back to n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// layer3 gives i's link the addresses, routes and MTU of d through a
// standalone router, which the test closes at its end.
func layer3(t *testing.T, i *Interface, d Desired) router.Router {
	t.Helper()
	r, err := router.NewStandalone(i.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.Set(routerConfig(d)); err != nil {
		t.Fatal(err)
	}
	return r
}

func routerConfig(d Desired) router.Config {
	return router.Config{MTU: d.LinkMTU(), Addresses: d.Config.Addresses, Routes: d.Config.LinkRoutes()}
}

// Two interfaces in one private namespace handshake over loopback; live
// updates change only what differs, the router's too; Close leaves
// nothing behind.
func TestInterfaceLifecycle(t *testing.T) {
	netnstest.Root(t)
	before := runtime.NumGoroutine()
	uapiDir := t.TempDir()
	ka, kb := newKey(t), newKey(t)
	a := config.Interface{
		Name: "wgta", PrivateKey: ka, ListenPort: 51820, MTU: 1400,
		Addresses: prefixes("10.77.0.1/24", "fd77::1/64"),
		Peers:     []config.Peer{{Description: "b", PublicKey: kb.PublicKey(), AllowedIPs: prefixes("10.77.0.2/32", "10.78.0.0/16"), RouteAllowedIPs: true}},
	}
	b := config.Interface{
		Name: "wgtb", PrivateKey: kb, ListenPort: 51821,
		Peers: []config.Peer{{Description: "a", PublicKey: ka.PublicKey(), AllowedIPs: prefixes("10.79.0.0/24"), PersistentKeepalive: 1}},
	}
	opts := Options{UAPIDir: uapiDir}
	ia, err := Open(Desired{Config: a}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ia.Close()
	ra := layer3(t, ia, Desired{Config: a})
	ib, err := Open(Desired{Config: b, Endpoints: map[config.Key]netip.AddrPort{ka.PublicKey(): netip.MustParseAddrPort("127.0.0.1:51820")}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ib.Close()

	// L3 through the router.
	if got := addrsOf(t, "wgta"); !contains(got, "10.77.0.1/24") || !contains(got, "fd77::1/64") {
		t.Errorf("addresses %v", got)
	}
	if got := routesOf6(t, "wgta", "-4"); !contains(got, "10.78.0.0/16") || !contains(got, "10.77.0.2") {
		t.Errorf("routes %v", got)
	}
	if link := ipJSON(t, "link", "show", "wgta")[0]; jsonNumber(link["mtu"]) != "1400" || !strings.Contains(jsonNumber(link["flags"]), "UP") {
		t.Errorf("link %v", link)
	}

	// b's keepalive makes it initiate; both sides record the handshake.
	waitHandshake(t, ia, kb.PublicKey())
	waitHandshake(t, ib, ka.PublicKey())

	// wg(8)'s protocol answers on the UAPI socket, without secrets in our state.
	c, err := net.Dial("unix", uapiDir+"/wgta.sock")
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("get=1\n\n"))
	buf := make([]byte, 4096)
	n, _ := c.Read(buf)
	c.Close()
	if !strings.Contains(string(buf[:n]), "public_key="+kb.PublicKey().Hex()) {
		t.Errorf("UAPI get: %s", buf[:n])
	}

	// Live update: a new peer, a changed route, a changed address; the
	// session with b must stay (same handshake time), same link.
	st, _ := ia.State()
	hs := st.Peers[0].LastHandshake
	index := ia.index
	kc := newKey(t)
	a2 := a
	a2.Addresses = prefixes("10.77.0.1/24", "10.76.0.1/24")
	a2.MTU = 1380
	a2.Peers = []config.Peer{a.Peers[0], {Description: "c", PublicKey: kc.PublicKey(), AllowedIPs: prefixes("10.80.0.0/24"), RouteAllowedIPs: true}}
	a2.Peers[0].AllowedIPs = prefixes("10.77.0.2/32")
	if err := ia.Update(Desired{Config: a2}); err != nil {
		t.Fatal(err)
	}
	if err := ra.Set(routerConfig(Desired{Config: a2})); err != nil {
		t.Fatal(err)
	}
	st, _ = ia.State()
	if len(st.Peers) != 2 || ia.index != index {
		t.Fatalf("after update: %+v", st)
	}
	for _, p := range st.Peers {
		if p.PublicKey == kb.PublicKey() && !p.LastHandshake.Equal(hs) {
			t.Errorf("the unchanged session was reset: %v -> %v", hs, p.LastHandshake)
		}
	}
	got := addrsOf(t, "wgta")
	if !contains(got, "10.76.0.1/24") || contains(got, "fd77::1/64") {
		t.Errorf("addresses after update %v", got)
	}
	routes := routesOf6(t, "wgta", "-4")
	if contains(routes, "10.78.0.0/16") || !contains(routes, "10.80.0.0/24") {
		t.Errorf("routes after update %v", routes)
	}
	if link := ipJSON(t, "link", "show", "wgta")[0]; jsonNumber(link["mtu"]) != "1380" {
		t.Errorf("mtu after update %v", link["mtu"])
	}

	// Close removes the link, its routes and the socket; nothing leaks.
	if err := ra.Close(); err != nil {
		t.Errorf("router close: %v", err)
	}
	if err := ia.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := ib.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if out, err := exec.Command("ip", "link", "show", "wgta").CombinedOutput(); err == nil {
		t.Errorf("link still there: %s", out)
	}
	if _, err := os.Stat(uapiDir + "/wgta.sock"); !os.IsNotExist(err) {
		t.Errorf("UAPI socket left: %v", err)
	}
	waitGoroutines(t, before)
}

// openPair opens a, then b calling a on loopback at a's listen port; both
// close at the end of the test.
func openPair(t *testing.T, a Desired, b config.Interface, opts Options) (ia, ib *Interface) {
	t.Helper()
	ia, err := Open(a, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ia.Close() })
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), a.Config.ListenPort)
	ib, err = Open(Desired{Config: b, Endpoints: map[config.Key]netip.AddrPort{a.Config.PublicKey(): to}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ib.Close() })
	return ia, ib
}

func waitHandshake(t *testing.T, i *Interface, peer config.Key) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, err := i.State()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range st.Peers {
			if p.PublicKey == peer && !p.LastHandshake.IsZero() {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: no handshake with %s", i.Name(), peer)
}

func TestOpenRefusesLiveSocketAndBadName(t *testing.T) {
	netnstest.Root(t)
	dir := t.TempDir()
	c := config.Interface{Name: "wgtc", PrivateKey: newKey(t)}
	first, err := Open(Desired{Config: c}, Options{UAPIDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := Open(Desired{Config: c}, Options{UAPIDir: dir}); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second open of the same interface: %v", err)
	}
	// A stale socket file from a crashed process is replaced.
	stale := config.Interface{Name: "wgtd", PrivateKey: newKey(t)}
	os.WriteFile(dir+"/wgtd.sock", nil, 0o600)
	i, err := Open(Desired{Config: stale}, Options{UAPIDir: dir})
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	i.Close()
}

func ipRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %v: %v: %s", args, err, out)
	}
	return string(out)
}

// A persistent interface (netifd mode) leaves its link, with what others
// set on it, when detached; the next Open attaches to the same link and
// says so; Close removes it. Without Persist a link is removed either way.
func TestPersist(t *testing.T) {
	netnstest.Root(t)
	dir := t.TempDir()
	c := config.Interface{Name: "wgpst", PrivateKey: newKey(t), ListenPort: 51890}
	opts := Options{UAPIDir: dir, Persist: true}
	i, err := Open(Desired{Config: c}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if i.Reattached() {
		t.Error("a new link counts as reattached")
	}
	index := i.index
	if out, err := exec.Command("ip", "addr", "add", "10.91.0.1/24", "dev", "wgpst").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := i.Detach(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir + "/wgpst.sock"); err == nil {
		t.Error("the UAPI socket outlived Detach")
	}
	if got := addrsOf(t, "wgpst"); len(got) != 1 || got[0] != "10.91.0.1/24" {
		t.Fatalf("after Detach: addresses %v", got)
	}
	i, err = Open(Desired{Config: c}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !i.Reattached() || i.index != index {
		t.Errorf("reattached %v, index %d, want true, %d", i.Reattached(), i.index, index)
	}
	if got := addrsOf(t, "wgpst"); len(got) != 1 {
		t.Errorf("after attaching again: addresses %v", got)
	}
	if st, err := i.State(); err != nil || st.ListenPort != 51890 {
		t.Errorf("state %+v %v", st, err)
	}
	if err := i.Close(); err != nil {
		t.Fatal(err)
	}
	if exec.Command("ip", "link", "show", "wgpst").Run() == nil {
		t.Error("the link outlived Close")
	}

	i, err = Open(Desired{Config: c}, Options{UAPIDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	i.Detach()
	if exec.Command("ip", "link", "show", "wgpst").Run() == nil {
		t.Error("a link without Persist outlived Detach")
	}
}
