package dataplane

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"wgd/api"
	"wgd/internal/lab"
)

// Impl is a WireGuard implementation that can run one end of a Pair.
type Impl struct {
	Name string
	// Bin is the binary: wgd (configured through UCI files and its control
	// socket) or a wireguard-go (configured with wg(8) and ip(8)).
	Bin string
	// WGD tells which of the two Bin is.
	WGD bool
	// Env is added to the process's environment (e.g. GOMEMLIMIT).
	Env []string
	// Wrap, when set, runs Bin through it: qemu-user and its options.
	Wrap []string
	// CLI is the wgd binary that queries a wgd end's status (default Bin):
	// a native one talks to an emulated daemon.
	CLI string
}

// argv is the command line that runs the implementation with args.
func (i Impl) argv(args ...string) []string {
	return append(append(append([]string{}, i.Wrap...), i.Bin), args...)
}

// The pair's addresses: documentation and benchmark ranges, only ever
// inside the lab's namespaces.
const (
	AWANIP    = "192.0.2.1"
	BWANIP    = "192.0.2.2"
	ATunIP    = "10.77.0.1"
	BTunIP    = "10.77.0.2"
	XIP       = "198.18.0.2" // the attacker host's address
	AXIP      = "198.18.0.1" // A's address on the attacker's link
	Port      = 51820
	TunnelMTU = 1420
)

// Pair is two hosts, A and B, joined by a veth link and a WireGuard tunnel
// between them; optionally X, a third host on its own link to A that
// floods it. A is the end under study (the router).
type Pair struct {
	Lab  *lab.Lab
	A, B *End
	X    *lab.Host // nil until AddAttacker
}

// End is one end of a Pair.
type End struct {
	Impl   Impl
	Host   *lab.Host
	Iface  string
	TunIP  string
	WANIP  string
	Key    lab.Key
	Proc   *lab.Proc
	dir    string
	socket string // wgd control socket
	// cli is a copy of a wgd Bin for the status polls: the kernel does
	// not page out pages another process maps, so polling with the
	// daemon's own file would keep its startup pages mapped, as nothing
	// does on a router (cmd/wgd/pageout_linux.go).
	cli string
}

// NewPair makes the hosts and the link and generates both key pairs with
// wg(8); the ends start with Start.
func NewPair(ctx context.Context, l *lab.Lab, a, b Impl) (*Pair, error) {
	p := &Pair{Lab: l}
	for _, e := range []struct {
		name     string
		impl     Impl
		tun, wan string
		dst      **End
	}{{"a", a, ATunIP, AWANIP, &p.A}, {"b", b, BTunIP, BWANIP, &p.B}} {
		h, err := l.Host(ctx, e.name)
		if err != nil {
			return nil, err
		}
		end := &End{Impl: e.impl, Host: h, Iface: "wb" + e.name + l.ID, TunIP: e.tun, WANIP: e.wan,
			dir: filepath.Join(l.Dir, e.name), socket: filepath.Join(l.Dir, e.name+".sock")}
		l.RemoveOnClose(lab.UAPISocket(end.Iface))
		if end.Key, err = genKey(ctx); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(end.dir, 0o700); err != nil {
			return nil, err
		}
		if end.Impl.Bin, err = ownCopy(e.impl.Bin, end.dir); err != nil {
			return nil, err
		}
		if end.Impl.WGD {
			cliDir := filepath.Join(end.dir, "cli")
			if err := os.Mkdir(cliDir, 0o700); err != nil {
				return nil, err
			}
			cli := e.impl.CLI
			if cli == "" {
				cli = e.impl.Bin
			}
			if end.cli, err = ownCopy(cli, cliDir); err != nil {
				return nil, err
			}
		}
		*e.dst = end
	}
	if _, err := l.Connect(ctx, p.A.Host, p.B.Host, AWANIP+"/24", BWANIP+"/24"); err != nil {
		return nil, err
	}
	return p, nil
}

// ownCopy copies bin into dir, so each end maps its own file as it would
// on a router: the kernel does not page out pages that another process
// maps too (cmd/wgd/pageout_linux.go), nor dirty ones: the copy is synced
// as a router's flash would be.
func ownCopy(bin, dir string) (string, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", err
	}
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst := filepath.Join(dir, filepath.Base(path))
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, src)
	if err == nil {
		err = f.Sync() // dirty pages are not paged out
	}
	return dst, errors.Join(err, f.Close())
}

// AddAttacker adds host X with its own link to A.
func (p *Pair) AddAttacker(ctx context.Context) error {
	x, err := p.Lab.Host(ctx, "x")
	if err != nil {
		return err
	}
	if _, err := p.Lab.Connect(ctx, p.A.Host, x, AXIP+"/24", XIP+"/24"); err != nil {
		return err
	}
	p.X = x
	return nil
}

