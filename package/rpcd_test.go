package pkgtest

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"wgd/config"
)

// The luci.wgd rpcd plugin under busybox ash with the real wgd: rpcd's
// list and call protocol, keys that belong together, and an error (not a
// failure) when the daemon is not running.
func TestRPCDPlugin(t *testing.T) {
	r := NewRoot(t)
	r.InstallWGD()
	r.Install(getTools(t).luciIPK)
	call := func(stdin, args string) map[string]any {
		t.Helper()
		out := r.MustRun(`printf '%s' "$IN" | /usr/libexec/rpcd/luci.wgd `+args, "IN="+stdin)
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("luci.wgd %s: not a JSON object: %v\n%s", args, err, out)
		}
		return m
	}

	list := call("", "list")
	want := map[string]any{"status": map[string]any{}, "doctor": map[string]any{}, "generateKeyPair": map[string]any{},
		"generatePsk": map[string]any{}, "getPublicKey": map[string]any{"private_key": "str"},
		"addPeer":  map[string]any{"interface": "str", "name": "str", "full_tunnel": false, "dns": "str", "keep_key": false, "expires": "str"},
		"showPeer": map[string]any{"interface": "str", "name": "str"}}
	if !reflect.DeepEqual(list, want) {
		t.Errorf("list: %v, want %v", list, want)
	}

	keys, _ := call("", "call generateKeyPair")["keys"].(map[string]any)
	priv, _ := keys["priv"].(string)
	pub, _ := keys["pub"].(string)
	secret, err := config.ParseSecret(priv)
	if err != nil {
		t.Fatalf("generated private key: %v", err)
	}
	if secret.PublicKey().String() != pub {
		t.Errorf("public key %q does not belong to the private key", pub)
	}
	if got := call(`{"private_key":"`+priv+`"}`, "call getPublicKey")["public_key"]; got != pub {
		t.Errorf("getPublicKey: %v, want %s", got, pub)
	}
	if got := call(`{"private_key":"nonsense"}`, "call getPublicKey"); got["error"] == nil || got["public_key"] != nil {
		t.Errorf("getPublicKey of nonsense: %v", got)
	}
	psk, _ := call("", "call generatePsk")["psk"].(string)
	if _, err := config.ParseSecret(psk); err != nil || psk == priv {
		t.Errorf("psk %q: %v", psk, err)
	}
	st := call("", "call status")
	if e, _ := st["error"].(string); !strings.Contains(e, "not running") {
		t.Errorf("status without a daemon: %v", st)
	}
	// The doctor reports also, and above all, when the daemon is stopped.
	report := call("", "call doctor")
	findings, _ := report["findings"].([]any)
	stopped := false
	for _, f := range findings {
		m, _ := f.(map[string]any)
		stopped = stopped || (m["check"] == "daemon" && m["severity"] == "fail")
	}
	if !stopped || report["failures"] == float64(0) {
		t.Errorf("doctor without a daemon: %v", report)
	}
	if strings.Contains(r.ReadFile("tmp/standin.log"), priv) {
		t.Error("a private key was logged")
	}
	// getPublicKey's input holds a private key: it reaches no command
	// line (jshn's json_load would put it on one).
	r.WriteFile("tmp/in", `{"private_key":"`+priv+`"}`, 0o600)
	lines := execs(t, r, `/usr/libexec/rpcd/luci.wgd call getPublicKey </tmp/in`)
	if !strings.Contains(strings.Join(lines, "\n"), `"pubkey"`) {
		t.Fatalf("the trace lacks wgd pubkey:\n%s", strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if strings.Contains(l, priv) {
			t.Errorf("the private key is on a command line: %s", l)
		}
	}
}

// addPeer runs `wgd peer add` (the real one, no daemon running): the
// answer holds the client config and its QR code, once; the client's key
// is kept only when asked, and only then does showPeer give the config
// again. No key of the client reaches a command line.
func TestRPCDAddPeer(t *testing.T) {
	r := NewRoot(t)
	r.InstallWGD()
	r.Install(getTools(t).luciIPK)
	r.WriteFile("etc/config/network", luciNetwork, 0o644)
	type answer struct {
		Error  string `json:"error"`
		Log    string `json:"log"`
		Client struct {
			Interface, Name, Warning, Config string
			QRSVG                            string `json:"qr_svg"`
		} `json:"client"`
	}
	var lines []string
	call := func(method, in string) answer {
		t.Helper()
		r.WriteFile("tmp/in", in, 0o600)
		lines = append(lines, execs(t, r, `/usr/libexec/rpcd/luci.wgd call `+method+` </tmp/in >/tmp/answer`)...)
		var a answer
		if err := json.Unmarshal([]byte(r.ReadFile("tmp/answer")), &a); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", method, err, r.ReadFile("tmp/answer"))
		}
		return a
	}
	clientKey := func(conf string) string {
		for _, l := range strings.Split(conf, "\n") {
			if k, ok := strings.CutPrefix(l, "PrivateKey = "); ok {
				return k
			}
		}
		t.Fatalf("no private key in the client config:\n%s", conf)
		return ""
	}

	a := call("addPeer", `{"interface":"wg0","name":"phone","full_tunnel":true,"dns":"192.168.1.1"}`)
	if a.Error != "" || a.Client.Name != "phone" || a.Client.Interface != "wg0" || !strings.HasPrefix(a.Client.QRSVG, "<svg") ||
		!strings.Contains(a.Client.Config, "AllowedIPs = 0.0.0.0/0, ::/0") || !strings.Contains(a.Client.Config, "DNS = 192.168.1.1") ||
		!strings.Contains(a.Log, "not running") {
		t.Fatalf("addPeer: %+v", a)
	}
	phoneKey := clientKey(a.Client.Config)
	net := r.ReadFile("etc/config/network")
	if !strings.Contains(net, "config wireguard_wg0 'phone'") || strings.Contains(net, phoneKey) {
		t.Errorf("the peer section is missing, or holds the client's key:\n%s", net)
	}
	if a := call("showPeer", `{"interface":"wg0","name":"phone"}`); a.Error == "" || a.Client.Config != "" {
		t.Errorf("showPeer without a kept key: %+v", a)
	}

	a = call("addPeer", `{"interface":"wg0","name":"tablet","keep_key":true}`)
	if a.Error != "" {
		t.Fatalf("addPeer tablet: %+v", a)
	}
	tabletKey := clientKey(a.Client.Config)
	if s := call("showPeer", `{"interface":"wg0","name":"tablet"}`); s.Error != "" || s.Client.Config != a.Client.Config || s.Client.QRSVG != a.Client.QRSVG {
		t.Errorf("showPeer gives another config: %+v", s)
	}

	if a := call("addPeer", `{"interface":"wg0","name":"bad-name"}`); a.Error == "" || !strings.Contains(a.Error, "bad-name") {
		t.Errorf("addPeer with a bad name: %+v", a)
	}
	if a := call("addPeer", `{"interface":"wg0","name":"--keep-key"}`); a.Error == "" {
		t.Errorf("addPeer with a flag for a name: %+v", a)
	}
	if len(lines) == 0 {
		t.Fatal("nothing traced")
	}
	for _, l := range lines {
		if strings.Contains(l, phoneKey) || strings.Contains(l, tabletKey) || strings.Contains(l, testKey) {
			t.Errorf("a key is on a command line: %s", l)
		}
	}
}

