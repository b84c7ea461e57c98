package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"wgd/config"
	"wgd/peers"
	"wgd/uci"
)

const peerUsage = `Usage:
  wgd peer add NAME [--interface IFACE] [--split | --full-tunnel] [--allowed-ips LIST]
                    [--dns LIST|none] [--endpoint HOST[:PORT]] [--keepalive SECONDS]
                    [--keep-key] [--expires WHEN] [--conf FILE] [--qr-png FILE] [--no-qr] [--client-json]
  wgd peer list [--interface IFACE] [--json]
  wgd peer show NAME [--json | --qr | --client-json] [--conf FILE] [--qr-png FILE]
  wgd peer remove NAME
  wgd peer disable NAME | wgd peer enable NAME

Every command also takes --config-dir DIR (default /etc/config), --socket PATH
and --uci-savedir LIST (where uncommitted uci/LuCI changes live, default
` + "/tmp/.uci:/var/run/rpcd/uci-*" + `; '' skips the check).

add writes a peer section to DIR/network, reloads the running wgd and prints
the client's configuration and its QR code. The client's private key is kept
in the section only with --keep-key (then 'peer show NAME --qr' shows it again).
--expires makes a guest: the peer stops running after a duration (30m, 48h,
7d) or at a time (RFC 3339, or YYYY-MM-DD for 00:00 UTC that day).

list --json and show --json print the peers as JSON, without any key but the
public one; the "live" fields come from the running wgd and are left out when
it does not run the peer. --client-json prints the client's configuration
(with its private key) and its QR code as SVG in one JSON object instead.
`

// peerTimeout bounds a peer command, waiting for the file lock included.
const peerTimeout = 60 * time.Second

// peerFlags are the flags every peer command takes.
type peerFlags struct {
	fs        *flag.FlagSet
	socket    *string
	configDir *string
	saveDirs  *string
	iface     *string
}

func newPeerFlags(name string) *peerFlags {
	fs, socket := flags("peer " + name)
	return &peerFlags{
		fs:        fs,
		socket:    socket,
		configDir: fs.String("config-dir", "/etc/config", "directory of the UCI files network and wgd"),
		saveDirs:  fs.String("uci-savedir", strings.Join(uci.DefaultSaveDirs, string(filepath.ListSeparator)), "directories of uncommitted UCI changes"),
		iface:     fs.String("interface", "", "the wgd interface (default: the only one)"),
	}
}

// parse reads flags anywhere among the arguments (`peer add phone
// --split` as well as `peer add --split phone`) and returns the others.
func (p *peerFlags) parse(args []string) ([]string, error) {
	var rest []string
	for {
		if err := p.fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = p.fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest, args = append(rest, args[0]), args[1:]
	}
}

// name reads the one NAME argument.
func (p *peerFlags) name(args []string, cmd string) (string, error) {
	rest, err := p.parse(args)
	if err != nil {
		return "", err
	}
	if len(rest) != 1 {
		return "", fmt.Errorf("%w: wgd peer %s NAME", errUsage, cmd)
	}
	return rest[0], nil
}

// manager is what the flags name: the files and the running wgd.
func (p *peerFlags) manager() *peers.Manager {
	var dirs []string
	for _, d := range filepath.SplitList(*p.saveDirs) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return &peers.Manager{Dir: *p.configDir, SaveDirs: dirs, Daemon: peers.Socket(*p.socket)}
}

func cmdPeer(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, peerUsage)
		return fmt.Errorf("%w: wgd peer add|list|show|remove|disable|enable", errUsage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd, args := args[0], args[1:]
	switch cmd {
	case "add":
		return peerAdd(ctx, args, stdout, stderr)
	case "list", "ls":
		return peerList(ctx, args, stdout, stderr)
	case "show":
		return peerShow(ctx, args, stdout, stderr)
	case "remove", "rm", "del":
		return peerChange(ctx, "remove", args, stderr)
	case "disable", "enable":
		return peerChange(ctx, cmd, args, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, peerUsage)
		return nil
	}
	fmt.Fprint(stderr, peerUsage)
	return fmt.Errorf("%w: unknown peer command %q", errUsage, cmd)
}

func peerAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newPeerFlags("add")
	full := f.fs.Bool("full-tunnel", false, "send all of the client's traffic through the router")
	split := f.fs.Bool("split", false, "send only the tunnel's and the LAN's networks through the router (the default)")
	allowed := f.fs.String("allowed-ips", "", "what the client sends into the tunnel (comma-separated prefixes)")
	dns := f.fs.String("dns", "", "the client's DNS servers (comma-separated), or none")
	endpoint := f.fs.String("endpoint", "", "where the client connects: HOST[:PORT] (default: option public_endpoint, else the WAN address)")
	keepalive := f.fs.Int("keepalive", peers.DefaultKeepalive, "the client's persistent keepalive in seconds (0: off)")
	keepKey := f.fs.Bool("keep-key", false, "keep the client's private key in the peer section, for `peer show --qr`")
	expires := f.fs.String("expires", "", "the peer stops running after this duration (30m, 48h, 7d) or at this time (RFC 3339 or YYYY-MM-DD)")
	var told bytes.Buffer // files are told once the peer is written
	out := outputFlags(f.fs, &told)
	name, err := f.name(args, "add")
	if err != nil {
		return err
	}
	if *full && *split {
		return fmt.Errorf("%w: --full-tunnel and --split exclude each other", errUsage)
	}
	if *keepalive < 0 || *keepalive > 65535 {
		return fmt.Errorf("%w: --keepalive %d: want 0 to 65535 seconds", errUsage, *keepalive)
	}
	req := peers.AddRequest{Name: name, Interface: *f.iface, FullTunnel: *full, Endpoint: *endpoint, Keepalive: *keepalive, KeepKey: *keepKey}
	if *expires != "" {
		if req.Expires, err = config.ParseExpiryFrom(*expires, time.Now()); err != nil {
			return fmt.Errorf("%w: --expires %v", errUsage, err)
		}
	}
	if *allowed != "" {
		if req.AllowedIPs, err = peers.ParseAllowedIPs(*allowed); err != nil {
			return fmt.Errorf("%w: --allowed-ips: %v", errUsage, err)
		}
	}
	if *dns != "" {
		if req.DNS, err = peers.ParseDNS(*dns); err != nil {
			return fmt.Errorf("%w: --dns: %v", errUsage, err)
		}
	}

	m := f.manager()
	var written []string
	added, applied, err := m.Add(ctx, req, func(a *peers.Added) error {
		// The files first: when one cannot be written, nothing is.
		var err error
		written, err = out.writeFiles(a.Client.Config())
		return err
	})
	if added == nil {
		for _, path := range written {
			os.Remove(path)
		}
		return err
	}
	if added.Warning != "" {
		fmt.Fprintf(stderr, "warning: %s\n", added.Warning)
	}
	fmt.Fprintf(stderr, "peer %s added to %s with %s (%s)\n", name, added.Interface, joinPrefixes(added.Addresses), m.File())
	if !req.Expires.IsZero() {
		fmt.Fprintf(stderr, "the peer expires %s (%s)\n", req.Expires.Format(time.RFC3339), left(req.Expires.Unix(), time.Now()))
	}
	stderr.Write(told.Bytes())
	if err := out.print(stdout, clientJSON{Interface: added.Interface, Name: name, Warning: added.Warning, Config: added.Client.Config()}); err != nil {
		return err
	}
	printApplied(stderr, *f.socket, applied)
	return err
}

// printApplied tells what the running wgd made of a change.
func printApplied(stderr io.Writer, socket string, a *peers.Applied) {
	if a == nil {
		return
	}
	if a.NotRunning {
		fmt.Fprintf(stderr, "wgd is not running (control socket %s): the change applies when it starts\n", socket)
		return
	}
	if a.RunningDir != "" {
		fmt.Fprintf(stderr, "warning: the running wgd reads %s, not %s: it does not see this change\n", a.RunningDir, a.Dir)
	}
	for _, p := range a.Problems {
		fmt.Fprintf(stderr, "config: %s\n", p)
	}
	for _, f := range a.Failed {
		fmt.Fprintf(stderr, "failed: %s\n", f)
	}
	switch a.Peer {
	case peers.NoPeer:
		fmt.Fprintln(stderr, "wgd reloaded")
	case peers.PeerLive:
		fmt.Fprintf(stderr, "wgd reloaded: the peer is live on %s\n", a.Interface)
	case peers.PeerOff:
		fmt.Fprintf(stderr, "wgd reloaded: the peer is off %s\n", a.Interface)
	case peers.InterfaceDown:
		fmt.Fprintf(stderr, "wgd reloaded, but %s is not running (see wgd status): the peer runs once it is up\n", a.Interface)
	case peers.PeerNotRun:
		fmt.Fprintf(stderr, "wgd reloaded, but %s does not run the peer (see wgd status)\n", a.Interface)
	}
}

