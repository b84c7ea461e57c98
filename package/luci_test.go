package pkgtest

import (
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const luciView = "luci-proto-wgd/htdocs/luci-static/resources/protocol/wgd.js"

type luciOption struct {
	Class          string     `json:"class"`
	Name           string     `json:"name"`
	Tab            string     `json:"tab"`
	Datatype       string     `json:"datatype"`
	Password       bool       `json:"password"`
	Rmempty        *bool      `json:"rmempty"`
	SubsectionType string     `json:"subsectionType"`
	Deps           [][]string `json:"deps"`
	Validates      bool       `json:"validates"`
	Samples        struct {
		Good, Bad, Empty any
	} `json:"validateSamples"`
}

type luciResult struct {
	Name        string            `json:"name"`
	Opkg        string            `json:"opkg"`
	Requires    []string          `json:"requires"`
	RPC         []map[string]any  `json:"rpc"`
	Errors      map[string]string `json:"errors"`
	Polls       []float64         `json:"polls"`
	Options     []luciOption      `json:"options"`
	PeerOptions []luciOption      `json:"peerOptions"`
	StatusTexts map[string]string `json:"statusTexts"`
	Widget      struct {
		Tag   string            `json:"tag"`
		Attrs map[string]string `json:"attrs"`
	} `json:"statusWidget"`
}

func TestLuciViewSyntax(t *testing.T) {
	node := needTool(t, "node")
	if out, err := exec.Command(node, "--check", luciView).CombinedOutput(); err != nil {
		t.Fatalf("node --check: %v\n%s", err, out)
	}
}

func renderLuci(t *testing.T) *luciResult {
	t.Helper()
	node := needTool(t, "node")
	out, err := exec.Command(node, "testdata/luci-harness.js", luciView).CombinedOutput()
	if err != nil {
		t.Fatalf("rendering the view: %v\n%s", err, out)
	}
	var r luciResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("harness output: %v\n%s", err, out)
	}
	return &r
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

// The view edits the UCI options LuCI's WireGuard form edits, with the
// same widgets and checks; peers are the wireguard_<interface> sections.
func TestLuciViewFields(t *testing.T) {
	r := renderLuci(t)
	if r.Name != "wgd" || r.Opkg != "wgd" {
		t.Errorf("protocol %q, package %q", r.Name, r.Opkg)
	}
	// LuCI's WireGuard form (luci-proto-wireguard): the interface's and the
	// peers' options. wgd adds the peers' `disabled`, which its
	// configuration reads too.
	wireguardIface := []string{"addresses", "fwmark", "listen_port", "mtu", "nohostroute", "private_key"}
	wireguardPeer := []string{"allowed_ips", "description", "disabled", "endpoint_host", "endpoint_port",
		"persistent_keepalive", "preshared_key", "public_key", "route_allowed_ips"}
	if got := uciNames(r.Options); !reflect.DeepEqual(got, wireguardIface) {
		t.Errorf("interface options %v, want %v", got, wireguardIface)
	}
	if got := uciNames(r.PeerOptions); !reflect.DeepEqual(got, wireguardPeer) {
		t.Errorf("peer options %v, want %v", got, wireguardPeer)
	}

	o := byName(r.Options)
	for name, want := range map[string]struct{ class, tab, datatype string }{
		"private_key":  {"Value", "general", ""},
		"generate_key": {"Button", "general", ""},
		"listen_port":  {"Value", "general", "port"},
		"addresses":    {"DynamicList", "general", "ipaddr"},
		"nohostroute":  {"Flag", "general", ""},
		"mtu":          {"Value", "advanced", "range(1280,1420)"},
		"fwmark":       {"Value", "advanced", ""},
		"_peers":       {"SectionValue", "peers", ""},
	} {
		if got := o[name]; got.Class != want.class || got.Tab != want.tab || got.Datatype != want.datatype {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
	if pk := o["private_key"]; !pk.Password || pk.Rmempty == nil || *pk.Rmempty || !pk.Validates {
		t.Errorf("private_key must be a password field, kept when empty, validated: %+v", pk)
	}
	if pk := o["private_key"]; pk.Samples.Good != true || pk.Samples.Empty != true || pk.Samples.Bad == true {
		t.Errorf("private_key validation: %+v", pk.Samples)
	}
	if fw := o["fwmark"]; fw.Samples.Good != true || fw.Samples.Bad == true {
		t.Errorf("fwmark validation: %+v", fw.Samples)
	}
	if p := o["_peers"]; p.SubsectionType != "wireguard_wg0" || !reflect.DeepEqual(p.Deps, [][]string{{"proto", "wgd"}}) {
		t.Errorf("peer sections: %+v", p)
	}

	po := byName(r.PeerOptions)
	for name, want := range map[string]struct{ class, datatype string }{
		"public_key":           {"Value", ""},
		"preshared_key":        {"Value", ""},
		"generate_psk":         {"Button", ""},
		"allowed_ips":          {"DynamicList", "ipaddr"},
		"route_allowed_ips":    {"Flag", ""},
		"endpoint_host":        {"Value", "host"},
		"endpoint_port":        {"Value", "port"},
		"persistent_keepalive": {"Value", "range(0,65535)"},
		"_status":              {"DummyValue", ""},
	} {
		if got := po[name]; got.Class != want.class || got.Datatype != want.datatype {
			t.Errorf("peer %s: %+v, want %+v", name, got, want)
		}
	}
	if !po["public_key"].Validates || !po["preshared_key"].Validates || !po["preshared_key"].Password {
		t.Errorf("peer keys: %+v %+v", po["public_key"], po["preshared_key"])
	}
}

// Keys come from the luci.wgd backend; every error code the protocol
// handler sends netifd has a message.
func TestLuciViewBackendAndErrors(t *testing.T) {
	r := renderLuci(t)
	methods := map[string]bool{}
	for _, d := range r.RPC {
		if d["object"] != "luci.wgd" {
			t.Errorf("rpc object %v", d["object"])
		}
		methods[d["method"].(string)] = true
	}
	for _, m := range []string{"status", "generateKeyPair", "generatePsk", "getPublicKey"} {
		if !methods[m] {
			t.Errorf("no rpc.declare of luci.wgd %s", m)
		}
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
}

// Each peer shows its live state (handshake age, endpoint, traffic),
// refreshed by one poll every 5 s.
func TestLuciViewPeerStatus(t *testing.T) {
	r := renderLuci(t)
	live := r.StatusTexts["live"]
	for _, want := range []string{"42 s ago", "198.51.100.7:51820", "1.5 KiB", "3.0 MiB"} {
		if !strings.Contains(live, want) {
			t.Errorf("live status %q lacks %q", live, want)
		}
	}
	if !strings.Contains(r.StatusTexts["never"], "No handshake") {
		t.Errorf("never: %q", r.StatusTexts["never"])
	}
	if !strings.Contains(r.StatusTexts["down"], "no TUN") {
		t.Errorf("down: %q", r.StatusTexts["down"])
	}
	if r.StatusTexts["unknown"] == "" {
		t.Error("no text for a peer the daemon does not know")
	}
	if r.Widget.Tag != "span" || r.Widget.Attrs["data-wgd-peer"] != "PUB1" || r.Widget.Attrs["data-wgd-iface"] != "wg0" {
		t.Errorf("status widget %+v", r.Widget)
	}
	if !reflect.DeepEqual(r.Polls, []float64{5}) {
		t.Errorf("polls %v, want one every 5 s", r.Polls)
	}
}
