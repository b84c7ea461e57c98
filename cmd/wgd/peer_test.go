package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/internal/lab"
	"wgd/peers"
	"wgd/uci"
)

const peerRouterKey = "oK5T0Yk8xZ1n0QqzG2sC3z8vF4Y5sV7m6W1d2E3f4Gs="

// peerNetwork is a LuCI-style network file with comments and mixed
// quoting that the peer commands must leave as it is.
const peerNetwork = `# router config; keep this comment
config interface 'lan'
	option proto 'static'
	option ipaddr "192.168.7.1"   # LAN
	option netmask '255.255.255.0'

config interface "wg0"
	option proto wgd
	option private_key '` + peerRouterKey + `'
	option listen_port '51820'
	list addresses '10.7.0.1/24'
	list addresses 'fd00:7::1/64'

config wireguard_wg0
	option description 'Bob'\''s laptop'
	option public_key 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg='
	list allowed_ips 10.7.0.2/32

# the end
`

// peerDir makes a config directory with peerNetwork and a wgd file.
func peerDir(t *testing.T, wgd string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "network"), []byte(peerNetwork), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "network"), 0o640); err != nil {
		t.Fatal(err)
	}
	if wgd != "" {
		if err := os.WriteFile(filepath.Join(dir, "wgd"), []byte(wgd), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// wgdPeer runs `wgd peer ARGS` against dir, with no daemon and no save
// directories.
func wgdPeer(dir string, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	all := append([]string{"peer"}, args...)
	all = append(all, "--config-dir", dir, "--socket", filepath.Join(dir, "no-daemon.sock"), "--uci-savedir", filepath.Join(dir, "save"))
	code = run(all, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// printedConfig is the client config at the start of `peer add`'s output.
func printedConfig(t *testing.T, out string) string {
	t.Helper()
	i := strings.Index(out, "\n\n\x1b[")
	if i < 0 {
		t.Fatalf("no QR code after the config in:\n%s", out)
	}
	return out[:i+1]
}

func decodeTerminal(t *testing.T, out string) string {
	t.Helper()
	img, err := lab.TerminalQR(out, 2)
	if err != nil {
		t.Fatal(err)
	}
	text, err := lab.DecodeQR(img)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestPeerAddCLI(t *testing.T) {
	dir := peerDir(t, "config wgd 'main'\n\toption public_endpoint 'home.example.net'\n")
	conf, png := filepath.Join(dir, "phone.conf"), filepath.Join(dir, "phone.png")
	// A file already there with wide permissions does not keep them.
	if err := os.WriteFile(conf, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(conf, 0o644)
	stdout, stderr, code := wgdPeer(dir, "add", "phone", "--split", "--dns", "192.168.7.1", "--conf", conf, "--qr-png", png)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	client := printedConfig(t, stdout)
	for _, want := range []string{
		"Address = 10.7.0.3/32, fd00:7::2/128\n", "DNS = 192.168.7.1\n",
		"AllowedIPs = 10.7.0.0/24, fd00:7::/64, 192.168.7.0/24\n",
		"Endpoint = home.example.net:51820\n", "PersistentKeepalive = 25\n",
		"PublicKey = " + mustSecretKey(t, peerRouterKey).PublicKey().String() + "\n",
	} {
		if !strings.Contains(client, want) {
			t.Errorf("client config lacks %q:\n%s", want, client)
		}
	}
	priv := regexp.MustCompile(`PrivateKey = (\S+)`).FindStringSubmatch(client)
	if priv == nil {
		t.Fatalf("no private key in\n%s", client)
	}
	if strings.Contains(stderr, priv[1]) {
		t.Errorf("the client's private key is in the messages:\n%s", stderr)
	}
	for _, want := range []string{"peer phone added to wg0 with 10.7.0.3/32, fd00:7::2/128", "wgd is not running", "client config written to " + conf} {
		if !strings.Contains(stderr, want) {
			t.Errorf("messages lack %q:\n%s", want, stderr)
		}
	}

	// The terminal QR code, the PNG and the file all hold exactly the
	// printed config.
	if got := decodeTerminal(t, stdout); got != client {
		t.Errorf("terminal QR code decodes to\n%s\nwant\n%s", got, client)
	}
	data, err := os.ReadFile(png)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := lab.DecodeQRPNG(data); err != nil || got != client {
		t.Errorf("PNG decodes to %q, %v", got, err)
	}
	if got, err := os.ReadFile(conf); err != nil || string(got) != client {
		t.Errorf("--conf file holds %q, %v", got, err)
	}
	for _, f := range []string{conf, png} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600 (it holds a private key)", f, fi.Mode())
		}
	}

	// The network file: the old text untouched, the peer after Bob's,
	// the file's mode kept, and the router reads the new peer.
	text, err := os.ReadFile(filepath.Join(dir, "network"))
	if err != nil {
		t.Fatal(err)
	}
	cut := strings.Index(peerNetwork, "\n# the end")
	if !strings.HasPrefix(string(text), peerNetwork[:cut+1]) || !strings.HasSuffix(string(text), peerNetwork[cut:]) {
		t.Errorf("network file changed outside the new section:\n%s", text)
	}
	if strings.Contains(string(text), priv[1]) {
		t.Error("the client's private key was stored without --keep-key")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "network")); fi.Mode().Perm() != 0o640 {
		t.Errorf("network mode %v, want the old 0640", fi.Mode())
	}
	cfg, problems := config.Load(dir)
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	k, _ := config.ParseSecret(priv[1])
	if p := cfg.Interface("wg0").Peer(k.PublicKey()); p == nil || p.Description != "phone" {
		t.Errorf("the router's model lacks the phone: %+v", cfg.Interface("wg0").Peers)
	}
}

func mustSecretKey(t *testing.T, s string) config.Secret {
	t.Helper()
	k, err := config.ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPeerAddRefusesCLI(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(dir string)
		args  []string
		code  int
		want  string
	}{
		{"bad name", nil, []string{"add", "bob's"}, 1, "letters, digits and '_' only"},
		{"duplicate", func(dir string) {
			os.WriteFile(filepath.Join(dir, "network"), []byte(peerNetwork+"config wireguard_wg0\n\toption description 'phone'\n"), 0o640)
		}, []string{"add", "phone"}, 1, "already has a peer called phone"},
		{"duplicate section", nil, []string{"add", "lan"}, 1, "the name lan is taken"},
		{"no interface", nil, []string{"add", "x", "--interface", "wg7"}, 1, `no interface "wg7"`},
		{"lan is not wgd", nil, []string{"add", "x", "--interface", "lan"}, 1, "proto 'static', not 'wgd'"},
		{"both tunnels", nil, []string{"add", "x", "--split", "--full-tunnel"}, 2, "exclude each other"},
		{"bad allowed ips", nil, []string{"add", "x", "--allowed-ips", "10.0.0.0/33"}, 2, "is not an address or prefix"},
		{"bad dns", nil, []string{"add", "x", "--dns", "1.2.3.4:53"}, 2, "neither an IP address"},
		{"no name", nil, []string{"add"}, 2, "wgd peer add NAME"},
		{"two names", nil, []string{"add", "a", "b"}, 2, "wgd peer add NAME"},
		{"uncommitted", func(dir string) {
			os.Mkdir(filepath.Join(dir, "save"), 0o700)
			os.WriteFile(filepath.Join(dir, "save", "network"), []byte("network.wg0.mtu='1280'\n"), 0o600)
		}, []string{"add", "x", "--endpoint", "vpn.example.com"}, 1, "uncommitted changes"},
		{"full subnet", func(dir string) {
			text := strings.Replace(peerNetwork, "list addresses '10.7.0.1/24'", "list addresses '10.7.0.1/30'", 1)
			text = strings.Replace(text, "list allowed_ips 10.7.0.2/32", "list allowed_ips 10.7.0.2/32\n\tlist allowed_ips 10.7.0.3", 1)
			os.WriteFile(filepath.Join(dir, "network"), []byte(text), 0o640)
		}, []string{"add", "x", "--endpoint", "vpn.example.com"}, 1, "10.7.0.0/30 is full"},
		{"broken file", func(dir string) {
			os.WriteFile(filepath.Join(dir, "network"), []byte(peerNetwork+"option x 1 2\n"), 0o640)
		}, []string{"add", "x", "--endpoint", "vpn.example.com"}, 1, "has errors; fix them"},
		{"unknown command", nil, []string{"rename", "x"}, 2, "unknown peer command"},
		{"remove nobody", nil, []string{"remove", "nobody"}, 1, `no such peer "nobody"`},
		{"show without key", nil, []string{"show", "Bob's laptop", "--qr"}, 1, "private key was not kept"},
	} {
		dir := peerDir(t, "")
		if c.setup != nil {
			c.setup(dir)
		}
		before, _ := os.ReadFile(filepath.Join(dir, "network"))
		stdout, stderr, code := wgdPeer(dir, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, want %d with %q; stderr:\n%s", c.name, code, c.code, c.want, stderr)
		}
		if stdout != "" && c.code != 0 {
			t.Errorf("%s: printed %q", c.name, stdout)
		}
		after, _ := os.ReadFile(filepath.Join(dir, "network"))
		if !bytes.Equal(before, after) {
			t.Errorf("%s: the network file changed:\n%s", c.name, after)
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 3 {
			t.Errorf("%s: files left behind: %v", c.name, entries)
		}
	}
}

func TestPeerLifecycleCLI(t *testing.T) {
	dir := peerDir(t, "")
	stdout, stderr, code := wgdPeer(dir, "add", "--keep-key", "tablet", "--full-tunnel", "--endpoint", "[2001:db8::7]:4500", "--keepalive", "0")
	if code != 0 {
		t.Fatalf("add: %s", stderr)
	}
	added := printedConfig(t, stdout)
	if !strings.Contains(added, "AllowedIPs = 0.0.0.0/0, ::/0\n") || !strings.Contains(added, "DNS = 192.168.7.1\n") || strings.Contains(added, "PersistentKeepalive") {
		t.Errorf("full tunnel config:\n%s", added)
	}

	// show --qr gives the same config again, from the kept key.
	stdout, stderr, code = wgdPeer(dir, "show", "tablet", "--qr", "--endpoint", "[2001:db8::7]:4500")
	if code != 0 {
		t.Fatalf("show --qr: %s", stderr)
	}
	if got := printedConfig(t, stdout); got != added {
		t.Errorf("show --qr:\n%s\nadd printed:\n%s", got, added)
	}
	if got := decodeTerminal(t, stdout); got != added {
		t.Errorf("show --qr code decodes to\n%s", got)
	}
	stdout, _, code = wgdPeer(dir, "show", "tablet")
	if code != 0 || !strings.Contains(stdout, "client key:  kept") || strings.Contains(stdout, "PrivateKey") || !strings.Contains(stdout, "10.7.0.3/32") {
		t.Errorf("show:\n%s", stdout)
	}

	stdout, _, code = wgdPeer(dir, "list")
	if code != 0 || !regexp.MustCompile(`wg0 +Bob's laptop +10\.7\.0\.2/32 +enabled`).MatchString(stdout) ||
		!regexp.MustCompile(`wg0 +tablet +10\.7\.0\.3/32, fd00:7::2/128 +enabled`).MatchString(stdout) || !strings.Contains(stdout, "wgd is not running") {
		t.Errorf("list:\n%s", stdout)
	}

	// Disable, enable and remove by description (Bob's LuCI peer).
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"disable", "Bob's laptop"}, "disabled on wg0"},
		{[]string{"disable", "Bob's laptop"}, "already disabled"},
		{[]string{"enable", "Bob's laptop"}, "enabled on wg0"},
		{[]string{"remove", "tablet"}, "removed from wg0"},
	} {
		_, stderr, code := wgdPeer(dir, step.args...)
		if code != 0 || !strings.Contains(stderr, step.want) {
			t.Errorf("%v: exit %d: %s", step.args, code, stderr)
		}
	}
	// Back where it started, byte for byte.
	if text, _ := os.ReadFile(filepath.Join(dir, "network")); string(text) != peerNetwork {
		t.Errorf("after add, disable, enable, remove:\n%s", text)
	}
}

// wgdArgsEnv makes the test binary run as `wgd` (TestMain): the wgd of
// TestPeerAddParallel when the test does not run as root (only root
// builds the wgd binary). It holds the arguments, one a line.
const wgdArgsEnv = "WGD_TEST_RUN_WGD"

// Parallel `wgd peer add` processes never hand out one address twice and
// lose no peer: the file lock serialises them.
func TestPeerAddParallel(t *testing.T) {
	dir := peerDir(t, "")
	const n = 12
	var wg sync.WaitGroup
	outs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		args := []string{"peer", "add", fmt.Sprintf("p%d", i), "--no-qr", "--endpoint", "vpn.example.com",
			"--config-dir", dir, "--socket", filepath.Join(dir, "none.sock"), "--uci-savedir", ""}
		var cmd *exec.Cmd
		if wgdBin != "" {
			cmd = exec.Command(wgdBin, args...)
		} else {
			cmd = exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), wgdArgsEnv+"="+strings.Join(args, "\n"))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := cmd.Output()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	printed := map[string]string{} // peer -> address it was told
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("p%d: %v", i, errs[i])
		}
		m := regexp.MustCompile(`Address = (\S+),`).FindStringSubmatch(outs[i])
		if m == nil {
			t.Fatalf("p%d printed no address:\n%s", i, outs[i])
		}
		printed[fmt.Sprintf("p%d", i)] = m[1]
	}
	pkg, errList := uci.Load(dir, "network")
	if len(errList) != 0 {
		t.Fatal(errList)
	}
	seen := map[string]string{}
	sections := pkg.SectionsOfType("wireguard_wg0")
	if len(sections) != n+1 {
		t.Fatalf("%d peer sections after %d parallel adds, want %d", len(sections), n, n+1)
	}
	for _, s := range sections[1:] {
		v4 := s.Get("allowed_ips").Values[0]
		if other, dup := seen[v4]; dup {
			t.Errorf("%s given to %s and %s", v4, other, s.Name)
		}
		seen[v4] = s.Name
		if printed[s.Name] != v4 {
			t.Errorf("%s was told %s but holds %s", s.Name, printed[s.Name], v4)
		}
		if a := netip.MustParsePrefix(v4).Addr(); a == netip.MustParseAddr("10.7.0.1") || a == netip.MustParseAddr("10.7.0.2") {
			t.Errorf("%s got a taken address %s", s.Name, a)
		}
	}
}

