package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/daemon"
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

func (p *peerFlags) updateOptions() uci.UpdateOptions {
	var dirs []string
	for _, d := range filepath.SplitList(*p.saveDirs) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return uci.UpdateOptions{SaveDirs: dirs}
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
	req.TunnelMTU = tunnelMTU(ctx, *f.socket, *f.configDir, *f.iface)
	if *allowed != "" {
		if req.AllowedIPs, err = parsePrefixList(*allowed); err != nil {
			return fmt.Errorf("%w: --allowed-ips: %v", errUsage, err)
		}
	}
	if *dns != "" {
		if req.DNS, err = parseDNS(*dns); err != nil {
			return fmt.Errorf("%w: --dns: %v", errUsage, err)
		}
	}

	var added *peers.Added
	var written []string
	err = uci.Update(ctx, *f.configDir, "network", f.updateOptions(), func(d *uci.Doc) error {
		var err error
		if added, err = peers.Add(d, loadWGD(*f.configDir), req); err != nil {
			return err
		}
		// The files first: when one cannot be written, nothing is.
		written, err = out.writeFiles(added.Client.Config())
		return err
	})
	if err != nil {
		for _, path := range written {
			os.Remove(path)
		}
		return err
	}
	if added.Warning != "" {
		fmt.Fprintf(stderr, "warning: %s\n", added.Warning)
	}
	fmt.Fprintf(stderr, "peer %s added to %s with %s (%s)\n", name, added.Interface, joinPrefixes(added.Addresses), filepath.Join(*f.configDir, "network"))
	if !req.Expires.IsZero() {
		fmt.Fprintf(stderr, "the peer expires %s (%s)\n", req.Expires.Format(time.RFC3339), left(req.Expires.Unix(), time.Now()))
	}
	stderr.Write(told.Bytes())
	if err := out.print(stdout, clientJSON{Interface: added.Interface, Name: name, Warning: added.Warning, Config: added.Client.Config()}); err != nil {
		return err
	}
	return reloadDaemon(ctx, *f.socket, *f.configDir, added.Interface, added.Client.PrivateKey.PublicKey(), true, stderr)
}

// tunnelMTU is the MTU the interface runs with (the running daemon's
// word, else the WAN as it is now), 0 when unknown: a client of a tunnel
// below the usual 1420 is told so.
func tunnelMTU(ctx context.Context, socket, configDir, iface string) int {
	cfg, _ := config.Load(configDir)
	names := []string{iface}
	if iface == "" && len(cfg.Interfaces) == 1 {
		names[0] = cfg.Interfaces[0].Name
	}
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	var st api.Status
	if api.Call(ctx, socket, "status", nil, &st) == nil {
		for _, i := range st.Interfaces {
			if i.Name == names[0] && i.Up {
				return i.MTU
			}
		}
	}
	if c := cfg.Interface(names[0]); c == nil || c.MTU != 0 {
		return 0 // an explicit MTU goes to the client as it is
	}
	m, _ := daemon.AutoMTU(cfg)
	return m
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
		if err := writePrivate(*o.conf, []byte(conf)); err != nil {
			return written, err
		}
		written = append(written, *o.conf)
		fmt.Fprintf(o.log, "client config written to %s\n", *o.conf)
	}
	if *o.png != "" {
		data, err := peers.PNG(conf)
		if err == nil {
			err = writePrivate(*o.png, data)
		}
		if err != nil {
			return written, err
		}
		written = append(written, *o.png)
		fmt.Fprintf(o.log, "QR code of the client config written to %s\n", *o.png)
	}
	return written, nil
}

// writePrivate writes a file only its owner may read. It never writes
// through a symbolic link, and refuses a file that is not a regular file
// of this user: in a shared directory another user could have put either
// there to read the keys or to have a file of their choice overwritten.
// A file of this user is replaced (a private copy renamed over it), so
// its old permissions do not carry over.
func writePrivate(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if err := ownRegularFile(path); err != nil {
			return err
		}
		return replacePrivate(path, data)
	}
	if err != nil {
		return err
	}
	return writeClose(f, data)
}

// ownRegularFile refuses anything at path but a regular file of ours.
func ownRegularFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: refusing to write keys through it (remove it, or choose another file)", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file: refusing to write keys to it", path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s belongs to another user (uid %d): refusing to write keys to it (remove it, or choose another file)", path, st.Uid)
	}
	return nil
}

// replacePrivate writes data to a new private file beside path and
// renames it over path.
func replacePrivate(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".wgd-") // O_EXCL, mode 0600
	if err != nil {
		return err
	}
	if err := writeClose(f, data); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