// output are the flags that say where a client config goes.
type output struct {
	conf, png    *string
	noQR, asJSON *bool
	log          io.Writer // where written files are told
}

// clientJSON is what --client-json prints: the client's configuration
// (it holds the client's private key) and its QR code as an SVG picture,
// for programs such as LuCI's backend. Fields may be added, never
// renamed or removed.
type clientJSON struct {
	Interface string `json:"interface"`
	Name      string `json:"name"`
	Warning   string `json:"warning,omitempty"`
	Config    string `json:"config"`
	QRSVG     string `json:"qr_svg"`
}

func outputFlags(fs *flag.FlagSet, log io.Writer) *output {
	return &output{
		log:    log,
		conf:   fs.String("conf", "", "also write the client config to this file"),
		png:    fs.String("qr-png", "", "also write the QR code as a PNG picture to this file"),
		noQR:   fs.Bool("no-qr", false, "do not draw the QR code in the terminal"),
		asJSON: fs.Bool("client-json", false, "print the client config and its QR code (SVG) as JSON"),
	}
}

// writeFiles writes the config and its QR picture where asked, readable
// by their owner only: they hold the client's private key.
func (o *output) writeFiles(conf string) ([]string, error) {
	var written []string
	if *o.conf != "" {
		if err := peers.WritePrivate(*o.conf, []byte(conf)); err != nil {
			return written, err
		}
		written = append(written, *o.conf)
		fmt.Fprintf(o.log, "client config written to %s\n", *o.conf)
	}
	if *o.png != "" {
		data, err := peers.PNG(conf)
		if err == nil {
			err = peers.WritePrivate(*o.png, data)
		}
		if err != nil {
			return written, err
		}
		written = append(written, *o.png)
		fmt.Fprintf(o.log, "QR code of the client config written to %s\n", *o.png)
	}
	return written, nil
}

// print writes the client config and its QR code to w, for a terminal
// or (--client-json) as JSON.
func (o *output) print(w io.Writer, c clientJSON) error {
	conf := c.Config
	if *o.asJSON {
		svg, err := peers.SVG(conf)
		if err != nil {
			return err
		}
		c.QRSVG = svg
		return writeJSON(w, c)
	}
	if _, err := io.WriteString(w, conf); err != nil {
		return err
	}
	if *o.noQR {
		return nil
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	return peers.WriteTerminalQR(w, conf)
}

// peerChange removes, disables or enables a peer.
func peerChange(ctx context.Context, cmd string, args []string, stderr io.Writer) error {
	f := newPeerFlags(cmd)
	name, err := f.name(args, cmd)
	if err != nil {
		return err
	}
	m := f.manager()
	var c *peers.Changed
	if cmd == "remove" {
		c, err = m.Remove(ctx, *f.iface, name)
	} else {
		c, err = m.SetDisabled(ctx, *f.iface, name, cmd == "disable")
	}
	if c == nil || !c.Changed {
		if err == nil {
			fmt.Fprintf(stderr, "peer %s of %s is already %sd\n", name, c.Peer.Interface, cmd)
		}
		return err
	}
	past := map[string]string{"remove": "removed from", "disable": "disabled on", "enable": "enabled on"}[cmd]
	fmt.Fprintf(stderr, "peer %s %s %s (%s)\n", name, past, c.Peer.Interface, m.File())
	printApplied(stderr, *f.socket, c.Applied)
	if c.Forgotten {
		fmt.Fprintln(stderr, "its traffic totals are dropped")
	}
	return err
}

// peerLive is what the running wgd reports of its peers; nil when it is
// not running or did not answer (said on stderr: the file alone still
// answers).
func peerLive(ctx context.Context, m *peers.Manager, stderr io.Writer) peers.Live {
	live, err := m.Live(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "warning: wgd did not answer, showing the file only: %v\n", err)
	}
	return live
}