// The keys of each JSON object of `peer list --json` and `peer show
// --json`: the documented shape (README), which scripts rely on.
var (
	peerJSONKeys = []string{"interface", "name", "section", "description", "public_key", "allowed_ips", "endpoint", "enabled", "state", "client_key_kept", "live", "expires", "expired", "totals"}
	liveJSONKeys = []string{"latest_handshake", "rx_bytes", "tx_bytes", "endpoint"}
)

// checkJSONKeys fails when obj has a key outside allowed or lacks one of
// required.
func checkJSONKeys(t *testing.T, what string, obj map[string]any, allowed, required []string) {
	t.Helper()
	for k := range obj {
		if !slices.Contains(allowed, k) {
			t.Errorf("%s: unknown key %q in %v", what, k, obj)
		}
	}
	for _, k := range required {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s: no key %q in %v", what, k, obj)
		}
	}
}

// secretsOf are the private and preshared keys in dir's network file.
func secretsOf(t *testing.T, dir string) []string {
	t.Helper()
	pkg, errs := uci.Load(dir, "network")
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	var out []string
	for _, s := range pkg.Sections {
		for _, name := range []string{"private_key", "preshared_key"} {
			if o := s.Get(name); o != nil {
				out = append(out, o.Values...)
			}
		}
	}
	return out
}