// addPeer through LuCI: the caller's session (uhttpd and rpcd add
// ubus_rpc_session to every call) decides whose uncommitted changes
// block it: its own and the shell's do, another session's do not. An
// expiry reaches `wgd peer add --expires`, which takes or refuses it.
func TestRPCDAddPeerSessionAndExpiry(t *testing.T) {
	r := NewRoot(t)
	r.InstallWGD()
	r.Install(getTools(t).luciIPK)
	r.WriteFile("etc/config/network", luciNetwork, 0o644)
	const mine, other = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	call := func(in string) map[string]any {
		t.Helper()
		r.WriteFile("tmp/in", in, 0o600)
		r.MustRun(`/usr/libexec/rpcd/luci.wgd call addPeer </tmp/in >/tmp/answer`)
		var a map[string]any
		if err := json.Unmarshal([]byte(r.ReadFile("tmp/answer")), &a); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r.ReadFile("tmp/answer"))
		}
		return a
	}
	// A browser closed before Save & Apply left this staged change.
	r.WriteFile("var/run/rpcd/uci-"+other+"/network", "network.wg0.mtu='1280'\n", 0o600)
	if a := call(`{"interface":"wg0","name":"phone","ubus_rpc_session":"` + mine + `"}`); a["error"] != nil || a["client"] == nil {
		t.Fatalf("another session's staged change blocks adding a device: %v", a)
	}
	// Without a session (ubus call from a shell) every session counts.
	if a := call(`{"interface":"wg0","name":"tablet"}`); !strings.Contains(fmt.Sprint(a["error"]), "uncommitted") {
		t.Errorf("without a session: %v", a)
	}
	// The caller's own staged changes do block it.
	r.WriteFile("var/run/rpcd/uci-"+mine+"/network", "network.wg0.mtu='1280'\n", 0o600)
	if a := call(`{"interface":"wg0","name":"tablet","ubus_rpc_session":"` + mine + `"}`); !strings.Contains(fmt.Sprint(a["error"]), "uncommitted") {
		t.Errorf("the caller's own staged change: %v", a)
	}
	// A session id that is not one is ignored: every session counts.
	if a := call(`{"interface":"wg0","name":"tablet","ubus_rpc_session":"../../x"}`); !strings.Contains(fmt.Sprint(a["error"]), "uncommitted") {
		t.Errorf("a bad session id: %v", a)
	}
	os.RemoveAll(r.Path("var/run/rpcd"))

	before := time.Now()
	if a := call(`{"interface":"wg0","name":"guest","expires":"2d"}`); a["error"] != nil {
		t.Fatalf("expires 2d: %v", a)
	}
	cfg, problems := config.Load(r.Path("etc/config"))
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	var guest *config.Peer
	for i, p := range cfg.Interface("wg0").Peers {
		if !p.Expires.IsZero() {
			guest = &cfg.Interface("wg0").Peers[i]
		}
	}
	if guest == nil || !strings.Contains(r.ReadFile("etc/config/network"), "config wireguard_wg0 'guest'") {
		t.Fatalf("no peer guest with an expiry in\n%s", r.ReadFile("etc/config/network"))
	}
	if d := guest.Expires.Sub(before); d < 48*time.Hour-time.Second || d > 48*time.Hour+time.Minute {
		t.Errorf("guest expires %v, %v after the call", guest.Expires, d)
	}
	for _, bad := range []string{"5x", "-1h", "2001-01-01"} {
		a := call(`{"interface":"wg0","name":"late","expires":"` + bad + `"}`)
		if e := fmt.Sprint(a["error"]); !strings.Contains(e, "--expires") {
			t.Errorf("expires %q: %v", bad, a)
		}
	}
	if strings.Contains(r.ReadFile("etc/config/network"), "'late'") {
		t.Error("a refused expiry added the peer")
	}
}
