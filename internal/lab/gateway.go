package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The home-gateway scenario's addresses: documentation ranges for the
// internet side, private ones for the LAN and the tunnel. They exist only
// inside the lab's namespaces.
const (
	LANPrefix    = "192.168.50.0/24"
	RouterLANIP  = "192.168.50.1"
	LANHostIP    = "192.168.50.10"
	RouterWANIP  = "198.51.100.1"
	InetWANIP    = "198.51.100.254" // inet's side of the router's uplink
	TunnelPrefix = "10.99.0.0/24"
	RouterTunIP  = "10.99.0.1"
	ListenPort   = 51820

	// ServicePort and ServiceReply describe the TCP service on the LAN host.
	ServicePort  = 8080
	ServiceReply = "hello from the LAN host"
)

// ClientKind is the software a laptop runs for its end of the tunnel.
type ClientKind int

const (
	// ClientWGD is wgd with its own UCI configuration.
	ClientWGD ClientKind = iota
	// ClientWireGuardGo is Debian's wireguard-go configured with wg(8) and
	// ip(8): an implementation wgd's authors did not write.
	ClientWireGuardGo
)

func (k ClientKind) String() string {
	if k == ClientWireGuardGo {
		return "wireguard-go"
	}
	return "wgd"
}

// Key is a WireGuard key pair in base64, as UCI and wg(8) write them.
type Key struct {
	Private, Public string
}

// RouterPeer is one `config wireguard_<iface>` section of the router.
type RouterPeer struct {
	Description string
	PublicKey   string
	AllowedIPs  []string
}

// Gateway is the home-gateway scenario: a LAN host behind a router that runs
// wgd, an "internet" host between the router and the laptops, and laptops
// that reach the LAN host through the tunnel.
//
//	lan 192.168.50.10 ── .1 router 198.51.100.1 ── .254 inet 203.0.113.(4n-3) ── 203.0.113.(4n-2) laptopN
//	                        tunnel 10.99.0.1/24                                      tunnel 10.99.0.(n+1)
type Gateway struct {
	Lab *Lab
	WGD string // path of the wgd binary

	LAN, Router, Inet *Host

	RouterIface  string // the router's WireGuard interface (UCI section name)
	RouterKey    Key
	RouterDir    string // the router's UCI directory (network, wgd)
	RouterSocket string // the router's control socket
	RouterProc   *Proc  // the running `wgd run`, nil before StartRouter

	// Peers are the router's peer sections, written in this order by
	// WriteRouterConfig. Tests edit this list to change the router's UCI.
	Peers []RouterPeer

	Laptops []*Laptop

	// Logf, when set, is told each step (the demo prints them, tests log them).
	Logf func(format string, args ...any)
}

// Laptop is a remote peer of the router.
type Laptop struct {
	Name     string
	Kind     ClientKind
	Host     *Host
	Iface    string // WireGuard interface name
	Key      Key
	TunnelIP string // address inside the tunnel
	WANIP    string // address on its internet link
	Dir      string // scratch directory: UCI config or key file
	Socket   string // wgd control socket (ClientWGD only)
	Proc     *Proc  // the running client, nil before Start

	g *Gateway
}

