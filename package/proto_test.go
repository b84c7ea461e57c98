package pkgtest

import (
	"encoding/json"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
)

// testKey is a private key that appears in netifd's data; it must never
// reach netifd's messages or the log.
const testKey = "sGDoYpUG5FV0tPw/4sX/dmRMKm+VOdZ5C0W0rIsLHGI="

// luciData is netifd's JSON of a LuCI-style wgd interface: the options
// the handler declares, as netifd passes them to setup (on the handler's
// command line: so never the private key).
const luciData = `{"listen_port":51820,` +
	`"addresses":"10.0.0.1/24 fd00:10::1/64","nohostroute":false,"tunlink":"wan","ip6prefix":"fd00:99::/48"}`

// luciNetwork is the same interface in /etc/config/network, as LuCI
// writes it.
const luciNetwork = `
config interface 'wg0'
	option proto 'wgd'
	option private_key '` + testKey + `'
	option listen_port '51820'
	list addresses '10.0.0.1/24'
	list addresses 'fd00:10::1/64'

config wireguard_wg0
	option description 'laptop'
	option public_key 'eQ1Ojp7Xe5y6jz/HO8lQ3hP2T5LqYnGVwQJzV2jCDnA='
	list allowed_ips '10.0.0.2/32'
	option route_allowed_ips '1'
`

// protoRoot is a root with the wgd package, the fake wgd answering
// `wgd ifup` with testdata/ifup-wg0.json, and the daemon's control socket
// present.
func protoRoot(t *testing.T) *Root {
	t.Helper()
	r := NewRoot(t)
	r.InstallWGD()
	r.FakeWGD()
	answer, err := os.ReadFile("testdata/ifup-wg0.json")
	if err != nil {
		t.Fatal(err)
	}
	r.Answer("ifup", string(answer), "", 0)
	r.WriteFile("etc/config/network", luciNetwork, 0o644)
	l, err := net.Listen("unix", r.Path("var/run/wgd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return r
}

// proto runs the handler as netifd does: from /lib/netifd/proto, with the
// protocol, the action, the interface, its config data and its device.
func proto(r *Root, action, data string, env ...string) (string, string, error) {
	return r.Run(`cd /lib/netifd/proto && ./wgd.sh wgd "$ACT" wg0 "$DATA" wg0`,
		append([]string{"ACT=" + action, "DATA=" + data}, env...)...)
}

// notifies are the messages the handler sent netifd, by action.
func notifies(r *Root) map[float64][]map[string]any {
	out := map[float64][]map[string]any{}
	for _, m := range r.UbusCalls("network.interface", "notify_proto") {
		a, _ := m["action"].(float64)
		out[a] = append(out[a], m)
	}
	return out
}

func jsonEqual(t *testing.T, what string, got any, wantJSON string) {
	t.Helper()
	var want, norm any
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatalf("bad test JSON %s: %v", wantJSON, err)
	}
	g, _ := json.Marshal(got)
	json.Unmarshal(g, &norm)
	if !reflect.DeepEqual(norm, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, wantJSON)
	}
}

func noSecret(t *testing.T, r *Root) {
	t.Helper()
	if strings.Contains(r.ReadFile("tmp/standin.log"), testKey) {
		t.Errorf("the private key reached netifd's messages or the log:\n%s", r.ReadFile("tmp/standin.log"))
	}
}

// `init_proto ... dump`: netifd's view of the protocol. The options are
// those of netifd's wireguard protocol but private_key (fwmark a string,
// listen_port an int, addresses a string; mtu a string, for a number or
// auto), plus the ones its handler reads on the side (nohostroute,
// tunlink, ip6prefix) and wgd's open_firewall, so that netifd sets the
// interface up again when one changes.
func TestProtoDump(t *testing.T) {
	r := NewRoot(t)
	r.InstallWGD()
	out := r.MustRun(`cd /lib/netifd/proto && ./wgd.sh '' dump`)
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("dump is not JSON: %v\n%s", err, out)
	}
	jsonEqual(t, "config", got["config"], `[["listen_port",5],["mtu",3],["fwmark",3],`+
		`["addresses",3],["nohostroute",7],["tunlink",3],["ip6prefix",3],["open_firewall",7]]`)
	// lasterror: netifd keeps the error while it tries again.
	for _, k := range []string{"no-proto-task", "available", "renew-handler", "lasterror"} {
		if got[k] != true {
			t.Errorf("%s = %v, want true", k, got[k])
		}
	}
	if got["name"] != "wgd" || got["no-device"] != false {
		t.Errorf("name %v, no-device %v", got["name"], got["no-device"])
	}
}