// Without a daemon, list --json and show --json answer from the file:
// every peer with its configured fields, no live ones, and no private or
// preshared key although the file holds some.
func TestPeerListJSONFromFile(t *testing.T) {
	dir := peerDir(t, "")
	if _, stderr, code := wgdPeer(dir, "add", "tablet", "--keep-key", "--no-qr", "--endpoint", "vpn.example.com"); code != 0 {
		t.Fatalf("add: %s", stderr)
	}
	if _, stderr, code := wgdPeer(dir, "disable", "Bob's laptop"); code != 0 {
		t.Fatalf("disable: %s", stderr)
	}
	secrets := secretsOf(t, dir)
	if len(secrets) != 3 { // the router's key, the tablet's private and preshared keys
		t.Fatalf("want 3 secrets in the file, have %d", len(secrets))
	}
	stdout, stderr, code := wgdPeer(dir, "list", "--json")
	if code != 0 || stderr != "" {
		t.Fatalf("list --json: exit %d: %s", code, stderr)
	}
	for _, k := range secrets {
		if strings.Contains(stdout, k) || strings.Contains(stdout, mustSecretKey(t, k).Hex()) {
			t.Errorf("a private or preshared key is in the JSON:\n%s", stdout)
		}
	}
	var raw struct {
		DaemonRunning *bool            `json:"daemon_running"`
		Peers         []map[string]any `json:"peers"`
	}
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if raw.DaemonRunning == nil || *raw.DaemonRunning || len(raw.Peers) != 2 {
		t.Fatalf("list --json:\n%s", stdout)
	}
	for _, p := range raw.Peers {
		checkJSONKeys(t, "peer", p, peerJSONKeys, []string{"interface", "name", "section", "public_key", "allowed_ips", "enabled", "state", "client_key_kept"})
		if _, ok := p["live"]; ok {
			t.Errorf("live fields without a daemon: %v", p)
		}
	}

	var list listJSON
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatal(err)
	}
	bob, tablet := list.Peers[0], list.Peers[1]
	if bob.Interface != "wg0" || bob.Name != "Bob's laptop" || bob.Section != "@wireguard_wg0[0]" || bob.Description != "Bob's laptop" ||
		bob.PublicKey != "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=" || !slices.Equal(bob.AllowedIPs, []string{"10.7.0.2/32"}) ||
		bob.Endpoint != "" || bob.Enabled || bob.State != "disabled" || bob.ClientKeyKept {
		t.Errorf("Bob's LuCI peer: %+v", bob)
	}
	if tablet.Name != "tablet" || tablet.Section != "tablet" || !tablet.Enabled || tablet.State != "enabled" || !tablet.ClientKeyKept ||
		!slices.Equal(tablet.AllowedIPs, []string{"10.7.0.3/32", "fd00:7::2/128"}) {
		t.Errorf("tablet: %+v", tablet)
	}

	stdout, stderr, code = wgdPeer(dir, "show", "tablet", "--json")
	if code != 0 || stderr != "" {
		t.Fatalf("show --json: exit %d: %s", code, stderr)
	}
	var show showJSON
	if err := json.Unmarshal([]byte(stdout), &show); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if show.DaemonRunning || !reflect.DeepEqual(show.Peer, tablet) {
		t.Errorf("show --json: %+v\nlist had %+v", show, tablet)
	}
	for _, k := range secrets {
		if strings.Contains(stdout, k) {
			t.Errorf("a private or preshared key is in show --json:\n%s", stdout)
		}
	}
	// The JSON never carries the client config, which holds its key.
	for _, extra := range [][]string{{"--qr"}, {"--conf", filepath.Join(dir, "t.conf")}, {"--qr-png", filepath.Join(dir, "t.png")}} {
		stdout, stderr, code := wgdPeer(dir, append([]string{"show", "tablet", "--json"}, extra...)...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, "--json shows the peer") {
			t.Errorf("show --json %v: exit %d, %q %q", extra, code, stdout, stderr)
		}
	}

	// An interface without peers: an empty list, not null.
	for _, name := range []string{"tablet", "Bob's laptop"} {
		if _, stderr, code := wgdPeer(dir, "remove", name); code != 0 {
			t.Fatalf("remove %s: %s", name, stderr)
		}
	}
	stdout, _, code = wgdPeer(dir, "list", "--json")
	if code != 0 || !strings.Contains(stdout, `"peers": []`) {
		t.Errorf("list --json without peers: exit %d:\n%s", code, stdout)
	}
}