// NewGateway builds the lan, router and inet hosts with their links, routes
// and the LAN host's TCP service, and generates the router's key. The router's
// daemon starts with StartRouter; laptops are added with AddLaptop. logf (may
// be nil) is told each step.
func NewGateway(ctx context.Context, l *Lab, wgd string, logf func(format string, args ...any)) (*Gateway, error) {
	abs, err := filepath.Abs(wgd)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("wgd binary: %w", err)
	}
	g := &Gateway{
		Lab:          l,
		WGD:          abs,
		RouterIface:  "wgr" + l.ID,
		RouterDir:    filepath.Join(l.Dir, "router"),
		RouterSocket: filepath.Join(l.Dir, "router.sock"),
		Logf:         logf,
	}
	l.RemoveOnClose(UAPISocket(g.RouterIface))

	g.logf("creating hosts lan, router, inet (namespaces %s*)", nsPrefix+l.ID)
	for _, h := range []struct {
		name string
		dst  **Host
	}{{"lan", &g.LAN}, {"router", &g.Router}, {"inet", &g.Inet}} {
		if *h.dst, err = l.Host(ctx, h.name); err != nil {
			return nil, err
		}
	}
	if _, err := l.Connect(ctx, g.LAN, g.Router, LANHostIP+"/24", RouterLANIP+"/24"); err != nil {
		return nil, err
	}
	if _, err := l.Connect(ctx, g.Router, g.Inet, RouterWANIP+"/24", InetWANIP+"/24"); err != nil {
		return nil, err
	}
	if err := g.LAN.Route(ctx, "default", RouterLANIP); err != nil {
		return nil, err
	}
	if err := g.Router.Route(ctx, "default", InetWANIP); err != nil {
		return nil, err
	}
	for _, h := range []*Host{g.Router, g.Inet} {
		if err := h.Forward(ctx); err != nil {
			return nil, err
		}
	}

	g.logf("starting the TCP service on lan %s:%d", LANHostIP, ServicePort)
	if _, err := g.LAN.Start("socat", fmt.Sprintf("TCP-LISTEN:%d,reuseaddr,fork", ServicePort),
		"SYSTEM:echo "+ServiceReply); err != nil {
		return nil, err
	}
	if err := Poll(ctx, 10*time.Second, func(ctx context.Context) error {
		_, err := Fetch(ctx, g.LAN, "127.0.0.1")
		return err
	}); err != nil {
		return nil, fmt.Errorf("LAN service did not come up: %w", err)
	}

	if g.RouterKey, err = g.GenKey(ctx); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(g.RouterDir, 0o700); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *Gateway) logf(format string, args ...any) {
	if g.Logf != nil {
		g.Logf(format, args...)
	}
}

// WGDCmd runs the wgd binary with args inside host h.
func (g *Gateway) WGDCmd(ctx context.Context, h *Host, args ...string) (string, error) {
	return h.Run(ctx, append([]string{g.WGD}, args...)...)
}

// GenKey makes a key pair with `wgd genkey` and `wgd pubkey`.
func (g *Gateway) GenKey(ctx context.Context) (Key, error) {
	priv, err := run(ctx, g.WGD, "genkey")
	if err != nil {
		return Key{}, err
	}
	k := Key{Private: strings.TrimSpace(priv)}
	cmd := exec.CommandContext(ctx, g.WGD, "pubkey")
	cmd.Stdin = strings.NewReader(k.Private + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pub, err := cmd.Output()
	if err != nil {
		return Key{}, fmt.Errorf("wgd pubkey: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	k.Public = strings.TrimSpace(string(pub))
	if len(k.Private) != 44 || len(k.Public) != 44 || k.Private == k.Public {
		return Key{}, fmt.Errorf("wgd genkey/pubkey gave %q / %q, want two different 44-character base64 keys", k.Private, k.Public)
	}
	return k, nil
}

// RouterNetworkConfig is the router's /etc/config/network as LuCI would
// leave it: the usual interfaces wgd must ignore, the wgd interface and one
// anonymous peer section per entry of Peers.
func (g *Gateway) RouterNetworkConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, `
config interface 'loopback'
	option device 'lo'
	option proto 'static'
	option ipaddr '127.0.0.1'
	option netmask '255.0.0.0'

config interface 'lan'
	option device 'br-lan'
	option proto 'static'
	option ipaddr '%s'
	option netmask '255.255.255.0'

config interface 'wan'
	option device 'eth1'
	option proto 'dhcp'

config interface '%s'
	option proto 'wgd'
	option private_key '%s'
	option listen_port '%d'
	list addresses '%s/24'
`, RouterLANIP, g.RouterIface, g.RouterKey.Private, ListenPort, RouterTunIP)
	for _, p := range g.Peers {
		fmt.Fprintf(&b, "\nconfig wireguard_%s\n", g.RouterIface)
		fmt.Fprintf(&b, "\toption description '%s'\n", p.Description)
		fmt.Fprintf(&b, "\toption public_key '%s'\n", p.PublicKey)
		for _, a := range p.AllowedIPs {
			fmt.Fprintf(&b, "\tlist allowed_ips '%s'\n", a)
		}
		b.WriteString("\toption route_allowed_ips '1'\n")
	}
	return b.String()
}

// WriteRouterConfig writes the router's UCI files (network and wgd). Each
// file is replaced atomically, so a reload never reads half a file.
func (g *Gateway) WriteRouterConfig() error {
	if err := writeAtomic(filepath.Join(g.RouterDir, "network"), g.RouterNetworkConfig()); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(g.RouterDir, "wgd"), wgdConfig)
}