// Setup for a LuCI-style configuration: what the daemon answered reaches
// netifd as addresses, routes, the IPv6 prefix and host dependencies on
// the endpoints via the tunlink. The firewall rule does not: fw4 would
// bind it to the tunnel (firewall_test.go).
func TestProtoSetup(t *testing.T) {
	r := protoRoot(t)
	if out, errOut, err := proto(r, "setup", luciData); err != nil {
		t.Fatalf("setup: %v\n%s%s", err, out, errOut)
	}
	if calls := r.Calls("wgd"); !reflect.DeepEqual(calls, [][]string{{"ifup", "wg0"}}) {
		t.Errorf("wgd calls: %v", calls)
	}
	n := notifies(r)
	if len(n[3]) != 0 || len(n[4]) != 0 || len(n[7]) != 0 {
		t.Errorf("errors sent to netifd: %v", r.Records())
	}
	if len(n[0]) != 1 {
		t.Fatalf("want one update, got %d: %v", len(n[0]), r.Records())
	}
	u := n[0][0]
	if u["ifname"] != "wg0" || u["interface"] != "wg0" || u["link-up"] != true {
		t.Errorf("update head: ifname %v interface %v link-up %v", u["ifname"], u["interface"], u["link-up"])
	}
	jsonEqual(t, "ipaddr", u["ipaddr"], `[{"ipaddr":"10.0.0.1","mask":"24"}]`)
	jsonEqual(t, "ip6addr", u["ip6addr"], `[{"ipaddr":"fd00:10::1","mask":"64"}]`)
	// A metric the daemon chose reaches netifd (proto_add_ipv4_route's
	// fifth argument), so the route stays beside the WAN's own.
	jsonEqual(t, "routes", u["routes"], `[{"target":"10.0.0.2","netmask":"32"},{"target":"192.168.9.0","netmask":"24"},`+
		`{"target":"0.0.0.0","netmask":"1"},{"target":"128.0.0.0","netmask":"1"},{"target":"192.168.1.0","netmask":"24","metric":1}]`)
	jsonEqual(t, "routes6", u["routes6"], `[{"target":"fd00:10::2","netmask":"128"}]`)
	jsonEqual(t, "ip6prefix", u["ip6prefix"], `["fd00:99::/48"]`)
	if d, ok := u["data"]; ok {
		t.Errorf("netifd data %v, want none", d)
	}

	jsonEqual(t, "host dependencies", n[6], `[{"action":6,"host":"198.51.100.7","ifname":"wan","interface":"wg0"},`+
		`{"action":6,"host":"2001:db8::7","ifname":"wan","interface":"wg0"}]`)
	for _, c := range r.Calls("ubus") {
		if strings.Contains(strings.Join(c, " "), `"action":6`) && c[0] != "-S" {
			t.Errorf("a host dependency is sent with ubus -S (no reply wanted): %v", c)
		}
	}
	logged := false
	for _, c := range r.Calls("logger") {
		if strings.Contains(strings.Join(c, " "), "phone.invalid") {
			logged = true
		}
	}
	if !logged {
		t.Errorf("the daemon's problem was not logged: %v", r.Calls("logger"))
	}
	noSecret(t, r)

	// renew is a setup again.
	r.ClearRecords()
	if _, errOut, err := proto(r, "renew", luciData); err != nil {
		t.Fatalf("renew: %v\n%s", err, errOut)
	}
	if len(notifies(r)[0]) != 1 || !reflect.DeepEqual(r.Calls("wgd"), [][]string{{"ifup", "wg0"}}) {
		t.Errorf("renew: %v", r.Records())
	}
}