// Start starts both ends, each with the other as its peer, and waits until
// B reaches A through the tunnel (the first handshake).
func (p *Pair) Start(ctx context.Context) error {
	for _, e := range []struct{ self, peer *End }{{p.A, p.B}, {p.B, p.A}} {
		if err := e.self.start(ctx, e.peer, nil); err != nil {
			return err
		}
	}
	return lab.WaitReachable(ctx, p.B.Host, p.A.TunIP)
}

// StartA starts A alone with peer B and extra peers that never show up
// (public keys without a private key anywhere, one /32 each).
func (p *Pair) StartA(ctx context.Context, extraPeers int) error {
	return p.A.start(ctx, p.B, extraKeys(extraPeers))
}

func (e *End) start(ctx context.Context, peer *End, extra []string) error {
	if e.Impl.WGD {
		return e.startWGD(ctx, peer, extra)
	}
	return e.startWireGuardGo(ctx, peer, extra)
}

func (e *End) startWGD(ctx context.Context, peer *End, extra []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "config interface '%s'\n\toption proto 'wgd'\n\toption private_key '%s'\n"+
		"\toption listen_port '%d'\n\toption mtu '%d'\n\tlist addresses '%s/24'\n",
		e.Iface, e.Key.Private, Port, TunnelMTU, e.TunIP)
	fmt.Fprintf(&b, "\nconfig wireguard_%s\n\toption description 'peer'\n\toption public_key '%s'\n"+
		"\toption endpoint_host '%s'\n\toption endpoint_port '%d'\n\tlist allowed_ips '%s/32'\n",
		e.Iface, peer.Key.Public, peer.WANIP, Port, peer.TunIP)
	for i, k := range extra {
		fmt.Fprintf(&b, "\nconfig wireguard_%s\n\toption public_key '%s'\n\tlist allowed_ips '%s/32'\n",
			e.Iface, k, extraIP(i))
	}
	if err := os.WriteFile(filepath.Join(e.dir, "network"), []byte(b.String()), 0o600); err != nil {
		return err
	}
	// Nothing here filters input: a firewall backend would only add the
	// nft commands' time to what is measured.
	if err := os.WriteFile(filepath.Join(e.dir, "wgd"), []byte("config wgd 'main'\n\toption log_level 'info'\n\toption firewall 'none'\n"), 0o600); err != nil {
		return err
	}
	proc, err := e.Host.StartEnv(e.Impl.Env, e.Impl.argv("run", "--config-dir", e.dir, "--socket", e.socket)...)
	if err != nil {
		return err
	}
	e.Proc = proc
	return lab.Poll(ctx, 60*time.Second, func(ctx context.Context) error {
		if proc.Exited() {
			return lab.GiveUp(fmt.Errorf("%s: wgd exited (%s): %s", e.Host, proc.ExitStatus(), proc.Output()))
		}
		out, err := exec.CommandContext(ctx, e.cli, "status", "--json", "--socket", e.socket).Output()
		if err != nil {
			return err
		}
		var st api.Status
		if err := json.Unmarshal(out, &st); err != nil {
			return err
		}
		if i := st.Interface(e.Iface); i == nil || len(i.Peers) != 1+len(extra) {
			return fmt.Errorf("%s: interface %s not up with %d peers yet", e.Host, e.Iface, 1+len(extra))
		}
		return nil
	})
}

func (e *End) startWireGuardGo(ctx context.Context, peer *End, extra []string) error {
	proc, err := e.Host.StartEnv(e.Impl.Env, e.Impl.argv("-f", e.Iface)...)
	if err != nil {
		return err
	}
	e.Proc = proc
	if err := lab.Poll(ctx, 20*time.Second, func(ctx context.Context) error {
		if proc.Exited() {
			return lab.GiveUp(fmt.Errorf("%s: %s exited (%s): %s", e.Host, e.Impl.Bin, proc.ExitStatus(), proc.Output()))
		}
		_, err := os.Stat(lab.UAPISocket(e.Iface))
		return err
	}); err != nil {
		return err
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "[Interface]\nPrivateKey = %s\nListenPort = %d\n\n[Peer]\nPublicKey = %s\nEndpoint = %s:%d\nAllowedIPs = %s/32\n",
		e.Key.Private, Port, peer.Key.Public, peer.WANIP, Port, peer.TunIP)
	for i, k := range extra {
		fmt.Fprintf(&conf, "\n[Peer]\nPublicKey = %s\nAllowedIPs = %s/32\n", k, extraIP(i))
	}
	confFile := filepath.Join(e.dir, "wg.conf")
	if err := os.WriteFile(confFile, []byte(conf.String()), 0o600); err != nil {
		return err
	}
	for _, argv := range [][]string{
		{"wg", "setconf", e.Iface, confFile},
		{"ip", "addr", "add", e.TunIP + "/24", "dev", e.Iface},
		{"ip", "link", "set", e.Iface, "mtu", strconv.Itoa(TunnelMTU), "up"},
	} {
		if _, err := e.Host.Run(ctx, argv...); err != nil {
			return err
		}
	}
	return nil
}

