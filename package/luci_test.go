package pkgtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/doctor"
)

const luciResources = "luci-proto-wgd/htdocs/luci-static/resources"

var luciFiles = []string{"protocol/wgd.js", "tools/wgd.js", "view/wgd/status.js"}

type luciOption struct {
	Class           string     `json:"class"`
	Name            string     `json:"name"`
	Tab             string     `json:"tab"`
	Datatype        string     `json:"datatype"`
	Password        bool       `json:"password"`
	Rmempty         *bool      `json:"rmempty"`
	SubsectionType  string     `json:"subsectionType"`
	SubsectionClass string     `json:"subsectionClass"`
	Deps            [][]string `json:"deps"`
	Validates       bool       `json:"validates"`
	Textvalue       bool       `json:"textvalue"`
	Modalonly       *bool      `json:"modalonly"`
}

type luciState struct {
	Kind   string `json:"kind"`
	Text   string `json:"text"`
	Online *bool  `json:"online"`
}

type wgQuick struct {
	Iface  map[string]any   `json:"iface"`
	Peers  []map[string]any `json:"peers"`
	Errors []string         `json:"errors"`
	Notes  []string         `json:"notes"`
}

type shownModal struct {
	Title     string   `json:"title"`
	Text      string   `json:"text"`
	Images    []string `json:"images"`
	Downloads []string `json:"downloads"`
}

type luciResult struct {
	Name     string            `json:"name"`
	Opkg     string            `json:"opkg"`
	RPC      []map[string]any  `json:"rpc"`
	Errors   map[string]string `json:"errors"`
	Polls    []float64         `json:"polls"`
	Tabs     []string          `json:"tabs"`
	Options  []luciOption      `json:"options"`
	Peers    []luciOption      `json:"peerOptions"`
	Validate struct {
		MTU, Fwmark, Key    []bool
		FormMTU, FormFwmark bool
	} `json:"validate"`
	Expiry []struct {
		Parsed struct {
			Time  *int64 `json:"time"`
			Error string `json:"error"`
		} `json:"parsed"`
		Valid bool `json:"valid"`
	} `json:"expiry"`
	PeerStates  []luciState                  `json:"peerStates"`
	IfaceStates []luciState                  `json:"ifaceStates"`
	ErrorTexts  [][]string                   `json:"errorTexts"`
	WgQuick     []wgQuick                    `json:"wgQuick"`
	Device      map[string]string            `json:"device"`
	RowsBefore  map[string]map[string]string `json:"rowsBefore"`
	Rows        map[string]map[string]string `json:"rows"`
	RowActions  []string                     `json:"rowActions"`
	RowNoKey    []string                     `json:"rowActionsNoKey"`
	AddButtons  []string                     `json:"addButtons"`
	WriteButton [][2]any                     `json:"writeButtons"`
	Notes       []string                     `json:"notifications"`
	StatusPage  *struct {
		Text     string      `json:"text"`
		Ifaces   [][2]string `json:"ifaces"`
		Peers    []string    `json:"peers"`
		Daemon   []string    `json:"daemon"`
		Doctor   string      `json:"doctor"`
		Findings []string    `json:"findings"`
		WriteBtn [][2]any    `json:"writeButtons"`
	} `json:"statusPage"`
	AddDevice *struct {
		Calls []struct {
			Method string `json:"method"`
			Args   []any  `json:"args"`
		} `json:"calls"`
		Error        string       `json:"error"`
		Dialog       string       `json:"dialog"`
		Placeholders []string     `json:"placeholders"`
		Shown        []shownModal `json:"shown"`
		Done         *string      `json:"done"`
	} `json:"addDevice"`
	ImportPeer any `json:"importPeer"`
	Stacked    *struct {
		Open, Closed [][2]string
		Modals       int
	} `json:"stacked"`
}

// luciInput is what the harness is asked (testdata/luci-harness.js).
type luciInput map[string]any

// luciUCI is the network configuration the views see: interface wg0, a
// named peer with a kept client key and an anonymous disabled one.
var luciUCI = map[string]any{
	"wg0":   map[string]any{".type": "interface", "proto": "wgd", "private_key": testKey},
	"peer1": map[string]any{".type": "wireguard_wg0", "description": "laptop", "public_key": "PUB1", "private_key": "KEPT", "allowed_ips": []string{"10.0.0.2/32", "192.168.9.0/24"}, "endpoint_host": "2001:db8::7", "endpoint_port": "51821"},
	"peer2": map[string]any{".type": "wireguard_wg0", ".anonymous": true, "public_key": "PUB2", "disabled": "1"},
}

func runLuci(t *testing.T, in luciInput) *luciResult {
	t.Helper()
	node := needTool(t, "node")
	if in["uci"] == nil {
		in["uci"] = luciUCI
	}
	b, _ := json.Marshal(in)
	cmd := exec.Command(node, "testdata/luci-harness.js", luciResources)
	cmd.Stdin = strings.NewReader(string(b))
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("running the views: %v\n%s", err, stderr)
	}
	var r luciResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("harness output: %v\n%s", err, out)
	}
	return &r
}

func TestLuciViewSyntax(t *testing.T) {
	node := needTool(t, "node")
	for _, f := range luciFiles {
		if out, err := exec.Command(node, "--check", filepath.Join(luciResources, f)).CombinedOutput(); err != nil {
			t.Errorf("node --check %s: %v\n%s", f, err, out)
		}
	}
}

func byName(opts []luciOption) map[string]luciOption {
	m := map[string]luciOption{}
	for _, o := range opts {
		m[o.Name] = o
	}
	return m
}

