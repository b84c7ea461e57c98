package main

// End to end: `wgd peer add` on the router, the printed config used as it is
// by a wg-quick style client (Debian's wireguard-go, `wg-quick strip` and
// `wg setconf`, ip(8) for Address and AllowedIPs), then disable, enable and
// remove. Needs root; skips without it.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	saveDir := filepath.Join(g.Lab.Dir, "uci-save")
	peerCmd := func(args ...string) (string, string) {
		t.Helper()
		argv := append([]string{wgdBin, "peer"}, args...)
		argv = append(argv, "--config-dir", g.RouterDir, "--socket", g.RouterSocket, "--uci-savedir", saveDir)
		stdout, stderr, err := runSplit(ctx, g.Router, argv...)
		if err != nil {
			t.Fatal(err)
		}
		if stderr != "" {
			t.Logf("wgd peer %s:\n%s", strings.Join(args, " "), stderr)
		}
		return stdout, stderr
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

func firstLine(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