// Rehandshake makes B forget its session with A and starts a new handshake
// (wg(8) removes and re-adds A as B's peer; B must be a wireguard-go end),
// then waits up to wait for a packet to get through. It reports whether it
// did.
func (p *Pair) Rehandshake(ctx context.Context, wait time.Duration) (bool, error) {
	b := p.B
	if b.Impl.WGD {
		return false, errors.New("Rehandshake needs a wireguard-go end B")
	}
	if _, err := b.Host.Run(ctx, "wg", "set", b.Iface, "peer", p.A.Key.Public, "remove"); err != nil {
		return false, err
	}
	if _, err := b.Host.Run(ctx, "wg", "set", b.Iface, "peer", p.A.Key.Public,
		"endpoint", fmt.Sprintf("%s:%d", p.A.WANIP, Port), "allowed-ips", p.A.TunIP+"/32"); err != nil {
		return false, err
	}
	err := lab.Poll(ctx, wait, func(ctx context.Context) error {
		_, err := b.Host.Run(ctx, "ping", "-n", "-c", "1", "-W", "1", p.A.TunIP)
		return err
	})
	return err == nil, nil
}

// Iperf measures TCP throughput from B to A through the tunnel with
// `streams` parallel streams for secs seconds, in bits per second.
func (p *Pair) Iperf(ctx context.Context, streams, secs int) (float64, error) {
	const port = "5201"
	srv, err := p.A.Host.Start("iperf3", "-s", "-B", p.A.TunIP, "-p", port)
	if err != nil {
		return 0, err
	}
	defer srv.Stop(2 * time.Second)
	var bps float64
	err = lab.Poll(ctx, 20*time.Second, func(ctx context.Context) error {
		if srv.Exited() {
			return lab.GiveUp(fmt.Errorf("iperf3 server exited: %s", srv.Output()))
		}
		out, err := p.B.Host.Run(ctx, "iperf3", "-c", p.A.TunIP, "-p", port,
			"-P", strconv.Itoa(streams), "-t", strconv.Itoa(secs), "-J")
		if err != nil {
			return err // e.g. the server is not listening yet
		}
		var res struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			return lab.GiveUp(fmt.Errorf("iperf3 -J: %w: %.200s", err, out))
		}
		if bps = res.End.SumReceived.BitsPerSecond; bps <= 0 {
			return fmt.Errorf("iperf3 measured nothing: %.300s", out)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("iperf3: %w", err)
	}
	return bps, nil
}

// FloodA floods A's listen port from X (see AddAttacker and Flood).
func (p *Pair) FloodA(ctx context.Context, kind FloodKind, max int, d time.Duration) (int, error) {
	if p.X == nil {
		return 0, errors.New("no attacker host: call AddAttacker")
	}
	return Flood(ctx, p.X.NS, netip.AddrPortFrom(netip.MustParseAddr(AXIP), Port), kind, max, d)
}

func genKey(ctx context.Context) (lab.Key, error) {
	priv, err := exec.CommandContext(ctx, "wg", "genkey").Output()
	if err != nil {
		return lab.Key{}, fmt.Errorf("wg genkey: %w", err)
	}
	k := lab.Key{Private: strings.TrimSpace(string(priv))}
	cmd := exec.CommandContext(ctx, "wg", "pubkey")
	cmd.Stdin = strings.NewReader(k.Private + "\n")
	pub, err := cmd.Output()
	if err != nil {
		return lab.Key{}, fmt.Errorf("wg pubkey: %w", err)
	}
	k.Public = strings.TrimSpace(string(pub))
	return k, nil
}

// extraKeys are n distinct public keys nobody holds the private key of
// (32 bytes counting up, in base64).
func extraKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		var b [32]byte
		b[0], b[1], b[2] = byte(i), byte(i>>8), 0x5a
		keys[i] = base64.StdEncoding.EncodeToString(b[:])
	}
	return keys
}

// extraIP is the allowed address of extra peer i: 10.78.x.y.
func extraIP(i int) string {
	return fmt.Sprintf("10.78.%d.%d", i/250, i%250+1)
}