// uciNames are the options that hold UCI values: not buttons, not the
// display-only fields (named with a leading _), not the peer list.
func uciNames(opts []luciOption) []string {
	var names []string
	for _, o := range opts {
		if o.Class == "Button" || o.Class == "DummyValue" || o.Class == "SectionValue" || strings.HasPrefix(o.Name, "_") {
			continue
		}
		names = append(names, o.Name)
	}
	sort.Strings(names)
	return names
}

// The view edits the UCI options LuCI's WireGuard form edits plus
// ip6prefix, with the daemon's checks; peers are the wireguard_<interface>
// sections, as a table whose live columns show only there and whose
// settings are edited in a dialog.
func TestLuciViewFields(t *testing.T) {
	r := runLuci(t, luciInput{})
	if r.Name != "wgd" || r.Opkg != "wgd" {
		t.Errorf("protocol %q, package %q", r.Name, r.Opkg)
	}
	wireguardIface := []string{"addresses", "fwmark", "ip6prefix", "listen_port", "mtu", "nohostroute", "private_key"}
	wireguardPeer := []string{"allowed_ips", "description", "disabled", "endpoint_host", "endpoint_port",
		"persistent_keepalive", "preshared_key", "public_key", "route_allowed_ips"}
	if got := uciNames(r.Options); !reflect.DeepEqual(got, wireguardIface) {
		t.Errorf("interface options %v, want %v", got, wireguardIface)
	}
	if got := uciNames(r.Peers); !reflect.DeepEqual(got, wireguardPeer) {
		t.Errorf("peer options %v, want %v", got, wireguardPeer)
	}

	o := byName(r.Options)
	for name, want := range map[string]struct{ class, tab, datatype string }{
		"_state":       {"DummyValue", "general", ""},
		"private_key":  {"Value", "general", ""},
		"generate_key": {"Button", "general", ""},
		"_public_key":  {"DummyValue", "general", ""},
		"_import":      {"Button", "general", ""},
		"listen_port":  {"Value", "general", "port"},
		"addresses":    {"DynamicList", "general", "ipaddr"},
		"nohostroute":  {"Flag", "general", ""},
		"mtu":          {"Value", "advanced", ""},
		"fwmark":       {"Value", "advanced", ""},
		"ip6prefix":    {"DynamicList", "advanced", "cidr6"},
		"_peers":       {"SectionValue", "peers", ""},
	} {
		if got := o[name]; got.Class != want.class || got.Tab != want.tab || got.Datatype != want.datatype {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
	if pk := o["private_key"]; !pk.Password || pk.Rmempty == nil || *pk.Rmempty || !pk.Validates {
		t.Errorf("private_key must be a password field, kept when empty, validated: %+v", pk)
	}
	if !r.Validate.FormMTU || !r.Validate.FormFwmark {
		t.Error("the form's mtu and fwmark fields do not use the shared checks")
	}
	if p := o["_peers"]; p.SubsectionType != "wireguard_wg0" || p.SubsectionClass != "GridSection" || !reflect.DeepEqual(p.Deps, [][]string{{"proto", "wgd"}}) {
		t.Errorf("peer sections: %+v", p)
	}

	po := byName(r.Peers)
	for name, want := range map[string]struct {
		class, datatype string
		modal           any // true: dialog only, false: table only, nil: both
	}{
		"description":          {"Value", "string", nil},
		"_state":               {"DummyValue", "", false},
		"allowed_ips":          {"DynamicList", "ipaddr", nil},
		"_endpoint":            {"DummyValue", "", false},
		"_total":               {"DummyValue", "", false},
		"_transfer":            {"DummyValue", "", false},
		"disabled":             {"Flag", "", true},
		"public_key":           {"Value", "", true},
		"preshared_key":        {"Value", "", true},
		"generate_psk":         {"Button", "", true},
		"route_allowed_ips":    {"Flag", "", true},
		"endpoint_host":        {"Value", "host", true},
		"endpoint_port":        {"Value", "port", true},
		"persistent_keepalive": {"Value", "range(0,65535)", true},
	} {
		got := po[name]
		var modal any
		if got.Modalonly != nil {
			modal = *got.Modalonly
		}
		if got.Class != want.class || got.Datatype != want.datatype || modal != want.modal {
			t.Errorf("peer %s: %+v (modalonly %v), want %+v", name, got, modal, want)
		}
	}
	if !po["public_key"].Validates || !po["preshared_key"].Validates || !po["preshared_key"].Password {
		t.Errorf("peer keys: %+v %+v", po["public_key"], po["preshared_key"])
	}
}

// daemonAccepts says whether the daemon's configuration takes value for
// the interface option name: no problem reported about it.
func daemonAccepts(t *testing.T, name, value string) bool {
	t.Helper()
	dir := t.TempDir()
	network := fmt.Sprintf("config interface 'wg0'\n\toption proto 'wgd'\n\toption private_key '%s'\n\toption %s '%s'\n", testKey, name, value)
	if err := os.WriteFile(filepath.Join(dir, "network"), []byte(network), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, problems := config.Load(dir)
	for _, p := range problems {
		if strings.Contains(p.Error(), name) {
			return false
		}
	}
	return cfg.Interface("wg0") != nil
}

// The form takes exactly what the daemon takes: mtu from 576 to 9000,
// fwmark as Go reads a number (hex, decimal, octal, binary, _ between
// digits) or off, keys of 32 bytes. Each sample is checked against the
// daemon's configuration loader itself.
func TestLuciFieldLimitsMatchDaemon(t *testing.T) {
	mtu := []string{"576", "575", "1280", "1420", "1500", "9000", "9001", "01400", "+1400", "1e3", "1400.0", " 1400", "auto", "0", "-1", "99999999999999999999"}
	fwmark := []string{"off", "0", "1", "4660", "0x1234", "0X1234", "0xffffffff", "0x100000000", "4294967295", "4294967296",
		"0o17", "017", "0b101", "0x_1f", "1_000", "1__0", "_1", "1_", "0x", "08", "0xg", "-1", "+1", "Off", "none", "0x1234 "}
	keys := []string{testKey, "sGDoYpUG5FV0tPw/4sX/dmRMKm+VOdZ5C0W0rIsLHGJ=", "sGDoYpUG5FV0tPw/4sX/dmRMKm+VOdZ5C0W0rIsLHGI", "nonsense",
		strings.Repeat("A", 43) + "="}
	r := runLuci(t, luciInput{"validate": map[string]any{"mtu": mtu, "fwmark": fwmark, "key": keys}})
	for i, v := range mtu {
		if want := daemonAccepts(t, "mtu", v); r.Validate.MTU[i] != want {
			t.Errorf("mtu %q: form accepts %v, daemon %v", v, r.Validate.MTU[i], want)
		}
	}
	for i, v := range fwmark {
		if want := daemonAccepts(t, "fwmark", v); r.Validate.Fwmark[i] != want {
			t.Errorf("fwmark %q: form accepts %v, daemon %v", v, r.Validate.Fwmark[i], want)
		}
	}
	for i, v := range keys {
		_, err := config.ParseKey(v)
		if r.Validate.Key[i] != (err == nil) {
			t.Errorf("key %q: form accepts %v, daemon: %v", v, r.Validate.Key[i], err)
		}
	}
}

// statusJSON is what `wgd status --json` answers: the daemon's own type.
func statusJSON(t *testing.T, s api.Status) map[string]any {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func mustKey(t *testing.T, s string) config.Key {
	t.Helper()
	k, err := config.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const (
	luciPeerKey  = "eQ1Ojp7Xe5y6jz/HO8lQ3hP2T5LqYnGVwQJzV2jCDnA="
	luciOtherKey = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
)

// Every state a peer and an interface can be in gets its own text: the
// daemon stopped (the backend's {"error"} answer is inspected), the
// interface not applied, down with its reason, a peer disabled, not
// running, never handshaken, online, offline, a guest past its expiry
// (and until when one runs).
func TestLuciStates(t *testing.T) {
	now := time.Now().Unix()
	peer := api.PeerStatus{PublicKey: mustKey(t, luciPeerKey), Endpoint: "198.51.100.7:51820", RxBytes: 1536, TxBytes: 3 << 20}
	withPeer := func(hs int64) map[string]any {
		p := peer
		p.LatestHandshake = hs
		return statusJSON(t, api.Status{Interfaces: []api.InterfaceStatus{{Name: "wg0", Up: true, ListenPort: 51820, Peers: []api.PeerStatus{p}}}})
	}
	down := statusJSON(t, api.Status{Interfaces: []api.InterfaceStatus{{Name: "wg0", Error: "no TUN device: permission denied", Peers: []api.PeerStatus{}}}})
	stopped := map[string]any{"error": "the wgd service is not running"}
	guest := peer
	guest.LatestHandshake, guest.Expires, guest.Expired = now-42, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Unix(), true
	expired := statusJSON(t, api.Status{Interfaces: []api.InterfaceStatus{{Name: "wg0", Up: true, ListenPort: 51820, Peers: []api.PeerStatus{guest}}}})
	guest.Expires, guest.Expired = time.Date(2036, 1, 2, 3, 4, 5, 0, time.UTC).Unix(), false
	expiring := statusJSON(t, api.Status{Interfaces: []api.InterfaceStatus{{Name: "wg0", Up: true, ListenPort: 51820, Peers: []api.PeerStatus{guest}}}})
	enabled := map[string]any{"public_key": luciPeerKey}
	cases := []struct {
		status any
		peer   map[string]any
		kind   string
		text   string
		online any
	}{
		{nil, enabled, "loading", "Collecting", nil},
		{stopped, enabled, "stopped", "not running", nil},
		{stopped, map[string]any{"public_key": luciPeerKey, "disabled": "1"}, "disabled", "Peer disabled", nil},
		{statusJSON(t, api.Status{Interfaces: []api.InterfaceStatus{}}), enabled, "unapplied", "save and apply", nil},
		{down, enabled, "down", "no TUN device: permission denied", nil},
		{withPeer(0), map[string]any{"public_key": luciOtherKey}, "unapplied", "save and apply", nil},
		{withPeer(0), enabled, "never", "No handshake yet", false},
		{withPeer(now - 42), enabled, "online", "42 s ago", true}, // now is the case's
		{withPeer(now - 600), enabled, "offline", "10 min ago", false},
		{withPeer(now - 42), map[string]any{"public_key": luciPeerKey, "disabled": "1"}, "disabled", "Peer disabled", nil},
		{expired, enabled, "expired", "Expired on 2026-01-02T03:04:05Z", nil},
		{expiring, enabled, "online", "42 s ago · expires 2036-01-02T03:04:05Z", true},
	}
	var peerStates, ifaceStates []map[string]any
	for _, c := range cases {
		pc := map[string]any{"ifname": "wg0", "peer": c.peer, "now": now}
		ic := map[string]any{"ifname": "wg0"}
		if c.status != nil {
			pc["status"], ic["status"] = c.status, c.status
		}
		peerStates = append(peerStates, pc)
		ifaceStates = append(ifaceStates, ic)
	}
	r := runLuci(t, luciInput{"peerStates": peerStates, "ifaceStates": ifaceStates})
	for i, c := range cases {
		got := r.PeerStates[i]
		var online any
		if got.Online != nil {
			online = *got.Online
		}
		if got.Kind != c.kind || !strings.Contains(got.Text, c.text) || online != c.online {
			t.Errorf("case %d: %+v (online %v), want kind %s, text with %q, online %v", i, got, online, c.kind, c.text, c.online)
		}
	}
	for i, want := range []string{"loading", "stopped", "stopped", "unapplied", "down", "up", "up", "up", "up", "up", "up", "up"} {
		if r.IfaceStates[i].Kind != want {
			t.Errorf("interface case %d: %+v, want %s", i, r.IfaceStates[i], want)
		}
	}
	if !strings.Contains(r.IfaceStates[4].Text, "no TUN device") || !strings.Contains(r.IfaceStates[5].Text, "51820") {
		t.Errorf("interface texts: %+v", r.IfaceStates)
	}
}

// netifd's errors on the interface row carry the reason the handler
// gave; every code the handler sends has a message. The device is a
// tunnel, named after the interface, not an Ethernet adapter.
func TestLuciInterfaceRow(t *testing.T) {
	r := runLuci(t, luciInput{"errors": [][]map[string]any{
		{{"subsystem": "wgd", "code": "WGD_IFUP_FAILED", "data": []string{"wgd ifup: wg0: option private_key: not a key"}}},
		{{"subsystem": "wgd", "code": "WGD_NOT_RUNNING"}},
		{{"subsystem": "interface", "code": "SOMETHING_ELSE"}},
		{},
	}})
	want := [][]string{
		{"wgd could not bring the interface up: wgd ifup: wg0: option private_key: not a key"},
		{"The wgd service is not running"},
		{"Unknown error (SOMETHING_ELSE)"},
		nil,
	}
	if !reflect.DeepEqual(r.ErrorTexts, want) {
		t.Errorf("errors:\n got %q\nwant %q", r.ErrorTexts, want)
	}
	proto, err := os.ReadFile("wgd/files/wgd.proto")
	if err != nil {
		t.Fatal(err)
	}
	codes := regexp.MustCompile(`proto_notify_error "\$wgd_cfg" (\w+)`).FindAllStringSubmatch(string(proto), -1)
	if len(codes) == 0 {
		t.Fatal("no error codes found in wgd.proto")
	}
	for _, c := range codes {
		if r.Errors[c[1]] == "" {
			t.Errorf("error code %s has no message in the view", c[1])
		}
	}
	if r.Device["name"] != "wg0" || r.Device["type"] != "tunnel" || !strings.Contains(r.Device["typeI18n"], "WireGuard") {
		t.Errorf("device %v", r.Device)
	}
}

// The peers table: configured columns at once, live columns from one
// status poll (every 5 s), the traffic totals over all sessions among them; a disabled peer says so; "Configuration" only
// where the client key was kept; "Add device" and "Import" next to "Add".
func TestLuciPeerTable(t *testing.T) {
	now := time.Now().Unix()
	st := statusJSON(t, api.Status{Interfaces: []api.InterfaceStatus{{Name: "wg0", Up: true, ListenPort: 51820,
		Peers: []api.PeerStatus{{PublicKey: mustKey(t, luciPeerKey), LatestHandshake: now - 42, Endpoint: "[2001:db8::7]:40000", RxBytes: 1536, TxBytes: 3 << 20,
			TotalRxBytes: 7 << 30, TotalTxBytes: 1536 << 10}}}}})
	uci := map[string]any{
		"wg0":   luciUCI["wg0"],
		"peer1": map[string]any{".type": "wireguard_wg0", "description": "laptop", "public_key": luciPeerKey, "private_key": "KEPT", "allowed_ips": []string{"10.0.0.2/32", "192.168.9.0/24"}, "endpoint_host": "2001:db8::7", "endpoint_port": "51821"},
		"peer2": map[string]any{".type": "wireguard_wg0", ".anonymous": true, "public_key": luciOtherKey, "disabled": "1"},
	}
	r := runLuci(t, luciInput{"uci": uci, "rpc": map[string]any{"status": st}})
	if got := r.RowsBefore["peer1"]["_state"]; !strings.Contains(got, "Collecting") {
		t.Errorf("state before the first poll: %q", got)
	}
	// One endpoint column (the table must fit LuCI's dialog): the one in
	// use shows under the configured one only where they differ.
	if got := r.RowsBefore["peer1"]["_endpoint"]; got != "[2001:db8::7]:51821" {
		t.Errorf("endpoint before the first poll: %q", got)
	}
	var cols []string
	for _, o := range r.Peers {
		if o.Textvalue && (o.Modalonly == nil || !*o.Modalonly) {
			cols = append(cols, o.Name)
		}
	}
	if want := []string{"description", "_state", "allowed_ips", "_endpoint", "_transfer", "_total"}; !reflect.DeepEqual(cols, want) {
		t.Errorf("columns %v, want %v", cols, want)
	}
	p1 := r.Rows["peer1"]
	for col, want := range map[string]string{
		"description": "laptop", "allowed_ips": "10.0.0.2/32, 192.168.9.0/24", "_endpoint": "[2001:db8::7]:51821in use: [2001:db8::7]:40000",
		"_state": "online", "_transfer": "1.5 KiB / 3.0 MiB",
		"_total": "7.0 GiB / 1.5 MiB",
	} {
		if !strings.Contains(p1[col], want) {
			t.Errorf("peer1 %s: %q, want %q", col, p1[col], want)
		}
	}
	if !regexp.MustCompile(`4[2-5] s ago`).MatchString(p1["_state"]) {
		t.Errorf("peer1 state %q lacks the handshake age", p1["_state"])
	}
	p2 := r.Rows["peer2"]
	if p2["_state"] != "Peer disabled" || p2["_transfer"] != "-" || p2["_total"] != "-" || p2["_endpoint"] != "none" || !strings.Contains(p2["description"], "unnamed") {
		t.Errorf("peer2: %v", p2)
	}
	if !reflect.DeepEqual(r.RowActions, []string{"Configuration", "Edit"}) || !reflect.DeepEqual(r.RowNoKey, []string{"Edit"}) {
		t.Errorf("row buttons: kept key %v, none %v", r.RowActions, r.RowNoKey)
	}
	if !reflect.DeepEqual(r.AddButtons, []string{"Add peer", "Add device...", "Import peer..."}) {
		t.Errorf("add buttons %v", r.AddButtons)
	}
	if !reflect.DeepEqual(r.Polls, []float64{5}) {
		t.Errorf("polls %v, want one every 5 s", r.Polls)
	}
}

// "Add device": the dialog calls the backend's addPeer (here with the
// answer the real `wgd peer add --client-json` gives through the real
// plugin's format) and shows the config, its QR code and a download once;
// an error is shown in the dialog and nothing else. The expiry goes to
// the backend as typed; one --expires would refuse never leaves the browser.
func TestLuciAddDevice(t *testing.T) {
	tl := getTools(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "network"), []byte(luciNetwork), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tl.wgd, "peer", "add", "phone", "--full-tunnel", "--client-json", "--endpoint", "vpn.example.com",
		"--config-dir", dir, "--socket", filepath.Join(dir, "none.sock"), "--uci-savedir", "")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("wgd peer add: %v", err)
	}
	var client map[string]any
	if err := json.Unmarshal(out, &client); err != nil {
		t.Fatal(err)
	}
	conf, _ := client["config"].(string)

	r := runLuci(t, luciInput{
		"addDevice": map[string]any{"name": "phone", "mode": "full", "dns": " 192.168.1.1 ", "keep": true, "expires": " 7d "},
		"rpc":       map[string]any{"addPeer": map[string]any{"client": client, "log": "wgd is not running: the change applies when it starts"}},
	})
	a := r.AddDevice
	if len(a.Calls) != 1 || !reflect.DeepEqual(a.Calls[0].Args, []any{"wg0", "phone", true, "192.168.1.1", true, "7d"}) {
		t.Fatalf("addPeer calls %+v", a.Calls)
	}
	if a.Error != "" || len(a.Shown) != 1 || a.Done == nil || *a.Done != "phone" {
		t.Fatalf("add device: %+v", a)
	}
	// wgd peer add gives the router as DNS to a full tunnel only.
	if !strings.Contains(a.Dialog, "this router for a full tunnel, none for a split tunnel") ||
		slices.ContainsFunc(a.Placeholders, func(p string) bool { return strings.Contains(p, "router") }) {
		t.Errorf("the DNS field misstates the default: %q %q", a.Placeholders, a.Dialog)
	}
	s := a.Shown[0]
	if !strings.Contains(s.Text, conf) || !strings.Contains(s.Text, "wgd is not running") || !reflect.DeepEqual(s.Downloads, []string{"phone.conf"}) {
		t.Errorf("shown: %+v", s)
	}
	if len(s.Images) != 1 {
		t.Fatalf("images %v", s.Images)
	}
	svg, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s.Images[0], "data:image/svg+xml;base64,"))
	if err != nil || string(svg) != client["qr_svg"] {
		t.Errorf("the QR picture is not wgd's SVG: %v", err)
	}

	r = runLuci(t, luciInput{
		"addDevice": map[string]any{"name": "phone", "mode": "split", "dns": "", "keep": false},
		"rpc":       map[string]any{"addPeer": map[string]any{"error": "network has uncommitted changes: apply or revert them first"}},
	})
	if a := r.AddDevice; !strings.Contains(a.Error, "uncommitted") || len(a.Shown) != 0 || a.Done != nil ||
		!reflect.DeepEqual(a.Calls[0].Args, []any{"wg0", "phone", false, "", false, ""}) {
		t.Errorf("failed add: %+v", a)
	}
	r = runLuci(t, luciInput{"addDevice": map[string]any{"name": "bad-name", "mode": "split", "dns": "", "keep": false}})
	if a := r.AddDevice; len(a.Calls) != 0 || !strings.Contains(a.Error, "letters, digits") {
		t.Errorf("bad name: %+v", a)
	}
	for _, bad := range []string{"5x", "-1h", "2001-01-01"} {
		r = runLuci(t, luciInput{"addDevice": map[string]any{"name": "guest", "mode": "split", "dns": "", "keep": false, "expires": bad}})
		if a := r.AddDevice; len(a.Calls) != 0 || !strings.Contains(a.Error, bad) {
			t.Errorf("expires %q: %+v", bad, a)
		}
	}
}

// Import: a wg-quick file is read field by field, each problem named
// with its line and field; a device's own file becomes a peer with the
// public key of its private key and its addresses as allowed IPs.
func TestLuciImport(t *testing.T) {
	good := "[Interface]\nPrivateKey = " + testKey + "\nListenPort = 51820\nAddress = 10.0.0.1/24, fd00:10::1/64\nMTU = 1420\nPostUp = iptables -A FORWARD\n\n" +
		"# the phone\n[Peer]\nPublicKey = " + luciPeerKey + "\nAllowedIPs = 10.0.0.2/32\nEndpoint = [2001:db8::7]:51821\nPersistentKeepalive = 25\n\n" +
		"[Peer]\nPublicKey = " + luciOtherKey + "\nEndpoint = vpn.example.com:51820\nAllowedIPs = 0.0.0.0/0\n"
	bad := "[Interface]\nPrivateKey = nonsense\nListenPort = 70000\nAddress = 10.0.0.300/24\nMTU = 100\nFwMark = 0xg\nColour = blue\n" +
		"[Peer]\nAllowedIPs = 10.0.0.2/33\nEndpoint = vpn.example.com\nPersistentKeepalive = often\n"
	r := runLuci(t, luciInput{"wgQuick": []string{good, bad, "hello"},
		"importPeer": "[Interface]\nPrivateKey = " + testKey + "\nAddress = 10.0.0.7/24, fd00:10::7/64\n[Peer]\nPublicKey = " + luciPeerKey + "\nPresharedKey = " + luciOtherKey + "\n",
		"rpc":        map[string]any{"getPublicKey": map[string]any{"public_key": luciOtherKey}}})

	g := r.WgQuick[0]
	if len(g.Errors) != 0 || len(g.Notes) != 1 || !strings.Contains(g.Notes[0], "Line 6, PostUp") {
		t.Errorf("good file: errors %q, notes %q", g.Errors, g.Notes)
	}
	jsonEqual(t, "interface", g.Iface, `{"private_key":"`+testKey+`","listen_port":"51820","addresses":["10.0.0.1/24","fd00:10::1/64"],"dns":[],"mtu":"1420"}`)
	jsonEqual(t, "peers", g.Peers, `[{"public_key":"`+luciPeerKey+`","allowed_ips":["10.0.0.2/32"],"endpoint_host":"2001:db8::7","endpoint_port":"51821","persistent_keepalive":"25","line":9},`+
		`{"public_key":"`+luciOtherKey+`","allowed_ips":["0.0.0.0/0"],"endpoint_host":"vpn.example.com","endpoint_port":"51820","line":15}]`)

	wantBad := []string{"Line 2, PrivateKey", "Line 3, ListenPort", "Line 4, Address: \"10.0.0.300/24\"", "Line 5, MTU", "Line 6, FwMark",
		"Line 7, Colour", "Line 9, AllowedIPs: \"10.0.0.2/33\"", "Line 10, Endpoint", "Line 11, PersistentKeepalive", "Line 8, [Peer]: PublicKey is missing"}
	if b := r.WgQuick[1]; len(b.Errors) != len(wantBad) {
		t.Errorf("bad file errors %q, want %d", b.Errors, len(wantBad))
	} else {
		for i, w := range wantBad {
			if !strings.HasPrefix(b.Errors[i], w) {
				t.Errorf("error %d: %q, want %q...", i, b.Errors[i], w)
			}
		}
		for _, e := range b.Errors {
			if strings.Contains(e, "nonsense") {
				t.Errorf("an error echoes the key field's value: %q", e)
			}
		}
	}
	if e := r.WgQuick[2].Errors; len(e) != 1 || !strings.Contains(e[0], "Line 1") {
		t.Errorf("not a config: %q", e)
	}
	jsonEqual(t, "imported peer", r.ImportPeer, `[{"public_key":"`+luciOtherKey+`","private_key":"`+testKey+`","preshared_key":"`+luciOtherKey+`","allowed_ips":["10.0.0.7/32","fd00:10::7/128"]}]`)
}

// Status > wgd: every interface of the configuration and its peers with
// their states, the firewall and the daemon's problems; a stopped daemon
// says so once, on top, and every row follows.
func TestLuciStatusPage(t *testing.T) {
	now := time.Now()
	st := api.Status{
		Problems: []string{"network:12: wireguard_wg0 'x': option public_key: not a WireGuard key"},
		Interfaces: []api.InterfaceStatus{
			{Name: "wg0", Up: true, ListenPort: 51820, PublicKey: mustKey(t, luciOtherKey), Addresses: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")},
				Peers: []api.PeerStatus{{PublicKey: mustKey(t, luciPeerKey), LatestHandshake: now.Unix() - 30, Endpoint: "198.51.100.7:51820", RxBytes: 2048, TxBytes: 4096,
					TotalRxBytes: 5 << 30, TotalTxBytes: 3 << 20}}},
			{Name: "wg1", Error: "listen port 51820 is in use", Peers: []api.PeerStatus{}},
			{Name: "wg2", Peers: []api.PeerStatus{}},
		},
	}
	st.Firewall.Backend = "fw4"
	uci := map[string]any{
		"wg0":   luciUCI["wg0"],
		"wg1":   map[string]any{".type": "interface", "proto": "wgd"},
		"wg2":   map[string]any{".type": "interface", "proto": "wgd"},
		"lan":   map[string]any{".type": "interface", "proto": "static"},
		"peer1": map[string]any{".type": "wireguard_wg0", "description": "laptop", "public_key": luciPeerKey},
		"peer2": map[string]any{".type": "wireguard_wg0", ".anonymous": true, "public_key": luciOtherKey, "disabled": "1"},
		"peer3": map[string]any{".type": "wireguard_wg1", "public_key": luciPeerKey},
	}
	// wg2's refused `wgd ifup` is known to netifd only (the handler's
	// error), as after a listen port held by another program.
	netifd := []any{
		map[string]any{"interface": "wg1", "proto": "wgd", "up": false},
		map[string]any{"interface": "wg2", "proto": "wgd", "up": false, "errors": []any{map[string]any{"subsystem": "wgd", "code": "WGD_IFUP_FAILED",
			"data": []string{"wgd ifup: wg2: listen port in use: 51821 is held by another program"}}}},
		map[string]any{"interface": "lan", "proto": "static", "up": true, "errors": []any{map[string]any{"code": "NOT_OURS"}}},
	}
	r := runLuci(t, luciInput{"uci": uci, "statusPage": statusJSON(t, st), "netifd": netifd})
	p := r.StatusPage
	if !reflect.DeepEqual(p.Ifaces, [][2]string{{"wg0", "up"}, {"wg1", "down"}, {"wg2", "down"}}) || !reflect.DeepEqual(p.Peers, []string{"online", "disabled", "down"}) ||
		!reflect.DeepEqual(p.Daemon, []string{"running"}) {
		t.Errorf("status page: %+v", p)
	}
	if !regexp.MustCompile(`3[0-3] s ago`).MatchString(p.Text) {
		t.Errorf("status page lacks the handshake age:\n%s", p.Text)
	}
	for _, want := range []string{"Down: wgd could not bring the interface up: wgd ifup: wg2: listen port in use: 51821 is held by another program",
		"laptop", "198.51.100.7:51820", "2.0 KiB / 4.0 KiB", "5.0 GiB / 3.0 MiB", "Total received / sent", "listen port 51820 is in use", "Firewall: fw4", "not a WireGuard key", "10.0.0.1/24"} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("status page lacks %q:\n%s", want, p.Text)
		}
	}

	// What `wgd doctor --json` reports: problems and warnings with what to
	// do; the checks that passed only counted.
	report := doctor.NewReport([]doctor.Finding{
		{Check: "daemon", Severity: doctor.OK, Message: "wgd is running"},
		{Check: "firewall", Interface: "wg0", Severity: doctor.Fail, Message: "UDP port 51820 is closed to the WAN over IPv4: chain inet fw4 input drops it", Fix: "let wgd open it"},
		{Check: "mtu", Interface: "wg0", Severity: doctor.Warn, Message: "the tunnel's MTU 1420 does not fit the WAN's 1400"},
	})
	r = runLuci(t, luciInput{"uci": uci, "statusPage": statusJSON(t, st), "doctor": report})
	p = r.StatusPage
	if !reflect.DeepEqual(p.Findings, []string{"fail", "warn"}) {
		t.Errorf("doctor findings %v, want fail and warn", p.Findings)
	}
	for _, want := range []string{"wg0: UDP port 51820 is closed", "let wgd open it", "1 other checks passed"} {
		if !strings.Contains(p.Doctor, want) {
			t.Errorf("diagnosis lacks %q:\n%s", want, p.Doctor)
		}
	}
	if strings.Contains(p.Doctor, "wgd is running") {
		t.Errorf("diagnosis lists a check that passed:\n%s", p.Doctor)
	}
	r = runLuci(t, luciInput{"uci": uci, "statusPage": statusJSON(t, st), "doctor": doctor.NewReport(nil)})
	if d := r.StatusPage.Doctor; !strings.Contains(d, "No problem found") {
		t.Errorf("diagnosis of a healthy router:\n%s", d)
	}

	r = runLuci(t, luciInput{"uci": uci, "statusPage": map[string]any{"error": "the wgd service is not running"}})
	p = r.StatusPage
	if !reflect.DeepEqual(p.Daemon, []string{"stopped"}) || !reflect.DeepEqual(p.Ifaces, [][2]string{{"wg0", "stopped"}, {"wg1", "stopped"}, {"wg2", "stopped"}}) ||
		!reflect.DeepEqual(p.Peers, []string{"stopped", "disabled", "stopped"}) {
		t.Errorf("status page, daemon stopped: %+v", p)
	}
}