// peerJSON is one peer in `wgd peer list --json` and `wgd peer show
// --json`. Fields may be added, never renamed or removed. It holds no
// private or preshared key.
type peerJSON struct {
	Interface     string    `json:"interface"`
	Name          string    `json:"name"`    // what the peer commands take
	Section       string    `json:"section"` // network.<section> to uci
	Description   string    `json:"description,omitempty"`
	PublicKey     string    `json:"public_key"` // "" when the section's is not valid
	AllowedIPs    []string  `json:"allowed_ips"`
	Endpoint      string    `json:"endpoint,omitempty"` // configured host:port
	Enabled       bool      `json:"enabled"`
	State         string    `json:"state"` // disabled, expired, enabled, live, not running: peers.Peer.State
	ClientKeyKept bool      `json:"client_key_kept"`
	Live          *liveJSON `json:"live,omitempty"` // only while wgd runs the peer
	// A guest peer's end (UNIX seconds; absent: never) and whether it came.
	Expires int64 `json:"expires,omitempty"`
	Expired bool  `json:"expired"`
	// Traffic over all sessions, across restarts; only while wgd runs
	// the interface.
	Totals *totalsJSON `json:"totals,omitempty"`
}

type totalsJSON struct {
	RxBytes uint64 `json:"rx_bytes"`
	TxBytes uint64 `json:"tx_bytes"`
}

// liveJSON is what the running engine reports of a peer.
type liveJSON struct {
	LatestHandshake int64  `json:"latest_handshake"` // UNIX seconds, 0: never
	RxBytes         uint64 `json:"rx_bytes"`
	TxBytes         uint64 `json:"tx_bytes"`
	Endpoint        string `json:"endpoint,omitempty"` // in use now
}

// listJSON is the answer of list --json; daemon_running says whether
// the live fields could be had at all.
type listJSON struct {
	DaemonRunning bool       `json:"daemon_running"`
	Peers         []peerJSON `json:"peers"`
}

// showJSON is the answer of show --json.
type showJSON struct {
	DaemonRunning bool     `json:"daemon_running"`
	Peer          peerJSON `json:"peer"`
}

func toJSON(p peers.Peer, live peers.Live, now time.Time) peerJSON {
	out := peerJSON{
		Interface: p.Interface, Name: p.Name, Section: p.Section, Description: p.Description,
		Endpoint: p.Endpoint(), AllowedIPs: []string{},
		Enabled: !p.Disabled, State: p.State(live, now), ClientKeyKept: p.KeyKept,
	}
	if !p.PublicKey.IsZero() {
		out.PublicKey = p.PublicKey.String()
	}
	for _, a := range p.AllowedIPs {
		out.AllowedIPs = append(out.AllowedIPs, a.String())
	}
	if !p.Expires.IsZero() {
		out.Expires, out.Expired = p.Expires.Unix(), p.Expired(now)
	}
	s, ok := live.Of(p)
	if ok && !p.Disabled && !s.Expired {
		out.Live = &liveJSON{LatestHandshake: s.LatestHandshake, RxBytes: s.RxBytes, TxBytes: s.TxBytes, Endpoint: s.Endpoint}
	}
	if ok {
		out.Totals = &totalsJSON{RxBytes: s.TotalRxBytes, TxBytes: s.TotalTxBytes}
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func peerList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newPeerFlags("list")
	asJSON := f.fs.Bool("json", false, "print JSON (see peerJSON)")
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	}
	m := f.manager()
	list, err := m.List(*f.iface)
	if err != nil {
		return err
	}
	live := peerLive(ctx, m, stderr)
	now := time.Now()
	if *asJSON {
		out := listJSON{DaemonRunning: live != nil, Peers: []peerJSON{}}
		for _, p := range list {
			out.Peers = append(out.Peers, toJSON(p, live, now))
		}
		return writeJSON(stdout, out)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no peers")
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "INTERFACE\tPEER\tADDRESSES\tSTATE\tHANDSHAKE\tRECEIVED\tSENT\tTOTAL IN/OUT\tEXPIRES")
		for _, p := range list {
			handshake, rx, tx, total := "-", "-", "-", "-"
			if s, ok := live.Of(p); ok {
				handshake, rx, tx = ago(s.LatestHandshake, now), humanBytes(s.RxBytes), humanBytes(s.TxBytes)
				total = humanBytes(s.TotalRxBytes) + " / " + humanBytes(s.TotalTxBytes)
			}
			var expires int64
			if !p.Expires.IsZero() {
				expires = p.Expires.Unix()
			}
			addrs := joinPrefixes(p.AllowedIPs)
			if addrs == "" {
				addrs = "(none)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Interface, p.Name, addrs, p.State(live, now), handshake, rx, tx, total, left(expires, now))
		}
		tw.Flush()
	}
	if live == nil {
		fmt.Fprintf(stdout, "(wgd is not running: no handshakes or transfer to show)\n")
	}
	return nil
}

func peerShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newPeerFlags("show")
	qr := f.fs.Bool("qr", false, "print the client config and its QR code (needs the kept private key)")
	endpoint := f.fs.String("endpoint", "", "where the client connects: HOST[:PORT]")
	asJSON := f.fs.Bool("json", false, "print JSON (see peerJSON)")
	out := outputFlags(f.fs, stderr)
	name, err := f.name(args, "show")
	if err != nil {
		return err
	}
	if *asJSON && (*qr || *out.asJSON || *out.conf != "" || *out.png != "") {
		// The client config holds its private key; the JSON never does.
		return fmt.Errorf("%w: --json shows the peer, not its client config: leave out --qr, --conf and --qr-png", errUsage)
	}
	m := f.manager()
	if *qr || *out.asJSON || *out.conf != "" || *out.png != "" {
		p, c, warning, err := m.Client(ctx, *f.iface, name, *endpoint)
		if err != nil {
			return err
		}
		if warning != "" {
			fmt.Fprintf(stderr, "warning: %s\n", warning)
		}
		if _, err := out.writeFiles(c.Config()); err != nil {
			return err
		}
		if *qr || *out.asJSON {
			return out.print(stdout, clientJSON{Interface: p.Interface, Name: name, Warning: warning, Config: c.Config()})
		}
		return nil
	}
	p, err := m.Find(*f.iface, name)
	if err != nil {
		return err
	}
	live := peerLive(ctx, m, stderr)
	now := time.Now()
	if *asJSON {
		return writeJSON(stdout, showJSON{DaemonRunning: live != nil, Peer: toJSON(p, live, now)})
	}
	key := "(not valid: see wgd reload)"
	if !p.PublicKey.IsZero() {
		key = p.PublicKey.String()
	}
	fmt.Fprintf(stdout, "peer %s on %s (%s, line %d of %s)\n", p.Name, p.Interface, p.Section, p.Line, m.File())
	fmt.Fprintf(stdout, "  public key:  %s\n", key)
	fmt.Fprintf(stdout, "  addresses:   %s\n", joinPrefixes(p.AllowedIPs))
	fmt.Fprintf(stdout, "  state:       %s\n", p.State(live, now))
	for _, pr := range p.Problems {
		fmt.Fprintf(stdout, "  problem:     %s\n", pr)
	}
	if st, ok := live.Of(p); ok {
		fmt.Fprintf(stdout, "  handshake:   %s (received %s, sent %s)\n", ago(st.LatestHandshake, now), humanBytes(st.RxBytes), humanBytes(st.TxBytes))
		if st.Endpoint != "" {
			fmt.Fprintf(stdout, "  endpoint:    %s\n", st.Endpoint)
		}
		fmt.Fprintf(stdout, "  total:       received %s, sent %s\n", humanBytes(st.TotalRxBytes), humanBytes(st.TotalTxBytes))
	}
	if !p.Expires.IsZero() {
		fmt.Fprintf(stdout, "  expires:     %s (%s)\n", p.Expires.Format(time.RFC3339), left(p.Expires.Unix(), now))
	}
	if p.KeyKept {
		fmt.Fprintf(stdout, "  client key:  kept (wgd peer show %s --qr prints the client config)\n", name)
	} else {
		fmt.Fprintln(stdout, "  client key:  not kept")
	}
	return nil
}