// wgdConfig is the daemon's own UCI package: debug logs help when a test fails.
const wgdConfig = `
config wgd 'main'
	option log_level 'debug'
`

// StartRouter writes the router's config, starts `wgd run` in the router and
// waits until its control socket reports the interface.
func (g *Gateway) StartRouter(ctx context.Context) error {
	if err := g.WriteRouterConfig(); err != nil {
		return err
	}
	g.logf("router: wgd run --config-dir %s (interface %s, %d peer(s))", g.RouterDir, g.RouterIface, len(g.Peers))
	return g.RunRouter(ctx)
}

// RunRouter starts `wgd run` on the router with the files in RouterDir as
// they are and waits until it runs the router's interface.
func (g *Gateway) RunRouter(ctx context.Context) error {
	p, err := g.Router.Start(g.WGD, "run", "--config-dir", g.RouterDir, "--socket", g.RouterSocket)
	if err != nil {
		return err
	}
	g.RouterProc = p
	return g.waitDaemon(ctx, p, g.Router, g.RouterSocket, g.RouterIface)
}

// waitDaemon polls `wgd status --json` until iface is listed, failing early
// (with the daemon's log) if the daemon exits.
func (g *Gateway) waitDaemon(ctx context.Context, p *Proc, h *Host, socket, iface string) error {
	err := Poll(ctx, 20*time.Second, func(ctx context.Context) error {
		if p.Exited() {
			return GiveUp(fmt.Errorf("wgd exited (%s)", p.ExitStatus()))
		}
		var st struct{ Interfaces []struct{ Name string } }
		if err := g.Status(ctx, h, socket, &st); err != nil {
			return err
		}
		for _, i := range st.Interfaces {
			if i.Name == iface {
				return nil
			}
		}
		return fmt.Errorf("interface %s not in status yet", iface)
	})
	if err != nil {
		return fmt.Errorf("%s: wgd did not come up: %w\nlog:\n%s", h.Name, err, tail(p.Output(), 40))
	}
	return nil
}

// Reload asks the router's daemon to re-read its UCI files.
func (g *Gateway) Reload(ctx context.Context) error {
	g.logf("router: wgd reload")
	_, err := g.WGDCmd(ctx, g.Router, "reload", "--socket", g.RouterSocket)
	return err
}

// RemovePeer removes the router's peer section with this description (call
// WriteRouterConfig and Reload to apply).
func (g *Gateway) RemovePeer(description string) error {
	i := slices.IndexFunc(g.Peers, func(p RouterPeer) bool { return p.Description == description })
	if i < 0 {
		return fmt.Errorf("router has no peer %q", description)
	}
	g.Peers = slices.Delete(g.Peers, i, i+1)
	return nil
}