// Keys come from the luci.wgd backend, which the views reach only
// through rpc.declare.
func TestLuciViewBackend(t *testing.T) {
	r := runLuci(t, luciInput{})
	methods := map[string]bool{}
	for _, d := range r.RPC {
		if d["object"] == "network.interface" && d["method"] == "dump" {
			continue // netifd's errors on Status > wgd
		}
		if d["object"] != "luci.wgd" {
			t.Errorf("rpc object %v", d["object"])
		}
		methods[d["method"].(string)] = true
	}
	for _, m := range []string{"status", "doctor", "generateKeyPair", "generatePsk", "getPublicKey", "addPeer", "showPeer"} {
		if !methods[m] {
			t.Errorf("no rpc.declare of luci.wgd %s", m)
		}
	}
	if !reflect.DeepEqual(r.Tabs, []string{"peers"}) {
		t.Errorf("tabs %v", r.Tabs)
	}
}

// A dialog opened from the interface editor (LuCI's modal) stacks on it:
// the editor's parts are hidden, not replaced, and come back as they were
// (a part hidden before stays hidden) when the dialog closes.
func TestLuciDialogStacksOnEditor(t *testing.T) {
	r := runLuci(t, luciInput{"stacked": true})
	s := r.Stacked
	if s == nil {
		t.Fatal("no result")
	}
	wantOpen := [][2]string{{"Interfaces » wg0", "none"}, {"form", "none"}, {"Save", "none"}, {"Adddialog", ""}}
	wantClosed := [][2]string{{"Interfaces » wg0", ""}, {"form", ""}, {"Save", "none"}}
	if !reflect.DeepEqual(s.Open, wantOpen) || !reflect.DeepEqual(s.Closed, wantClosed) || s.Modals != 0 {
		t.Errorf("stacked dialog:\n open %q\nclosed %q\nmodals replaced %d", s.Open, s.Closed, s.Modals)
	}
}