func writeClose(f *os.File, data []byte) error {
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
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

func parsePrefixList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := netip.ParsePrefix(f)
		if !strings.Contains(f, "/") {
			var a netip.Addr
			if a, err = netip.ParseAddr(f); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or prefix", f)
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

// parseDNS reads resolver addresses and search domains, as wg-quick's DNS
// line takes them; "none" is none.
func parseDNS(s string) ([]string, error) {
	if s == "none" {
		return []string{}, nil
	}
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if f == "none" {
			return nil, errors.New(`"none" stands alone: it means no DNS servers`)
		}
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, a.String())
			continue
		}
		if _, port, err := config.ParseEndpoint(f); err != nil || port != 0 || strings.Contains(f, ":") {
			return nil, fmt.Errorf("%q is neither an IP address nor a search domain", f)
		}
		out = append(out, f)
	}
	return out, nil
}

// loadWGD reads DIR/wgd for the daemon's settings; it is optional.
func loadWGD(dir string) *uci.Package {
	if _, err := os.Stat(filepath.Join(dir, "wgd")); err != nil {
		return nil
	}
	p, _ := uci.Load(dir, "wgd")
	return p
}

func loadNetwork(dir string) (*uci.Package, error) {
	p, errs := uci.Load(dir, "network")
	if p == nil {
		return nil, errs[0]
	}
	return p, nil
}

// peerChange removes, disables or enables a peer.
func peerChange(ctx context.Context, cmd string, args []string, stderr io.Writer) error {
	f := newPeerFlags(cmd)
	name, err := f.name(args, cmd)
	if err != nil {
		return err
	}
	var iface, key string
	changed := true
	err = uci.Update(ctx, *f.configDir, "network", f.updateOptions(), func(d *uci.Doc) error {
		s, i, err := peers.Find(d.Package(), *f.iface, name)
		if err != nil {
			return err
		}
		iface = i
		if o := s.Get("public_key"); o != nil {
			key = o.Values[0]
		}
		switch cmd {
		case "remove":
			_, err = peers.Remove(d, iface, name)
		case "disable", "enable":
			_, changed, err = peers.SetDisabled(d, iface, name, cmd == "disable")
		}
		return err
	})
	if err != nil {
		return err
	}
	if !changed {
		fmt.Fprintf(stderr, "peer %s of %s is already %sd\n", name, iface, cmd)
		return nil
	}
	past := map[string]string{"remove": "removed from", "disable": "disabled on", "enable": "enabled on"}[cmd]
	fmt.Fprintf(stderr, "peer %s %s %s (%s)\n", name, past, iface, filepath.Join(*f.configDir, "network"))
	k, err := config.ParseKey(key)
	if err != nil {
		// Without a valid key the router never ran this peer.
		return reloadDaemon(ctx, *f.socket, *f.configDir, iface, config.Key{}, false, stderr)
	}
	if err := reloadDaemon(ctx, *f.socket, *f.configDir, iface, k, cmd == "enable", stderr); err != nil || cmd != "remove" {
		return err
	}
	// A removed peer's traffic totals go with it.
	var ans api.ForgetAnswer
	if err := api.Call(ctx, *f.socket, "forget", api.ForgetArgs{Interface: iface, PublicKey: k}, &ans); err == nil && ans.Forgotten {
		fmt.Fprintln(stderr, "its traffic totals are dropped")
	}
	return nil
}