// The live fields come from the daemon's status, only for peers of
// interfaces that are up: a peer of an interface that is down (netifd
// did not ask for it) is configured, not running.
func TestPeerJSONLive(t *testing.T) {
	k1, k2, k3 := mustSecretKey(t, peerRouterKey).PublicKey(), config.Key{1}, config.Key{2}
	st := &api.Status{Interfaces: []api.InterfaceStatus{
		{Name: "wg0", Up: true, Peers: []api.PeerStatus{
			{PublicKey: k1, LatestHandshake: 1700000000, RxBytes: 1234, TxBytes: 5678, Endpoint: "198.51.100.7:40000", EndpointHost: "vpn.example.com:51820"},
			{PublicKey: k2},
		}},
		{Name: "wg1", Up: false, Peers: []api.PeerStatus{{PublicKey: k3}}},
	}}
	state := peers.LiveOf(st)
	peer := func(iface, name string, key config.Key, disabled bool) peers.Peer {
		p := peers.Peer{Name: name}
		p.Interface, p.PublicKey, p.Disabled = iface, key, disabled
		return p
	}
	now := time.Now()
	for _, c := range []struct {
		peer  peers.Peer
		state string
		live  *liveJSON
	}{
		{peer("wg0", "a", k1, false), "live", &liveJSON{LatestHandshake: 1700000000, RxBytes: 1234, TxBytes: 5678, Endpoint: "198.51.100.7:40000"}},
		{peer("wg0", "never", k2, false), "live", &liveJSON{}},
		{peer("wg0", "off", k2, true), "disabled", nil},
		{peer("wg0", "bad key", config.Key{}, false), "not running", nil},
		{peer("wg1", "down", k3, false), "not running", nil},
		{peer("wg1", "other iface", k1, false), "not running", nil},
	} {
		j := toJSON(c.peer, state, now)
		if j.State != c.state || !reflect.DeepEqual(j.Live, c.live) {
			t.Errorf("%s: state %q live %+v, want %q %+v", c.peer.Name, j.State, j.Live, c.state, c.live)
		}
		if j.AllowedIPs == nil {
			t.Errorf("%s: allowed_ips is null", c.peer.Name)
		}
		var obj map[string]any
		b, _ := json.Marshal(j)
		json.Unmarshal(b, &obj)
		checkJSONKeys(t, c.peer.Name, obj, peerJSONKeys, nil)
		if live, ok := obj["live"].(map[string]any); ok {
			checkJSONKeys(t, c.peer.Name+" live", live, liveJSONKeys, []string{"latest_handshake", "rx_bytes", "tx_bytes"})
		}
	}
	// Without a daemon there is no live state at all.
	if j := toJSON(peer("wg0", "x", k1, false), nil, now); j.State != "enabled" || j.Live != nil {
		t.Errorf("no daemon: %+v", j)
	}
}