// The expiry of "Add device" takes what `wgd peer add --expires` takes
// (config.ParseExpiryFrom) and gives the same time; each sample is
// checked against the daemon's parser at the same moment.
func TestLuciExpiryMatchesDaemon(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	samples := []string{"30m", "48h", "7d", "1d12h", "1d", "0d1s", "1d-1h", "2d-48h", "90s", "1.5h", ".5h", "5.h", "1h30m",
		"500ms", "1500ms", "1us", "1µs", "0", "0s", "-5m", "+5m", "d", "d5h", "+1d", "1.5d", "7D", "5x", "", " 2h ", "1h 30m",
		"65535d", "65536d", "106751d", "2562047h", "2562048h", "1e3s",
		"2026-12-31", "2026-06-15", "2026-06-16", "2026-02-29", "2028-02-29", "2026-13-01", "2026-06-31", "26-12-31",
		"2026-12-31T18:00:00Z", "2026-12-31T18:00:00.5Z", "2026-12-31T18:00:00,5Z", "2026-12-31T18:00:00+02:00",
		"2026-12-31T18:00:00-11:30", "2026-12-31t18:00:00Z", "2026-12-31T24:00:00Z", "2026-12-31T18:60:00Z",
		"2026-12-31T18:00:00", "2026-12-31 18:00:00Z", "2026-06-15T12:00:00Z", "2026-06-15T12:00:01Z", "2026-06-15T13:00:00+01:00",
		"2026-06-15T13:00:01+01:00", "2001-01-01T00:00:00Z"}
	var in []map[string]any
	for _, s := range samples {
		in = append(in, map[string]any{"value": s, "now": now.Unix()})
	}
	r := runLuci(t, luciInput{"expiry": in})
	for i, s := range samples {
		got := r.Expiry[i]
		want, err := config.ParseExpiryFrom(s, now)
		if s == "" {
			// Empty is "never" in the dialog: no --expires at all.
			if !got.Valid {
				t.Errorf("empty expiry refused")
			}
			continue
		}
		if (err == nil) != got.Valid || (err == nil) != (got.Parsed.Time != nil) {
			t.Errorf("expires %q: browser %+v, daemon %v", s, got.Parsed, err)
			continue
		}
		if err == nil && *got.Parsed.Time != want.Unix() {
			t.Errorf("expires %q: browser %d, daemon %d (%v)", s, *got.Parsed.Time, want.Unix(), want)
		}
		if err != nil && got.Parsed.Error == "" {
			t.Errorf("expires %q: no message", s)
		}
	}
}