func TestProtoSetupNoHostRoute(t *testing.T) {
	r := protoRoot(t)
	answer, _ := os.ReadFile("testdata/ifup-wg0.json")
	r.Answer("ifup", strings.Replace(string(answer), `"nohostroute":false`, `"nohostroute":true`, 1), "", 0)
	if _, errOut, err := proto(r, "setup", luciData); err != nil {
		t.Fatalf("setup: %v\n%s", err, errOut)
	}
	n := notifies(r)
	if len(n[6]) != 0 {
		t.Errorf("nohostroute: host dependencies sent: %v", n[6])
	}
	if len(n[0]) != 1 {
		t.Errorf("want the update anyway: %v", r.Records())
	}
}

// The interface itself cannot come up: netifd hears why, does not retry
// until the configuration changes, and takes it down.
func TestProtoSetupIfupFails(t *testing.T) {
	r := protoRoot(t)
	r.Answer("ifup", "", "wgd ifup: wg0: option private_key: not a key\nmore detail\n", 1)
	proto(r, "setup", luciData)
	n := notifies(r)
	if len(n[0]) != 0 {
		t.Errorf("an update was sent for a failed ifup: %v", n[0])
	}
	jsonEqual(t, "error", n[3], `[{"action":3,"error":["WGD_IFUP_FAILED","wgd ifup: wg0: option private_key: not a key"],"interface":"wg0"}]`)
	if len(n[4]) != 1 || len(n[7]) != 1 {
		t.Errorf("want proto_block_restart, then proto_setup_failed (else netifd leaves it pending): %v", r.Records())
	}
	noSecret(t, r)
}

// No daemon (its socket absent): netifd hears it and may retry.
func TestProtoSetupNoDaemon(t *testing.T) {
	r := NewRoot(t)
	r.InstallWGD()
	r.FakeWGD()
	proto(r, "setup", luciData, "WGD_WAIT=0")
	n := notifies(r)
	jsonEqual(t, "error", n[3], `[{"action":3,"error":["WGD_NOT_RUNNING"],"interface":"wg0"}]`)
	if len(n[7]) != 1 || len(n[4]) != 0 || len(n[0]) != 0 {
		t.Errorf("want proto_setup_failed only: %v", r.Records())
	}
	if calls := r.Calls("wgd"); len(calls) != 0 {
		t.Errorf("wgd was run without a daemon: %v", calls)
	}
}

func TestProtoSetupBadAnswer(t *testing.T) {
	r := protoRoot(t)
	r.Answer("ifup", "", "", 0)
	proto(r, "setup", luciData)
	n := notifies(r)
	jsonEqual(t, "error", n[3], `[{"action":3,"error":["WGD_BAD_ANSWER"],"interface":"wg0"}]`)
	if len(n[7]) != 1 || len(n[0]) != 0 {
		t.Errorf("want proto_setup_failed: %v", r.Records())
	}
}

// Like netifd's wireguard protocol, an empty private key gets a new one,
// saved to /etc/config/network before the daemon brings the interface up.
func TestProtoSetupGeneratesKey(t *testing.T) {
	r := protoRoot(t)
	r.WriteFile("etc/config/network", strings.Replace(luciNetwork, "\toption private_key '"+testKey+"'\n", "", 1), 0o644)
	r.Answer("genkey", testKey+"\n", "", 0)
	if _, errOut, err := proto(r, "setup", luciData); err != nil {
		t.Fatalf("setup: %v\n%s", err, errOut)
	}
	if calls := r.Calls("wgd"); !reflect.DeepEqual(calls, [][]string{{"genkey"}, {"ifup", "wg0"}}) {
		t.Errorf("wgd calls: %v", calls)
	}
	if got := r.MustRun("uci get network.wg0.private_key"); strings.TrimSpace(got) != testKey {
		t.Errorf("saved key %q, want the generated one", got)
	}
	if net := r.ReadFile("etc/config/network"); !strings.Contains(net, "option description 'laptop'") {
		t.Errorf("the peer section was lost:\n%s", net)
	}
	noSecret(t, r)
}