// reloadDaemon asks the running wgd to apply the file and checks that the
// peer with key is (want) or is not running now. A daemon that is not
// running is not an error: the file is written and it starts from there.
func reloadDaemon(ctx context.Context, socket, configDir, iface string, key config.Key, want bool, stderr io.Writer) error {
	var st api.Status
	if err := api.Call(ctx, socket, "status", nil, &st); err != nil {
		if notRunning(err) {
			fmt.Fprintf(stderr, "wgd is not running (control socket %s): the change applies when it starts\n", socket)
			return nil
		}
		return fmt.Errorf("the file is written, but wgd did not answer: %w", err)
	}
	if abs, err := filepath.Abs(configDir); err == nil && st.ConfigDir != "" && filepath.Clean(st.ConfigDir) != abs {
		fmt.Fprintf(stderr, "warning: the running wgd reads %s, not %s: it does not see this change\n", st.ConfigDir, abs)
	}
	var res api.ReloadResult
	if err := api.Call(ctx, socket, "reload", nil, &res); err != nil {
		return fmt.Errorf("the file is written, but wgd's reload failed: %w", err)
	}
	for _, p := range res.Problems {
		fmt.Fprintf(stderr, "config: %s\n", p)
	}
	for _, f := range res.Failed {
		fmt.Fprintf(stderr, "failed: %s\n", f)
	}
	if key.IsZero() {
		fmt.Fprintln(stderr, "wgd reloaded")
		return nil
	}
	if err := api.Call(ctx, socket, "status", nil, &st); err != nil {
		return fmt.Errorf("wgd reloaded, but its status is not available: %w", err)
	}
	running, up := false, false
	for _, i := range st.Interfaces {
		if i.Name != iface {
			continue
		}
		// The status lists the configured peers of an interface that is
		// down too (netifd did not ask for it, or it failed).
		up = i.Up && i.Error == ""
		for _, p := range i.Peers {
			running = running || up && p.PublicKey == key
		}
	}
	switch {
	case running == want && want:
		fmt.Fprintf(stderr, "wgd reloaded: the peer is live on %s\n", iface)
	case running == want:
		fmt.Fprintf(stderr, "wgd reloaded: the peer is off %s\n", iface)
	case want && !up:
		fmt.Fprintf(stderr, "wgd reloaded, but %s is not running (see wgd status): the peer runs once it is up\n", iface)
	case want:
		fmt.Fprintf(stderr, "wgd reloaded, but %s does not run the peer (see wgd status)\n", iface)
	default:
		return fmt.Errorf("wgd reloaded, but %s still runs the peer", iface)
	}
	return nil
}