// A user whose ACL lets it read the network configuration only: the
// buttons that need write access (adding a device, importing, showing a
// kept client key) are disabled in the form and on Status > wgd, and a
// call the ACL refuses anyway says so in one line.
func TestLuciReadOnly(t *testing.T) {
	st := statusJSON(t, api.Status{Interfaces: []api.InterfaceStatus{{Name: "wg0", Up: true, ListenPort: 51820, Peers: []api.PeerStatus{}}}})
	uci := map[string]any{
		"wg0":   luciUCI["wg0"],
		"peer1": map[string]any{".type": "wireguard_wg0", "description": "laptop", "public_key": luciPeerKey, "private_key": "KEPT"},
	}
	for _, ro := range []bool{false, true} {
		r := runLuci(t, luciInput{"uci": uci, "readonly": ro, "statusPage": st})
		want := [][2]any{{"Configuration", ro}, {"Add device...", ro}, {"Import peer...", ro}}
		if !reflect.DeepEqual(r.WriteButton, want) {
			t.Errorf("read-only %v: form buttons %v, want %v", ro, r.WriteButton, want)
		}
		if want := [][2]any{{"Configuration", ro}, {"Add device...", ro}}; !reflect.DeepEqual(r.StatusPage.WriteBtn, want) {
			t.Errorf("read-only %v: status page buttons %v, want %v", ro, r.StatusPage.WriteBtn, want)
		}
	}
	denied := "RPC call to luci.wgd/addPeer failed with error -32002: Access denied\n    at ClassConstructor.handleCallReply (rpc.js:82:7)"
	r := runLuci(t, luciInput{
		"addDevice": map[string]any{"name": "phone", "mode": "split", "dns": "", "keep": false},
		"rpc":       map[string]any{"addPeer": map[string]any{"reject": denied}},
	})
	if a := r.AddDevice; a.Error != "RPC call to luci.wgd/addPeer failed with error -32002: Access denied" || len(a.Shown) != 0 {
		t.Errorf("refused add: %+v", a)
	}
	r = runLuci(t, luciInput{"showPeer": true, "rpc": map[string]any{"showPeer": map[string]any{"reject": denied}}})
	if len(r.Notes) != 1 || strings.Contains(r.Notes[0], "unhandled") || !strings.HasSuffix(r.Notes[0], "Access denied") {
		t.Errorf("refused showPeer: notifications %q", r.Notes)
	}
}