func TestProtoTeardown(t *testing.T) {
	r := protoRoot(t)
	if _, errOut, err := proto(r, "teardown", luciData); err != nil {
		t.Fatalf("teardown: %v\n%s", err, errOut)
	}
	if calls := r.Calls("wgd"); !reflect.DeepEqual(calls, [][]string{{"ifdown", "wg0"}}) {
		t.Errorf("wgd calls: %v", calls)
	}
	r.ClearRecords()
	r.Answer("ifdown", "", "wgd ifdown: no daemon\n", 1)
	if _, errOut, err := proto(r, "teardown", luciData); err != nil {
		t.Errorf("teardown must succeed even when wgd ifdown fails: %v\n%s", err, errOut)
	}
	if len(r.Calls("logger")) == 0 {
		t.Error("a failed ifdown is not logged")
	}
}

// Without a tunlink, each endpoint's host dependency names the interface
// holding the default route of its family (network_find_wan, _wan6), so
// netifd never takes the tunnel's own routes (a full tunnel's halves,
// present on a renew) for the way to the endpoint. Without such an
// interface, no name (netifd's own lookup).
func TestProtoSetupUplink(t *testing.T) {
	r := protoRoot(t)
	answer, _ := os.ReadFile("testdata/ifup-wg0.json")
	r.Answer("ifup", strings.Replace(string(answer), `"tunlink":"wan",`, "", 1), "", 0)
	noTunlink := strings.Replace(luciData, `,"tunlink":"wan"`, "", 1)
	if _, errOut, err := proto(r, "setup", noTunlink); err != nil {
		t.Fatalf("setup: %v\n%s", err, errOut)
	}
	jsonEqual(t, "host dependencies without a WAN", notifies(r)[6], `[{"action":6,"host":"198.51.100.7","interface":"wg0"},`+
		`{"action":6,"host":"2001:db8::7","interface":"wg0"}]`)

	r.ClearRecords()
	r.WriteFile("tmp/standin-ubus/network.interface.dump", `{"interface":[`+
		`{"interface":"loopback","route":[{"target":"0.0.0.0","mask":0}]},`+
		`{"interface":"lan","route":[]},`+
		`{"interface":"wg0","route":[{"target":"0.0.0.0","mask":1},{"target":"128.0.0.0","mask":1}]},`+
		`{"interface":"wanb","route":[{"target":"0.0.0.0","mask":0,"nexthop":"192.0.2.1"}]},`+
		`{"interface":"wanb6","route":[{"target":"::","mask":0,"nexthop":"fe80::1"}]}]}`, 0o644)
	if _, errOut, err := proto(r, "renew", noTunlink); err != nil {
		t.Fatalf("renew: %v\n%s", err, errOut)
	}
	jsonEqual(t, "host dependencies", notifies(r)[6], `[{"action":6,"host":"198.51.100.7","ifname":"wanb","interface":"wg0"},`+
		`{"action":6,"host":"2001:db8::7","ifname":"wanb6","interface":"wg0"}]`)
	if len(notifies(r)[0]) != 1 {
		t.Errorf("want the update too: %v", r.Records())
	}
}

// A renew of an interface netifd has down (one queued behind a teardown
// runs after it) asks nothing of the daemon and tells netifd nothing.
func TestProtoRenewOfADownInterface(t *testing.T) {
	r := protoRoot(t)
	r.WriteFile("tmp/standin-ubus/network.interface.wg0.status", `{"up": false, "pending": false, "available": true}`, 0o644)
	if _, errOut, err := proto(r, "renew", luciData); err != nil {
		t.Fatalf("renew: %v\n%s", err, errOut)
	}
	if calls := r.Calls("wgd"); len(calls) != 0 || len(notifies(r)) != 0 {
		t.Errorf("renew of a down interface: wgd %v, netifd %v", calls, notifies(r))
	}
	r.WriteFile("tmp/standin-ubus/network.interface.wg0.status", `{"up": true, "pending": false}`, 0o644)
	if _, errOut, err := proto(r, "renew", luciData); err != nil {
		t.Fatalf("renew: %v\n%s", err, errOut)
	}
	if calls := r.Calls("wgd"); !reflect.DeepEqual(calls, [][]string{{"ifup", "wg0"}}) || len(notifies(r)[0]) != 1 {
		t.Errorf("renew of an interface that is up: wgd %v, netifd %v", calls, r.Records())
	}
}
