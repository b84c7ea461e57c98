package main

// End to end: `wgd peer add` on the router, the printed config used as it is
// by a wg-quick style client (Debian's wireguard-go, `wg-quick strip` and
// `wg setconf`, ip(8) for Address and AllowedIPs), then disable, enable and
// remove. Needs root; skips without it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/internal/lab"
)

// routerTun6 is an IPv6 subnet the test adds to the router's tunnel.
const (
	routerTun6     = "fd00:99::1"
	routerTun6Line = "\tlist addresses '" + routerTun6 + "/64'\n"
)

// runSplit runs argv in host h, keeping stdout and stderr apart.
func runSplit(ctx context.Context, h *lab.Host, argv ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS}, argv...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s in %s: %w: %s", strings.Join(argv, " "), h.Name, err, errb.String())
	}
	return out.String(), errb.String(), err
}

// wgQuickUp brings the client config file conf up in lt's host as wg-quick
// does, on Debian's wireguard-go (there is no kernel WireGuard here):
// `wg-quick strip` leaves what wg(8) understands, `wg setconf` applies it,
// and ip(8) adds Address, MTU and a route per AllowedIPs entry.
func wgQuickUp(t *testing.T, ctx context.Context, lt *lab.Laptop, conf string) {
	t.Helper()
	p, err := lt.Host.StartEnv([]string{"LOG_LEVEL=verbose"}, "wireguard-go", "-f", lt.Iface)
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Poll(ctx, 10*time.Second, func(context.Context) error {
		if p.Exited() {
			return lab.GiveUp(fmt.Errorf("wireguard-go exited: %s", p.Output()))
		}
		_, err := os.Stat(lab.UAPISocket(lt.Iface))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	stripped, stderr, err := runSplit(ctx, lt.Host, "wg-quick", "strip", conf)
	if err != nil || stderr != "" {
		t.Fatalf("wg-quick strip: %v %s", err, stderr)
	}
	wgConf := filepath.Join(lt.Dir, "wg.conf")
	if err := os.WriteFile(wgConf, []byte(stripped), 0o600); err != nil {
		t.Fatal(err)
	}
	steps := [][]string{{"wg", "setconf", lt.Iface, wgConf}}
	text, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	mtu := "1420" // wg-quick's default over a 1500-byte path
	var routes []string
	for _, line := range strings.Split(string(text), "\n") {
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		list := strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' })
		switch strings.TrimSpace(key) {
		case "Address":
			for _, a := range list {
				steps = append(steps, []string{"ip", "address", "add", a, "dev", lt.Iface})
			}
		case "MTU":
			mtu = strings.TrimSpace(value)
		case "AllowedIPs":
			routes = append(routes, list...)
		}
	}
	steps = append(steps, []string{"ip", "link", "set", lt.Iface, "mtu", mtu, "up"})
	for _, r := range routes {
		steps = append(steps, []string{"ip", "route", "replace", r, "dev", lt.Iface})
	}
	for _, argv := range steps {
		if _, err := lt.Host.Run(ctx, argv...); err != nil {
			t.Fatal(err)
		}
	}
}

func cutOff(t *testing.T, ctx context.Context, lt *lab.Laptop, why string) {
	t.Helper()
	err := lab.Poll(ctx, 15*time.Second, func(ctx context.Context) error {
		if _, err := lab.Ping(ctx, lt.Host, lab.LANHostIP, 1); err == nil {
			return fmt.Errorf("%s still reaches the LAN host after %s", lt.Name, why)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Fetch(ctx, lt.Host, lab.LANHostIP); err == nil {
		t.Fatalf("%s still connects to the LAN service after %s", lt.Name, why)
	}
}

func TestPeerOnboarding(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	laptop := addLaptop(t, ctx, g, "laptop", lab.ClientWGD)
	// The phone's host and link; its peer section comes from `wgd peer add`.
	phone := addLaptop(t, ctx, g, "phone", lab.ClientWireGuardGo)
	if err := g.RemovePeer("phone"); err != nil {
		t.Fatal(err)
	}
	if err := g.StartRouter(ctx); err != nil {
		t.Fatal(err)
	}
	// An IPv6 subnet on the tunnel as well, applied live.
	networkPath := filepath.Join(g.RouterDir, "network")
	text, err := os.ReadFile(networkPath)
	if err != nil {
		t.Fatal(err)
	}
	v4 := "\tlist addresses '" + lab.RouterTunIP + "/24'\n"
	if !bytes.Contains(text, []byte(v4)) {
		t.Fatalf("router config lacks %q", v4)
	}
	text = bytes.Replace(text, []byte(v4), []byte(v4+routerTun6Line), 1)
	if err := os.WriteFile(networkPath, text, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := laptop.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mustReach(t, ctx, laptop)
	ifindex, err := lab.LinkIndex(ctx, g.Router, g.RouterIface)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(networkPath)
	if err != nil {
		t.Fatal(err)
	}

	// On the router: one command.
	conf := filepath.Join(phone.Dir, phone.Iface+".conf") // wg-quick names the interface after the file
	png := filepath.Join(phone.Dir, "phone.png")
	peerCmd := func(args ...string) (string, string) {
		t.Helper()
		return routerPeerCmd(t, ctx, g, args...)
	}
	stdout, stderr := peerCmd("add", "phone", "--conf", conf, "--qr-png", png)

	client := printedConfig(t, stdout)
	for _, want := range []string{
		fmt.Sprintf("Endpoint = %s:%d\n", lab.RouterWANIP, lab.ListenPort), // the WAN address, detected
		"PublicKey = " + g.RouterKey.Public + "\n",
		"AllowedIPs = " + lab.TunnelPrefix + ", fd00:99::/64, " + lab.LANPrefix + "\n",
		"Address = 10.99.0.3/32, fd00:99::2/128\n", // .2 is the laptop's
	} {
		if !strings.Contains(client, want) {
			t.Errorf("client config lacks %q:\n%s", want, client)
		}
	}
	if strings.Contains(stderr, "warning") || !strings.Contains(stderr, "the peer is live on "+g.RouterIface) {
		t.Errorf("wgd peer add messages:\n%s", stderr)
	}
	if got, err := os.ReadFile(conf); err != nil || string(got) != client {
		t.Fatalf("--conf file: %q, %v", got, err)
	}
	if got := decodeTerminal(t, stdout); got != client {
		t.Errorf("terminal QR code decodes to\n%s\nwant\n%s", got, client)
	}
	if data, err := os.ReadFile(png); err != nil {
		t.Error(err)
	} else if got, err := lab.DecodeQRPNG(data); err != nil || got != client {
		t.Errorf("PNG decodes to %q, %v", got, err)
	}
	after, _ := os.ReadFile(networkPath)
	if !bytes.HasPrefix(after, before) {
		t.Errorf("the router's network file changed before the new peer:\n%s", after)
	}

	// On the phone: the config as it is.
	wgQuickUp(t, ctx, phone, conf)
	mustReach(t, ctx, phone)
	if err := lab.Poll(ctx, 15*time.Second, func(ctx context.Context) error {
		_, err := phone.Host.Run(ctx, "ping", "-6", "-n", "-c", "1", "-W", "1", routerTun6)
		return err
	}); err != nil {
		t.Errorf("phone cannot reach the router's tunnel IPv6 address: %v", err)
	}

	out, _ := peerCmd("list")
	t.Logf("wgd peer list:\n%s", out)
	if !strings.Contains(out, "phone") || !strings.Contains(out, "live") || strings.Contains(out, "never") {
		t.Errorf("peer list after traffic:\n%s", out)
	}
	checkLiveJSON(t, ctx, g, phone)

	// Disable, enable: the phone is cut off and comes back, the laptop
	// never notices.
	peerCmd("disable", "phone")
	cutOff(t, ctx, phone, "peer disable")
	mustReach(t, ctx, laptop)
	peerCmd("enable", "phone")
	mustReach(t, ctx, phone)

	// Remove: cut off for good; the laptop goes on; the file is as before.
	_, stderr = peerCmd("remove", "phone")
	if !strings.Contains(stderr, "the peer is off "+g.RouterIface) {
		t.Errorf("wgd peer remove messages:\n%s", stderr)
	}
	cutOff(t, ctx, phone, "peer remove")
	mustReach(t, ctx, laptop)
	if got, _ := os.ReadFile(networkPath); !bytes.Equal(got, before) {
		t.Errorf("after add and remove the network file differs:\n%s\nbefore:\n%s", got, before)
	}
	wgShow, err := g.Router.Run(ctx, "wg", "show", g.RouterIface, "peers")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(strings.TrimSpace(wgShow), "\n") != 0 || !strings.Contains(wgShow, laptop.Key.Public) {
		t.Errorf("router's peers after remove, want the laptop only:\n%s", wgShow)
	}
	if now, err := lab.LinkIndex(ctx, g.Router, g.RouterIface); err != nil || now != ifindex {
		t.Errorf("router's TUN was recreated: ifindex %d -> %d (%v)", ifindex, now, err)
	}

	// No private or preshared key of the phone in the router's log.
	priv := strings.TrimPrefix(firstLine(client, "PrivateKey = "), "PrivateKey = ")
	psk := strings.TrimPrefix(firstLine(client, "PresharedKey = "), "PresharedKey = ")
	log := g.RouterProc.Output()
	for name, k := range map[string]string{"private": priv, "preshared": psk} {
		s, err := config.ParseSecret(k)
		if err != nil {
			t.Fatalf("%s key in the config: %v", name, err)
		}
		if strings.Contains(log, k) || strings.Contains(log, s.Hex()) {
			t.Errorf("the phone's %s key is in the router's log", name)
		}
	}
}

// routerPeerCmd runs `wgd peer ARGS` on the router against its running
// daemon and files; it fails the test unless the command succeeds.
func routerPeerCmd(t *testing.T, ctx context.Context, g *lab.Gateway, args ...string) (stdout, stderr string) {
	t.Helper()
	argv := append([]string{wgdBin, "peer"}, args...)
	argv = append(argv, "--config-dir", g.RouterDir, "--socket", g.RouterSocket, "--uci-savedir", filepath.Join(g.Lab.Dir, "uci-save"))
	stdout, stderr, err := runSplit(ctx, g.Router, argv...)
	if err != nil {
		t.Fatal(err)
	}
	if stderr != "" {
		t.Logf("wgd peer %s:\n%s", strings.Join(args, " "), stderr)
	}
	return stdout, stderr
}

// checkLiveJSON: after traffic, `peer list --json` and `peer show --json`
// on the router carry the live fields of lt, a peer the router runs, and
// no private or preshared key of the router's file.
func checkLiveJSON(t *testing.T, ctx context.Context, g *lab.Gateway, lt *lab.Laptop) listJSON {
	t.Helper()
	out, _ := routerPeerCmd(t, ctx, g, "list", "--json")
	var list listJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("peer list --json: %v:\n%s", err, out)
	}
	secrets := secretsOf(t, g.RouterDir)
	if len(secrets) < 2 {
		t.Fatalf("the router's file holds %d secrets, want its key and a preshared key at least", len(secrets))
	}
	for _, k := range secrets {
		if strings.Contains(out, k) {
			t.Errorf("a private or preshared key is in peer list --json:\n%s", out)
		}
	}
	if !list.DaemonRunning {
		t.Errorf("peer list --json: daemon_running false with wgd running:\n%s", out)
	}
	var p *peerJSON
	for i := range list.Peers {
		if list.Peers[i].Name == lt.Name {
			p = &list.Peers[i]
		}
	}
	if p == nil {
		t.Fatalf("peer list --json lacks %s:\n%s", lt.Name, out)
	}
	if p.State != "live" || p.Live == nil || p.Live.LatestHandshake == 0 || p.Live.RxBytes == 0 || p.Live.TxBytes == 0 ||
		!strings.HasPrefix(p.Live.Endpoint, lt.WANIP+":") || p.Interface != g.RouterIface || p.PublicKey == "" || len(p.AllowedIPs) == 0 {
		t.Errorf("peer list --json, %s after traffic: %+v (live %+v)", lt.Name, p, p.Live)
	}
	out, _ = routerPeerCmd(t, ctx, g, "show", lt.Name, "--json")
	var show showJSON
	if err := json.Unmarshal([]byte(out), &show); err != nil {
		t.Fatalf("peer show --json: %v:\n%s", err, out)
	}
	if !show.DaemonRunning || show.Peer.Live == nil || show.Peer.PublicKey != p.PublicKey || show.Peer.Live.RxBytes < p.Live.RxBytes {
		t.Errorf("peer show --json %s: %+v, list had %+v", lt.Name, show, p)
	}
	return list
}

func firstLine(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// routerStatus is the router daemon's `wgd status --json`.
func routerStatus(t *testing.T, ctx context.Context, g *lab.Gateway) *api.Status {
	t.Helper()
	out, err := g.WGDCmd(ctx, g.Router, "status", "--json", "--socket", g.RouterSocket)
	if err != nil {
		t.Fatal(err)
	}
	var st api.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("wgd status --json: %v:\n%s", err, out)
	}
	return &st
}

func interfaceUp(st *api.Status, name string) (up, listed bool) {
	for _, i := range st.Interfaces {
		if i.Name == name {
			return i.Up, true
		}
	}
	return false, false
}

// netifdIfup does what netifd and the wgd protocol handler do for an
// interface: `wgd ifup`, then the link up with the answer's MTU,
// addresses and routes (wgd leaves layer 3 to netifd in this mode).
func netifdIfup(t *testing.T, ctx context.Context, g *lab.Gateway, iface string) *api.IfupResult {
	t.Helper()
	out, err := g.WGDCmd(ctx, g.Router, "ifup", "--socket", g.RouterSocket, iface)
	if err != nil {
		t.Fatal(err)
	}
	var up api.IfupResult
	if err := json.Unmarshal([]byte(out), &up); err != nil {
		t.Fatalf("wgd ifup: %v:\n%s", err, out)
	}
	if up.Interface != iface {
		t.Fatalf("wgd ifup %s answered for %q:\n%s", iface, up.Interface, out)
	}
	link := []string{"link", "set", "dev", iface, "up"}
	if up.MTU > 0 {
		link = append(link, "mtu", fmt.Sprint(up.MTU))
	}
	steps := [][]string{link}
	for _, a := range up.Addresses {
		steps = append(steps, []string{"addr", "add", a.String(), "dev", iface})
	}
	for _, r := range up.Routes {
		route := []string{"route", "replace", r.Target.String(), "dev", iface}
		if r.Metric != 0 {
			route = append(route, "metric", fmt.Sprint(r.Metric))
		}
		steps = append(steps, route)
	}
	for _, s := range steps {
		if _, err := g.Router.IP(ctx, s...); err != nil {
			t.Fatal(err)
		}
	}
	return &up
}

// TestPeerAddNetifd: `wgd peer add` against a daemon in netifd mode. The
// router runs two wgd interfaces of which netifd asked for one (`wgd
// ifup`); the phone added with `wgd peer add` reaches the LAN and the
// router's tunnel address over the requested interface, which keeps its
// link (same ifindex); the other interface stays down, also when a peer
// is added to it, and `peer add` says so rather than calling it live.
func TestPeerAddNetifd(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	phone := addLaptop(t, ctx, g, "phone", lab.ClientWireGuardGo)
	if err := g.RemovePeer("phone"); err != nil {
		t.Fatal(err)
	}
	idle := "wgi" + g.Lab.ID
	g.Lab.RemoveOnClose(lab.UAPISocket(idle))
	idleKey, err := g.GenKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.WriteRouterConfig(); err != nil {
		t.Fatal(err)
	}
	network := g.RouterNetworkConfig() + fmt.Sprintf(`
config interface '%s'
	option proto 'wgd'
	option private_key '%s'
	option listen_port '%d'
	list addresses '10.98.0.1/24'
`, idle, idleKey.Private, lab.ListenPort+1)
	if err := os.WriteFile(filepath.Join(g.RouterDir, "network"), []byte(network), 0o600); err != nil {
		t.Fatal(err)
	}

	state := filepath.Join(g.Lab.Dir, "router.netifd")
	p, err := g.Router.Start(g.WGD, "run", "--netifd", "--netifd-state", state, "--config-dir", g.RouterDir, "--socket", g.RouterSocket)
	if err != nil {
		t.Fatal(err)
	}
	g.RouterProc = p
	if err := lab.Poll(ctx, 20*time.Second, func(ctx context.Context) error {
		if p.Exited() {
			return lab.GiveUp(fmt.Errorf("wgd exited (%s)", p.ExitStatus()))
		}
		_, err := g.WGDCmd(ctx, g.Router, "status", "--socket", g.RouterSocket)
		return err
	}); err != nil {
		t.Fatalf("wgd run --netifd did not come up: %v", err)
	}
	linkAbsent := func(name, when string) {
		t.Helper()
		if out, err := g.Router.IP(ctx, "link", "show", "dev", name); err == nil {
			t.Errorf("%s: link %s exists, netifd did not ask for it:\n%s", when, name, out)
		}
		up, listed := interfaceUp(routerStatus(t, ctx, g), name)
		if up || !listed {
			t.Errorf("%s: wgd status lists %s: %v, up: %v; want listed and down", when, name, listed, up)
		}
	}
	linkAbsent(g.RouterIface, "before ifup")
	linkAbsent(idle, "before ifup")

	up := netifdIfup(t, ctx, g, g.RouterIface)
	if len(up.Addresses) != 1 || up.Addresses[0].String() != lab.RouterTunIP+"/24" {
		t.Errorf("ifup answer's addresses: %v", up.Addresses)
	}
	ifindex, err := lab.LinkIndex(ctx, g.Router, g.RouterIface)
	if err != nil {
		t.Fatal(err)
	}
	linkAbsent(idle, "after ifup of "+g.RouterIface)

	conf := filepath.Join(phone.Dir, phone.Iface+".conf")
	_, stderr := routerPeerCmd(t, ctx, g, "add", "phone", "--interface", g.RouterIface, "--conf", conf, "--no-qr")
	if !strings.Contains(stderr, "the peer is live on "+g.RouterIface) {
		t.Errorf("wgd peer add messages:\n%s", stderr)
	}
	wgQuickUp(t, ctx, phone, conf)
	mustReach(t, ctx, phone)
	if _, err := lab.Ping(ctx, phone.Host, lab.RouterTunIP, 3); err != nil {
		t.Errorf("phone cannot reach the router's tunnel address: %v", err)
	}

	// A peer for the interface netifd did not ask for: written, not run.
	_, stderr = routerPeerCmd(t, ctx, g, "add", "tablet", "--interface", idle, "--no-qr", "--endpoint", "vpn.example.com")
	if strings.Contains(stderr, "live") || !strings.Contains(stderr, idle+" is not running") {
		t.Errorf("wgd peer add on an interface that is down:\n%s", stderr)
	}
	linkAbsent(idle, "after peer add")

	list := checkLiveJSON(t, ctx, g, phone)
	for _, p := range list.Peers {
		if p.Name == "tablet" && (p.State != "not running" || p.Live != nil || p.Interface != idle) {
			t.Errorf("peer list --json: the tablet of the idle interface: %+v", p)
		}
	}
	if out, _ := routerPeerCmd(t, ctx, g, "list"); !regexp.MustCompile(idle + ` +tablet +10\.98\.0\.2/32 +not running`).MatchString(out) {
		t.Errorf("peer list: the tablet of the idle interface:\n%s", out)
	}

	// The requested interface was never taken down: same link, and the
	// address netifd gave it is still there.
	if now, err := lab.LinkIndex(ctx, g.Router, g.RouterIface); err != nil || now != ifindex {
		t.Errorf("router's TUN was recreated: ifindex %d -> %d (%v)", ifindex, now, err)
	}
	if addrs, err := g.Router.IP(ctx, "-o", "addr", "show", "dev", g.RouterIface); err != nil || !strings.Contains(addrs, lab.RouterTunIP+"/24") {
		t.Errorf("the address netifd set is gone: %v\n%s", err, addrs)
	}
	if b, err := os.ReadFile(state); err != nil || strings.TrimSpace(string(b)) != g.RouterIface {
		t.Errorf("netifd state file %q (%v), want %s only", b, err, g.RouterIface)
	}
	if p.Exited() {
		t.Errorf("wgd exited: %s", p.ExitStatus())
	}
}