// notRunning tells a daemon that is not there from one that failed.
func notRunning(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// stateTimeout bounds the question for live state: the peer commands
// that read work from the file alone.
const stateTimeout = 10 * time.Second

// peerState is what the running daemon reports of each peer it runs,
// by interface and key; nil when it is not running or did not answer
// (said on stderr: the file alone still answers).
func peerState(ctx context.Context, socket string, stderr io.Writer) map[string]api.PeerStatus {
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	var st api.Status
	if err := api.Call(ctx, socket, "status", nil, &st); err != nil {
		if !notRunning(err) {
			fmt.Fprintf(stderr, "warning: wgd did not answer, showing the file only: %v\n", err)
		}
		return nil
	}
	return runningPeers(&st)
}

// runningPeers are the peers of the interfaces st has up, by interface
// and key.
func runningPeers(st *api.Status) map[string]api.PeerStatus {
	out := map[string]api.PeerStatus{}
	for _, i := range st.Interfaces {
		if !i.Up {
			continue // its peers are configured, not running
		}
		for _, p := range i.Peers {
			out[i.Name+" "+p.PublicKey.String()] = p
		}
	}
	return out
}

// peerJSON is one peer in `wgd peer list --json` and `wgd peer show
// --json`. Fields may be added, never renamed or removed. It holds no
// private or preshared key.
type peerJSON struct {
	Interface     string    `json:"interface"`
	Name          string    `json:"name"`    // what the peer commands take
	Section       string    `json:"section"` // network.<section> to uci
	Description   string    `json:"description,omitempty"`
	PublicKey     string    `json:"public_key"`
	AllowedIPs    []string  `json:"allowed_ips"`
	Endpoint      string    `json:"endpoint,omitempty"` // configured host:port
	Enabled       bool      `json:"enabled"`
	State         string    `json:"state"` // disabled, enabled, live, not running: peerStateWord
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

func toJSON(p peers.Peer, state map[string]api.PeerStatus) peerJSON {
	out := peerJSON{
		Interface: p.Interface, Name: p.Name, Section: p.Ref, Description: p.Description,
		PublicKey: p.PublicKey, AllowedIPs: p.AllowedIPs, Endpoint: p.Endpoint,
		Enabled: !p.Disabled, State: peerStateWord(p, state), ClientKeyKept: p.KeyKept,
	}
	if out.AllowedIPs == nil {
		out.AllowedIPs = []string{}
	}
	if !p.Expires.IsZero() {
		out.Expires, out.Expired = p.Expires.Unix(), !time.Now().Before(p.Expires)
	}
	s, ok := state[p.Interface+" "+p.PublicKey]
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
	network, err := loadNetwork(*f.configDir)
	if err != nil {
		return err
	}
	if *f.iface != "" {
		if _, err := peers.ChooseInterface(network, *f.iface); err != nil {
			return err
		}
	}
	list := peers.List(network, *f.iface)
	state := peerState(ctx, *f.socket, stderr)
	if *asJSON {
		out := listJSON{DaemonRunning: state != nil, Peers: []peerJSON{}}
		for _, p := range list {
			out.Peers = append(out.Peers, toJSON(p, state))
		}
		return writeJSON(stdout, out)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no peers")
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "INTERFACE\tPEER\tADDRESSES\tSTATE\tHANDSHAKE\tRECEIVED\tSENT\tTOTAL IN/OUT\tEXPIRES")
		now := time.Now()
		for _, p := range list {
			handshake, rx, tx, total := "-", "-", "-", "-"
			if s, ok := state[p.Interface+" "+p.PublicKey]; ok {
				handshake, rx, tx = ago(s.LatestHandshake, now), humanBytes(s.RxBytes), humanBytes(s.TxBytes)
				total = humanBytes(s.TotalRxBytes) + " / " + humanBytes(s.TotalTxBytes)
			}
			var expires int64
			if !p.Expires.IsZero() {
				expires = p.Expires.Unix()
			}
			addrs := strings.Join(p.AllowedIPs, ", ")
			if addrs == "" {
				addrs = "(none)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Interface, p.Name, addrs, peerStateWord(p, state), handshake, rx, tx, total, left(expires, now))
		}
		tw.Flush()
	}
	if state == nil {
		fmt.Fprintf(stdout, "(wgd is not running: no handshakes or transfer to show)\n")
	}
	return nil
}

// peerStateWord is a peer's state: "disabled" in the file, "expired"
// past its option expires, "enabled"
// when wgd is not running (or did not answer), "live" when wgd runs it,
// "not running" when wgd runs but not this peer (its interface is down,
// or the section has errors: see wgd reload).
func peerStateWord(p peers.Peer, state map[string]api.PeerStatus) string {
	switch {
	case p.Disabled:
		return "disabled"
	case !p.Expires.IsZero() && !time.Now().Before(p.Expires):
		return "expired"
	case state == nil:
		return "enabled"
	}
	if _, ok := state[p.Interface+" "+p.PublicKey]; ok {
		return "live"
	}
	return "not running"
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
	network, err := loadNetwork(*f.configDir)
	if err != nil {
		return err
	}
	s, iface, err := peers.Find(network, *f.iface, name)
	if err != nil {
		return err
	}
	if *qr || *out.asJSON || *out.conf != "" || *out.png != "" {
		c, warning, err := peers.ClientOf(network, loadWGD(*f.configDir), iface, s, *endpoint)
		if err != nil {
			return err
		}
		c.FitMTU(tunnelMTU(ctx, *f.socket, *f.configDir, iface))
		if warning != "" {
			fmt.Fprintf(stderr, "warning: %s\n", warning)
		}
		if _, err := out.writeFiles(c.Config()); err != nil {
			return err
		}
		if *qr || *out.asJSON {
			return out.print(stdout, clientJSON{Interface: iface, Name: name, Warning: warning, Config: c.Config()})
		}
		return nil
	}
	var p peers.Peer
	for _, q := range peers.List(network, iface) {
		if q.Ref == s.Ref() {
			p = q
		}
	}
	state := peerState(ctx, *f.socket, stderr)
	if *asJSON {
		return writeJSON(stdout, showJSON{DaemonRunning: state != nil, Peer: toJSON(p, state)})
	}
	fmt.Fprintf(stdout, "peer %s on %s (%s, line %d of %s)\n", p.Name, iface, p.Ref, p.Line, network.File)
	fmt.Fprintf(stdout, "  public key:  %s\n", p.PublicKey)
	fmt.Fprintf(stdout, "  addresses:   %s\n", strings.Join(p.AllowedIPs, ", "))
	fmt.Fprintf(stdout, "  state:       %s\n", peerStateWord(p, state))
	if st, ok := state[iface+" "+p.PublicKey]; ok {
		fmt.Fprintf(stdout, "  handshake:   %s (received %s, sent %s)\n", ago(st.LatestHandshake, time.Now()), humanBytes(st.RxBytes), humanBytes(st.TxBytes))
		if st.Endpoint != "" {
			fmt.Fprintf(stdout, "  endpoint:    %s\n", st.Endpoint)
		}
		fmt.Fprintf(stdout, "  total:       received %s, sent %s\n", humanBytes(st.TotalRxBytes), humanBytes(st.TotalTxBytes))
	}
	if !p.Expires.IsZero() {
		fmt.Fprintf(stdout, "  expires:     %s (%s)\n", p.Expires.Format(time.RFC3339), left(p.Expires.Unix(), time.Now()))
	}
	if p.KeyKept {
		fmt.Fprintf(stdout, "  client key:  kept (wgd peer show %s --qr prints the client config)\n", name)
	} else {
		fmt.Fprintln(stdout, "  client key:  not kept")
	}
	return nil
}