// AddLaptop makes a laptop host on its own link to inet, with a key pair, and
// adds it as a peer to the router's peer list (not yet written: see
// WriteRouterConfig). The client starts with Laptop.Start.
func (g *Gateway) AddLaptop(ctx context.Context, name string, kind ClientKind) (*Laptop, error) {
	n := len(g.Laptops) + 1
	if n > 60 {
		return nil, errors.New("too many laptops for 203.0.113.0/24 split in /30s")
	}
	lt := &Laptop{
		Name:     name,
		Kind:     kind,
		Iface:    fmt.Sprintf("wgl%d%s", n, g.Lab.ID),
		TunnelIP: fmt.Sprintf("10.99.0.%d", n+1),
		WANIP:    fmt.Sprintf("203.0.113.%d", 4*n-2),
		Dir:      filepath.Join(g.Lab.Dir, name),
		Socket:   filepath.Join(g.Lab.Dir, name+".sock"),
		g:        g,
	}
	inetSide := fmt.Sprintf("203.0.113.%d", 4*n-3)
	g.Lab.RemoveOnClose(UAPISocket(lt.Iface))
	g.logf("creating %s (%s client, WAN %s, tunnel %s)", name, kind, lt.WANIP, lt.TunnelIP)
	var err error
	if lt.Host, err = g.Lab.Host(ctx, name); err != nil {
		return nil, err
	}
	if _, err := g.Lab.Connect(ctx, g.Inet, lt.Host, inetSide+"/30", lt.WANIP+"/30"); err != nil {
		return nil, err
	}
	if err := lt.Host.Route(ctx, "default", inetSide); err != nil {
		return nil, err
	}
	if lt.Key, err = g.GenKey(ctx); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(lt.Dir, 0o700); err != nil {
		return nil, err
	}
	g.Laptops = append(g.Laptops, lt)
	g.Peers = append(g.Peers, RouterPeer{
		Description: name,
		PublicKey:   lt.Key.Public,
		AllowedIPs:  []string{lt.TunnelIP + "/32"},
	})
	return lt, nil
}

// NetworkConfig is the laptop's UCI network file (ClientWGD): one interface,
// the router as its only peer, routes to the tunnel and the LAN.
func (lt *Laptop) NetworkConfig() string {
	return fmt.Sprintf(`
config interface '%s'
	option proto 'wgd'
	option private_key '%s'
	list addresses '%s/32'

config wireguard_%s
	option description 'home router'
	option public_key '%s'
	option endpoint_host '%s'
	option endpoint_port '%d'
	list allowed_ips '%s'
	list allowed_ips '%s'
	option route_allowed_ips '1'
	option persistent_keepalive '25'
`, lt.Iface, lt.Key.Private, lt.TunnelIP, lt.Iface, lt.g.RouterKey.Public,
		RouterWANIP, ListenPort, TunnelPrefix, LANPrefix)
}

// Start starts the laptop's end of the tunnel and returns once it is
// configured (the handshake happens with the first packet or keepalive).
func (lt *Laptop) Start(ctx context.Context) error {
	if lt.Kind == ClientWireGuardGo {
		return lt.startWireGuardGo(ctx)
	}
	if err := writeAtomic(filepath.Join(lt.Dir, "network"), lt.NetworkConfig()); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(lt.Dir, "wgd"), wgdConfig); err != nil {
		return err
	}
	lt.g.logf("%s: wgd run --config-dir %s (interface %s, endpoint %s:%d)", lt.Name, lt.Dir, lt.Iface, RouterWANIP, ListenPort)
	p, err := lt.Host.Start(lt.g.WGD, "run", "--config-dir", lt.Dir, "--socket", lt.Socket)
	if err != nil {
		return err
	}
	lt.Proc = p
	return lt.g.waitDaemon(ctx, p, lt.Host, lt.Socket, lt.Iface)
}

// startWireGuardGo sets the laptop up the way a user of the reference tools
// would: wireguard-go for the device, wg(8) for keys and peer, ip(8) for L3.
func (lt *Laptop) startWireGuardGo(ctx context.Context) error {
	lt.g.logf("%s: wireguard-go -f %s, then wg set / ip addr / ip route", lt.Name, lt.Iface)
	p, err := lt.Host.StartEnv([]string{"LOG_LEVEL=verbose"}, "wireguard-go", "-f", lt.Iface)
	if err != nil {
		return err
	}
	lt.Proc = p
	if err := Poll(ctx, 10*time.Second, func(ctx context.Context) error {
		if p.Exited() {
			return GiveUp(fmt.Errorf("wireguard-go exited (%s)", p.ExitStatus()))
		}
		_, err := os.Stat(UAPISocket(lt.Iface))
		return err
	}); err != nil {
		return fmt.Errorf("%s: wireguard-go did not come up: %w\nlog:\n%s", lt.Name, err, tail(p.Output(), 40))
	}
	keyFile := filepath.Join(lt.Dir, "private.key")
	if err := os.WriteFile(keyFile, []byte(lt.Key.Private+"\n"), 0o600); err != nil {
		return err
	}
	steps := [][]string{
		{"wg", "set", lt.Iface, "private-key", keyFile,
			"peer", lt.g.RouterKey.Public,
			"endpoint", fmt.Sprintf("%s:%d", RouterWANIP, ListenPort),
			"allowed-ips", TunnelPrefix + "," + LANPrefix,
			"persistent-keepalive", "25"},
		{"ip", "addr", "add", lt.TunnelIP + "/32", "dev", lt.Iface},
		{"ip", "link", "set", lt.Iface, "mtu", "1420", "up"},
		{"ip", "route", "replace", TunnelPrefix, "dev", lt.Iface},
		{"ip", "route", "replace", LANPrefix, "dev", lt.Iface},
	}
	for _, argv := range steps {
		if _, err := lt.Host.Run(ctx, argv...); err != nil {
			return err
		}
	}
	return nil
}

