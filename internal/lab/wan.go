package lab

// WAN changes for the hotplug tests and benchmark: a DNS server whose
// answers change, a router that is renumbered, a laptop behind a NAT whose
// public address changes, a private D-Bus, and wgd's hotplug.d entry.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Addresses of the NAT scenario: the NAT's public side sits on inet in
// the shared address space, its private side is a home network.
const (
	NATInetIP    = "100.64.0.1" // inet's side
	NATPublicIP  = "100.64.0.2" // the NAT's public address, until Renumber
	NATPrivateIP = "192.168.77.1"
	NATLaptopIP  = "192.168.77.2"

	// VPNName is the router's DNS name in the lab's DNS server.
	VPNName = "vpn.wgdlab.test"
)

// DNS is a dnsmasq in a host, answering names from a hosts file that Set
// rewrites. Answers carry TTL 0, so nobody caches them.
type DNS struct {
	Host  *Host
	Addr  string // where it listens, port 53
	file  string
	names map[string]string
	proc  *Proc
}

// StartDNS starts dnsmasq in h, listening on addr (an address of h).
func StartDNS(ctx context.Context, h *Host, addr string) (*DNS, error) {
	d := &DNS{Host: h, Addr: addr, file: filepath.Join(h.lab.Dir, h.Name+"-dns.hosts"), names: map[string]string{}}
	if err := writeAtomic(d.file, ""); err != nil {
		return nil, err
	}
	p, err := h.Start("dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--addn-hosts="+d.file, "--listen-address="+addr, "--bind-interfaces", "--port=53",
		"--user=root", "--pid-file=", "--local-ttl=0", "--log-queries", "--log-facility=-")
	if err != nil {
		return nil, err
	}
	d.proc = p
	err = Poll(ctx, 10*time.Second, func(context.Context) error {
		if p.Exited() {
			return GiveUp(fmt.Errorf("dnsmasq exited (%s): %s", p.ExitStatus(), tail(p.Output(), 10)))
		}
		if !strings.Contains(p.Output(), "started, version") {
			return fmt.Errorf("dnsmasq not started yet")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dnsmasq in %s: %w", h.Name, err)
	}
	return d, nil
}

// Set makes name resolve to addr (and only to it) and waits until the
// server answers so, asked from client.
func (d *DNS) Set(ctx context.Context, client *Host, name, addr string) error {
	d.names[name] = addr
	var b strings.Builder
	for n, a := range d.names {
		fmt.Fprintf(&b, "%s %s\n", a, n)
	}
	if err := writeAtomic(d.file, b.String()); err != nil {
		return err
	}
	if err := d.proc.Signal(syscall.SIGHUP); err != nil { // rereads the hosts file
		return err
	}
	return Poll(ctx, 10*time.Second, func(ctx context.Context) error {
		out, err := client.Run(ctx, "getent", "ahostsv4", name)
		if err != nil {
			return err
		}
		if f := strings.Fields(out); len(f) == 0 || f[0] != addr {
			return fmt.Errorf("%s resolves to %q in %s, want %s", name, out, client.Name, addr)
		}
		return nil
	})
}

// UseDNS makes every process started in h (through `ip netns exec`) use
// nameserver: ip(8) mounts /etc/netns/<namespace>/resolv.conf over
// /etc/resolv.conf. The files are removed when the lab closes.
func UseDNS(h *Host, nameserver string) error {
	dir := filepath.Join("/etc/netns", h.NS)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	h.lab.RemoveOnClose(filepath.Join(dir, "resolv.conf"))
	h.lab.RemoveOnClose(dir) // after the file: only an empty directory goes
	return os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver "+nameserver+"\noptions timeout:1 attempts:2\n"), 0o644)
}

// DeviceWith names the device of h that holds address addr.
func DeviceWith(ctx context.Context, h *Host, addr string) (string, error) {
	out, err := h.IP(ctx, "-j", "addr", "show")
	if err != nil {
		return "", err
	}
	var links []struct {
		Name  string `json:"ifname"`
		Addrs []struct {
			Local string `json:"local"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return "", fmt.Errorf("ip -j addr show in %s: %w", h.Name, err)
	}
	for _, l := range links {
		for _, a := range l.Addrs {
			if a.Local == addr {
				return l.Name, nil
			}
		}
	}
	return "", fmt.Errorf("%s has no device with address %s", h.Name, addr)
}

// Renumber moves a host's address old (a /24) to new on the same device
// and puts its default route back through gateway: what a PPPoE re-dial
// or a new DHCP lease does to a WAN.
func Renumber(ctx context.Context, h *Host, old, new, gateway string) (dev string, err error) {
	if dev, err = DeviceWith(ctx, h, old); err != nil {
		return "", err
	}
	steps := [][]string{
		{"addr", "del", old + "/24", "dev", dev},
		{"addr", "add", new + "/24", "dev", dev},
		{"route", "replace", "default", "via", gateway, "dev", dev},
	}
	for _, s := range steps {
		if _, err := h.IP(ctx, s...); err != nil {
			return dev, err
		}
	}
	return dev, nil
}

// StartRouterWith is StartRouter with the router's /etc/config/wgd given.
func (g *Gateway) StartRouterWith(ctx context.Context, wgdConf string) error {
	if err := writeAtomic(filepath.Join(g.RouterDir, "network"), g.RouterNetworkConfig()); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(g.RouterDir, "wgd"), wgdConf); err != nil {
		return err
	}
	g.logf("router: wgd run --config-dir %s (own wgd file)", g.RouterDir)
	return g.RunRouter(ctx)
}

// LaptopOptions change a wgd laptop's configuration from NetworkConfig's.
type LaptopOptions struct {
	EndpointHost string   // instead of the router's address, e.g. VPNName
	Keepalive    *int     // persistent_keepalive instead of 25
	WGD          string   // /etc/config/wgd
	Env          []string // extra environment of `wgd run`
}

// StartWith starts a wgd laptop like Start, with opts applied.
func (lt *Laptop) StartWith(ctx context.Context, opts LaptopOptions) error {
	if lt.Kind != ClientWGD {
		return fmt.Errorf("%s: StartWith needs a wgd laptop", lt.Name)
	}
	network := lt.NetworkConfig()
	replace := func(old, new string) error {
		if !strings.Contains(network, old) {
			return fmt.Errorf("laptop config lacks %q", old)
		}
		network = strings.Replace(network, old, new, 1)
		return nil
	}
	if opts.EndpointHost != "" {
		if err := replace("option endpoint_host '"+RouterWANIP+"'", "option endpoint_host '"+opts.EndpointHost+"'"); err != nil {
			return err
		}
	}
	if opts.Keepalive != nil {
		if err := replace("option persistent_keepalive '25'", "option persistent_keepalive '"+strconv.Itoa(*opts.Keepalive)+"'"); err != nil {
			return err
		}
	}
	if err := writeAtomic(filepath.Join(lt.Dir, "network"), network); err != nil {
		return err
	}
	conf := opts.WGD
	if conf == "" {
		conf = wgdConfig
	}
	if err := writeAtomic(filepath.Join(lt.Dir, "wgd"), conf); err != nil {
		return err
	}
	lt.g.logf("%s: wgd run --config-dir %s (interface %s, endpoint %s)", lt.Name, lt.Dir, lt.Iface, opts.EndpointHost)
	p, err := lt.Host.StartEnv(opts.Env, lt.g.WGD, "run", "--config-dir", lt.Dir, "--socket", lt.Socket)
	if err != nil {
		return err
	}
	lt.Proc = p
	return lt.g.waitDaemon(ctx, p, lt.Host, lt.Socket, lt.Iface)
}

// NAT is a host that masquerades a laptop's home network behind one
// public address.
type NAT struct {
	Host      *Host
	PublicIP  string
	PublicDev string
}

// AddNATLaptop makes a wgd laptop behind a NAT host on inet and adds it as
// a router peer (write the router's config before it counts).
func (g *Gateway) AddNATLaptop(ctx context.Context, name string) (*Laptop, *NAT, error) {
	n := len(g.Laptops) + 1
	lt := &Laptop{
		Name:     name,
		Kind:     ClientWGD,
		Iface:    fmt.Sprintf("wgl%d%s", n, g.Lab.ID),
		TunnelIP: fmt.Sprintf("10.99.0.%d", n+1),
		WANIP:    NATLaptopIP,
		Dir:      filepath.Join(g.Lab.Dir, name),
		Socket:   filepath.Join(g.Lab.Dir, name+".sock"),
		g:        g,
	}
	g.Lab.RemoveOnClose(UAPISocket(lt.Iface))
	g.logf("creating nat (public %s) and %s behind it (%s)", NATPublicIP, name, NATLaptopIP)
	nh, err := g.Lab.Host(ctx, "nat")
	if err != nil {
		return nil, nil, err
	}
	nat := &NAT{Host: nh, PublicIP: NATPublicIP}
	if lt.Host, err = g.Lab.Host(ctx, name); err != nil {
		return nil, nil, err
	}
	if _, err := g.Lab.Connect(ctx, g.Inet, nh, NATInetIP+"/24", NATPublicIP+"/24"); err != nil {
		return nil, nil, err
	}
	if _, err := g.Lab.Connect(ctx, nh, lt.Host, NATPrivateIP+"/24", NATLaptopIP+"/24"); err != nil {
		return nil, nil, err
	}
	if nat.PublicDev, err = DeviceWith(ctx, nh, NATPublicIP); err != nil {
		return nil, nil, err
	}
	if err := nh.Route(ctx, "default", NATInetIP); err != nil {
		return nil, nil, err
	}
	if err := lt.Host.Route(ctx, "default", NATPrivateIP); err != nil {
		return nil, nil, err
	}
	if err := nh.Forward(ctx); err != nil {
		return nil, nil, err
	}
	rules := fmt.Sprintf("table ip wgdlab { chain post { type nat hook postrouting priority srcnat; oifname %q masquerade; }; }", nat.PublicDev)
	if _, err := nh.Run(ctx, "nft", rules); err != nil {
		return nil, nil, err
	}
	if lt.Key, err = g.GenKey(ctx); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(lt.Dir, 0o700); err != nil {
		return nil, nil, err
	}
	g.Laptops = append(g.Laptops, lt)
	g.Peers = append(g.Peers, RouterPeer{Description: name, PublicKey: lt.Key.Public, AllowedIPs: []string{lt.TunnelIP + "/32"}})
	return lt, nat, nil
}

// Renumber gives the NAT a new public address and forgets every mapping
// (a new lease from the ISP, a carrier-grade NAT that lost its state).
func (n *NAT) Renumber(ctx context.Context, newIP string) error {
	if _, err := Renumber(ctx, n.Host, n.PublicIP, newIP, NATInetIP); err != nil {
		return err
	}
	n.PublicIP = newIP
	_, err := n.Host.Run(ctx, "conntrack", "-F")
	return err
}

// Hotplug runs the shipped hotplug.d script (script, under busybox ash, as
// netifd's hotplug-call does: sourced in a subshell) in h, with the wgd
// binary and control socket given and env ("ACTION=ifup" ...).
func Hotplug(ctx context.Context, h *Host, script, wgd, socket string, env ...string) (string, error) {
	args := []string{"env", "WGD_BIN=" + wgd, "WGD_SOCKET=" + socket}
	args = append(args, env...)
	args = append(args, "busybox", "ash", "-c", `( . "$0" )`, script)
	return h.Run(ctx, args...)
}

// StartBus starts a dbus-daemon in h with a private bus on a socket in
// the lab directory where anyone may own any name (tests stand in for
// NetworkManager). It returns the bus address.
func (l *Lab) StartBus(ctx context.Context, h *Host) (string, error) {
	addr := "unix:path=" + filepath.Join(l.Dir, "bus")
	conf := filepath.Join(l.Dir, "bus.conf")
	if err := writeAtomic(conf, BusConfig(addr)); err != nil {
		return "", err
	}
	p, err := h.Start("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile")
	if err != nil {
		return "", err
	}
	err = Poll(ctx, 10*time.Second, func(context.Context) error {
		if p.Exited() {
			return GiveUp(fmt.Errorf("dbus-daemon exited (%s): %s", p.ExitStatus(), tail(p.Output(), 10)))
		}
		_, err := os.Stat(strings.TrimPrefix(addr, "unix:path="))
		return err
	})
	return addr, err
}

// BusConfig is a dbus-daemon configuration for a private bus at addr
// where anyone may own any name, as a test needs to stand in for
// NetworkManager and systemd-networkd.
func BusConfig(addr string) string {
	return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>` + addr + `</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow send_type="signal"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
`
}

// Pinger pings dst from h every 50 ms (bounded by a deadline) and tells
// when the first reply after a moment arrived.
type Pinger struct {
	proc *Proc
}

// StartPinger starts the pings; they stop by themselves after max.
func StartPinger(h *Host, dst string, max time.Duration) (*Pinger, error) {
	p, err := h.Start("ping", "-D", "-n", "-i", "0.05", "-W", "1", "-w", strconv.Itoa(int(max.Seconds())+1), dst)
	if err != nil {
		return nil, err
	}
	return &Pinger{proc: p}, nil
}

var pingReply = regexp.MustCompile(`^\[(\d+\.\d+)\] \d+ bytes from `)

// FirstReplyAfter waits for the first reply stamped at or after since and
// returns its time.
func (p *Pinger) FirstReplyAfter(ctx context.Context, since time.Time, timeout time.Duration) (time.Time, error) {
	var at time.Time
	err := Poll(ctx, timeout, func(context.Context) error {
		for _, line := range strings.Split(p.proc.Output(), "\n") {
			m := pingReply.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			f, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				continue
			}
			t := time.Unix(0, int64(f*1e9))
			if !t.Before(since) {
				at = t
				return nil
			}
		}
		if p.proc.Exited() {
			return GiveUp(fmt.Errorf("ping ended without a reply after %s", since.Format(time.StampMilli)))
		}
		return fmt.Errorf("no reply since %s", since.Format(time.StampMilli))
	})
	return at, err
}

// Stop ends the pings.
func (p *Pinger) Stop() { p.proc.Stop(time.Second) }

// StatefulFirewall makes h drop UDP from port 51820 of network peers that
// does not answer h's own packets, as a laptop's firewall does: a peer
// that moved can no longer reach h first.
func StatefulFirewall(ctx context.Context, h *Host, peers string) error {
	_, err := h.Run(ctx, "nft", "table inet wgdlabfw { chain in { type filter hook input priority 0; "+
		"ip saddr "+peers+" udp sport 51820 ct state new drop; }; }")
	return err
}