// Status runs `wgd status --json` against a control socket, inside host
// h, into st (an *api.Status: the lab does not import the product's
// packages, whose own tests use it).
func (g *Gateway) Status(ctx context.Context, h *Host, socket string, st any) error {
	out, err := g.WGDCmd(ctx, h, "status", "--json", "--socket", socket)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), st); err != nil {
		return fmt.Errorf("wgd status --json: %w; output:\n%s", err, out)
	}
	return nil
}

// Ping sends count echo requests from h to dst (one per 0.2 s, 2 s wait for
// each); it fails unless every reply arrives.
func Ping(ctx context.Context, h *Host, dst string, count int) (string, error) {
	out, err := h.Run(ctx, "ping", "-n", "-c", strconv.Itoa(count), "-i", "0.2", "-W", "2", dst)
	if err != nil {
		return out, err
	}
	want := fmt.Sprintf("%d packets transmitted, %d received", count, count)
	if !strings.Contains(out, want) {
		return out, fmt.Errorf("ping %s from %s: want %q in:\n%s", dst, h.Name, want, out)
	}
	return out, nil
}

// Fetch connects from h to the LAN service at addr and returns its reply.
func Fetch(ctx context.Context, h *Host, addr string) (string, error) {
	out, err := h.Run(ctx, "socat", "-T", "10", "-u",
		fmt.Sprintf("TCP:%s:%d,connect-timeout=5", addr, ServicePort), "STDOUT")
	if err != nil {
		return out, err
	}
	if got := strings.TrimSpace(out); got != ServiceReply {
		return out, fmt.Errorf("service at %s:%d from %s replied %q, want %q", addr, ServicePort, h.Name, got, ServiceReply)
	}
	return ServiceReply, nil
}

// WaitReachable polls until h can ping dst (a tunnel's first handshake takes a
// moment), bounded by a generous deadline.
func WaitReachable(ctx context.Context, h *Host, dst string) error {
	return Poll(ctx, 30*time.Second, func(ctx context.Context) error {
		_, err := h.Run(ctx, "ping", "-n", "-c", "1", "-W", "1", dst)
		return err
	})
}

// LinkIndex returns the ifindex of device dev in h.
func LinkIndex(ctx context.Context, h *Host, dev string) (int, error) {
	out, err := h.IP(ctx, "-j", "link", "show", "dev", dev)
	if err != nil {
		return 0, err
	}
	var links []struct {
		Index int `json:"ifindex"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		return 0, fmt.Errorf("ip -j link show dev %s: unexpected output %q (%v)", dev, out, err)
	}
	return links[0].Index, nil
}

// UAPISocket is where wireguard-go style daemons put an interface's UAPI
// socket. The path is shared by all namespaces, hence run-unique names.
func UAPISocket(iface string) string {
	return filepath.Join("/var/run/wireguard", iface+".sock")
}

// errStop ends a Poll early: waiting longer cannot help.
type errStop struct{ error }

// GiveUp wraps err so that Poll returns it at once.
func GiveUp(err error) error { return errStop{err} }

// Poll calls f until it succeeds, returns an error wrapped by GiveUp, ctx ends
// or the timeout passes; it then returns f's last error. f gets a context
// bounded by the same timeout for the commands it runs.
func Poll(ctx context.Context, timeout time.Duration, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		var stop errStop
		if errors.As(err, &stop) {
			return stop.error
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %s: %w", timeout, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func writeAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
