package pkgtest

// The listen port in firewall4 under netifd: which rule fw4 gets from
// what the package scripts publish, and when it goes away.
//
// fw4 collects rules from ubus in read_ubus() of
// root/usr/share/ucode/fw4.uc (openwrt/firewall4): from every interface's
// netifd data ("firewall" in `network.interface dump`), each rule gets
// `device: rulespec.device ?? ifc.l3_device ?? ifc.device`; from procd
// (`service get_data {"type":"firewall"}`), service and instance rules
// are taken as they are. parse_rule() turns a device into an iifname
// match (templates/rule.uc) and puts a rule with src ZONE and no dest
// into chain input_ZONE, one with src "*" into chain input. So a rule in
// the tunnel's own netifd data matches only packets arriving on the
// tunnel, never the handshakes arriving on the WAN. fw4's ucode does not
// run here (Debian has no ucode); fw4Collect and fw4Render restate those
// few lines, and the tests check the published data against them.

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// fw4Rule is one rule as fw4 collects it from ubus.
type fw4Rule map[string]any

// fw4Collect is what fw4 would read from ubus now: the firewall rules in
// the netifd data of the interfaces that are up (their last update; the
// tunnel device is the interface's name), and those in the data of the
// services procd knows (the last `service set` of each, unless deleted
// since).
func fw4Collect(t *testing.T, r *Root, up ...string) []fw4Rule {
	t.Helper()
	var rules []fw4Rule
	// add collects the rules of one firewall array; a rule without a
	// device gets device, when one is given.
	add := func(list any, label string, device any) {
		l, _ := list.([]any)
		for n, x := range l {
			spec, _ := x.(map[string]any)
			rule := fw4Rule{}
			for k, v := range spec {
				rule[k] = v
			}
			rule["name"] = fmt.Sprintf("ubus:%s rule %d", label, n)
			if device != nil && rule["device"] == nil {
				rule["device"] = device
			}
			rules = append(rules, rule)
		}
	}
	updates := map[string]map[string]any{}
	for _, m := range r.UbusCalls("network.interface", "notify_proto") {
		if a, _ := m["action"].(float64); a == 0 {
			updates[fmt.Sprint(m["interface"])] = m
		}
	}
	for _, ifc := range up {
		u := updates[ifc]
		data, _ := u["data"].(map[string]any)
		add(data["firewall"], ifc+"[wgd]", u["ifname"])
	}
	services := map[string]map[string]any{}
	var order []string
	for _, c := range r.Calls("ubus") {
		for len(c) > 0 && strings.HasPrefix(c[0], "-") {
			c = c[1:]
		}
		if len(c) < 4 || c[0] != "call" || c[1] != "service" {
			continue
		}
		msg := map[string]any{}
		if err := json.Unmarshal([]byte(c[3]), &msg); err != nil {
			t.Fatalf("ubus call service %s: %v", c[2], err)
		}
		name := fmt.Sprint(msg["name"])
		switch c[2] {
		case "set":
			if _, ok := services[name]; !ok {
				order = append(order, name)
			}
			services[name] = msg
		case "delete":
			if msg["instance"] == nil {
				services[name] = nil
			}
		}
	}
	for _, name := range order {
		msg := services[name]
		if msg == nil {
			continue
		}
		data, _ := msg["data"].(map[string]any)
		add(data["firewall"], name, nil)
		instances, _ := msg["instances"].(map[string]any)
		for iname, i := range instances {
			inst, _ := i.(map[string]any)
			idata, _ := inst["data"].(map[string]any)
			add(idata["firewall"], name+"["+iname+"]", nil)
		}
	}
	return rules
}

// fw4Render is the chain and the statement fw4 renders for an accept
// rule with a source and no destination.
func fw4Render(rule fw4Rule) (chain, stmt string) {
	chain = "input"
	if src := fmt.Sprint(rule["src"]); src != "*" {
		chain = "input_" + src
	}
	var parts []string
	if dev, ok := rule["device"].(string); ok && dev != "" {
		parts = append(parts, fmt.Sprintf("iifname %q", dev))
	}
	parts = append(parts, fmt.Sprintf("%s dport %s", rule["proto"], rule["dest_port"]), "counter",
		strings.ToLower(fmt.Sprint(rule["target"])))
	return chain, strings.Join(parts, " ")
}

// firewallConfig is OpenWrt's default /etc/config/firewall, short.
const firewallConfig = `
config defaults
	option input 'REJECT'
	option output 'ACCEPT'
	option forward 'REJECT'

config zone
	option name 'lan'
	list network 'lan'
	option input 'ACCEPT'
	option output 'ACCEPT'
	option forward 'ACCEPT'

config zone
	option name 'wan'
	list network 'wan'
	list network 'wan6'
	option input 'REJECT'
	option output 'ACCEPT'
	option forward 'REJECT'
	option masq '1'
`

// serviceKnown makes `ubus call service list` answer as procd does for a
// running wgd.
func serviceKnown(r *Root) {
	r.WriteFile("tmp/standin-ubus/service.list",
		`{"wgd":{"instances":{"instance1":{"running":true,"pid":1234,"command":["/usr/sbin/wgd","run","--netifd"]}}}}`, 0o644)
}

// fwRoot is protoRoot with LuCI's network configuration, OpenWrt's
// default firewall zones and a running wgd service.
func fwRoot(t *testing.T) *Root {
	t.Helper()
	r := protoRoot(t)
	r.WriteFile("etc/config/network", luciNetwork, 0o600)
	r.WriteFile("etc/config/firewall", firewallConfig, 0o644)
	serviceKnown(r)
	return r
}

// oldProcd makes the root's procd.sh one of a procd that does not
// announce data changes (before 2025): it lacks the data trigger.
func oldProcd(t *testing.T, r *Root) {
	t.Helper()
	p := "lib/functions/procd.sh"
	var kept []string
	for _, l := range strings.Split(r.ReadFile(p), "\n") {
		if !strings.HasPrefix(l, "procd_add_reload_data_trigger()") {
			kept = append(kept, l)
		}
	}
	r.WriteFile(p, strings.Join(kept, "\n"), 0o644)
}

func configChanged(r *Root) []map[string]any {
	return r.UbusCalls("service", "event")
}

// wantOnly checks that fw4 would get exactly one rule, in the chain and
// with the statement given, from the data of service wgd.
func wantOnly(t *testing.T, rules []fw4Rule, chain, stmt string) {
	t.Helper()
	if len(rules) != 1 {
		t.Fatalf("fw4 would get %d rules, want 1: %v", len(rules), rules)
	}
	if rules[0]["name"] != "ubus:wgd rule 0" {
		t.Errorf("rule from %v, want the data of service wgd", rules[0]["name"])
	}
	if c, s := fw4Render(rules[0]); c != chain || s != stmt {
		t.Errorf("fw4 renders %s: %s; want %s: %s", c, s, chain, stmt)
	}
}

// Setup records the port and the wgd service publishes it as procd
// service data: fw4 gets `udp dport 51820 accept` in chain input_wan,
// bound to no device; the interface's netifd data carries no rule.
// Teardown takes it away again.
func TestFirewallPublishedWithTheInterface(t *testing.T) {
	r := fwRoot(t)
	if _, errOut, err := proto(r, "setup", luciData); err != nil {
		t.Fatalf("setup: %v\n%s", err, errOut)
	}
	u := notifies(r)[0]
	if len(u) != 1 {
		t.Fatalf("want one update: %v", r.Records())
	}
	if d, ok := u[0]["data"]; ok {
		t.Errorf("the interface's netifd data carries %v: fw4 would bind it to the tunnel", d)
	}
	if got := r.ReadFile("var/run/wgd-firewall/wg0"); got != "rule Allow-wgd-wg0 wan udp 51820 ACCEPT\n" {
		t.Errorf("recorded rules %q", got)
	}
	sets := r.UbusCalls("service", "set")
	if len(sets) != 1 {
		t.Fatalf("want one `service set`, got %d: %v", len(sets), r.Records())
	}
	jsonEqual(t, "service data", sets[0]["data"], `{"firewall":[{"type":"rule","name":"Allow-wgd-wg0",`+
		`"src":"wan","proto":"udp","dest_port":"51820","target":"ACCEPT"}]}`)
	inst, _ := sets[0]["instances"].(map[string]any)["instance1"].(map[string]any)
	jsonEqual(t, "instance", inst, `{"command":["/usr/sbin/wgd","run","--netifd"],"file":["/usr/sbin/wgd"],"respawn":["3600","5","5"],"stdout":true,"stderr":true}`)
	rules := fw4Collect(t, r, "wg0")
	wantOnly(t, rules, "input_wan", "udp dport 51820 counter accept")
	if _, ok := rules[0]["device"]; ok {
		t.Errorf("the rule is bound to device %v", rules[0]["device"])
	}
	if ev := configChanged(r); len(ev) != 0 {
		t.Errorf("this procd announces the data change itself; the init script told the firewall too: %v", ev)
	}

	// A renew with the same answer publishes nothing new.
	if _, errOut, err := proto(r, "renew", luciData); err != nil {
		t.Fatalf("renew: %v\n%s", err, errOut)
	}
	if sets := r.UbusCalls("service", "set"); len(sets) != 1 {
		t.Errorf("renew sent the service again: %d sets", len(sets))
	}

	if _, errOut, err := proto(r, "teardown", luciData); err != nil {
		t.Fatalf("teardown: %v\n%s", err, errOut)
	}
	if r.Exists("var/run/wgd-firewall/wg0") {
		t.Error("the record outlived the teardown")
	}
	sets = r.UbusCalls("service", "set")
	if len(sets) != 2 {
		t.Fatalf("teardown: want the service sent again, got %d sets", len(sets))
	}
	if d, _ := sets[1]["data"].(map[string]any); d["firewall"] != nil {
		t.Errorf("after teardown the service still publishes %v", d)
	}
	if rules := fw4Collect(t, r); len(rules) != 0 {
		t.Errorf("after teardown fw4 would still get %v", rules)
	}
	if calls := r.Calls("wgd"); !reflect.DeepEqual(calls[len(calls)-1], []string{"ifdown", "wg0"}) {
		t.Errorf("wgd calls: %v", calls)
	}
}

// With a procd that does not announce data changes, the firewall is told
// through a config.change event for package firewall, once per change.
func TestFirewallOlderProcd(t *testing.T) {
	r := fwRoot(t)
	oldProcd(t, r)
	want := `[{"type":"config.change","data":{"package":"firewall"}}]`
	if _, errOut, err := proto(r, "setup", luciData); err != nil {
		t.Fatalf("setup: %v\n%s", err, errOut)
	}
	jsonEqual(t, "events after setup", configChanged(r), want)
	wantOnly(t, fw4Collect(t, r, "wg0"), "input_wan", "udp dport 51820 counter accept")

	// The service sent again unchanged (a reload) tells nobody.
	r.ClearRecords()
	r.Answer("reload", "", "", 0)
	r.MustRun("/etc/init.d/wgd reload")
	if ev := configChanged(r); len(ev) != 0 {
		t.Errorf("an unchanged publication told the firewall: %v", ev)
	}

	r.ClearRecords()
	if _, errOut, err := proto(r, "teardown", luciData); err != nil {
		t.Fatalf("teardown: %v\n%s", err, errOut)
	}
	jsonEqual(t, "events after teardown", configChanged(r), want)
	if rules := fw4Collect(t, r); len(rules) != 0 {
		t.Errorf("after teardown fw4 would still get %v", rules)
	}
}

// Stopping the service takes the rule away with it; procd says nothing
// when service data goes with a service, so the firewall is told, before
// the service is deleted (it reloads a second later).
func TestFirewallServiceStop(t *testing.T) {
	r := fwRoot(t)
	if _, errOut, err := proto(r, "setup", luciData); err != nil {
		t.Fatalf("setup: %v\n%s", err, errOut)
	}
	r.MustRun("/etc/init.d/wgd stop")
	var seq []string
	for _, c := range r.Calls("ubus") {
		if len(c) > 2 && c[0] == "call" && c[1] == "service" && c[2] != "list" {
			seq = append(seq, c[2])
		}
	}
	if want := []string{"set", "event", "delete"}; !reflect.DeepEqual(seq, want) {
		t.Errorf("calls to procd: %v, want %v", seq, want)
	}
	if rules := fw4Collect(t, r, "wg0"); len(rules) != 0 {
		t.Errorf("with wgd stopped fw4 would still get %v", rules)
	}

	// The interface is still up for netifd; the next start opens its
	// port again.
	r.ClearRecords()
	r.MustRun("/etc/init.d/wgd start")
	wantOnly(t, fw4Collect(t, r, "wg0"), "input_wan", "udp dport 51820 counter accept")

	// A stop with nothing published tells nobody.
	r.MustRun("/etc/init.d/wgd stop")
	r.ClearRecords()
	r.MustRun("rm -r /var/run/wgd-firewall; /etc/init.d/wgd start; /etc/init.d/wgd stop")
	if ev := configChanged(r); len(ev) != 0 {
		t.Errorf("nothing was published, yet the firewall was told: %v", ev)
	}
}

// An interface that comes up while the service is stopped does not start
// it: its port is recorded and published with the next start.
func TestFirewallServiceNotRunning(t *testing.T) {
	r := fwRoot(t)
	os.Remove(r.Path("tmp/standin-ubus/service.list"))
	if _, errOut, err := proto(r, "setup", luciData); err != nil {
		t.Fatalf("setup: %v\n%s", err, errOut)
	}
	if sets := r.UbusCalls("service", "set"); len(sets) != 0 {
		t.Errorf("a stopped service was started: %v", sets)
	}
	if got := r.ReadFile("var/run/wgd-firewall/wg0"); got != "rule Allow-wgd-wg0 wan udp 51820 ACCEPT\n" {
		t.Errorf("recorded rules %q", got)
	}
	r.MustRun("/etc/init.d/wgd start")
	wantOnly(t, fw4Collect(t, r, "wg0"), "input_wan", "udp dport 51820 counter accept")
}

// The rule is the daemon's, zone included (config.ListenZones chooses
// it: the zone of the tunlink, else of wan_interface, else of wan and
// wan6; "*", every zone, when none covers them): the handler and the
// init script forward it as it is, whatever zones /etc/config/firewall
// has, and the daemon's problem about it reaches the log.
func TestFirewallRuleForwarded(t *testing.T) {
	answer, _ := os.ReadFile("testdata/ifup-wg0.json")
	for _, c := range []struct{ src, chain string }{{"lte", "input_lte"}, {"*", "input"}} {
		t.Run(c.src, func(t *testing.T) {
			r := fwRoot(t)
			r.WriteFile("etc/config/firewall", "config defaults\n", 0o644)
			a := strings.Replace(string(answer), `"src":"wan"`, fmt.Sprintf("%q:%q", "src", c.src), 1)
			a = strings.Replace(a, `"problems":[`, `"problems":["no firewall zone covers wan wan6: the listen port is opened in every zone",`, 1)
			r.Answer("ifup", a, "", 0)
			if _, errOut, err := proto(r, "setup", luciData); err != nil {
				t.Fatalf("setup: %v\n%s", err, errOut)
			}
			wantOnly(t, fw4Collect(t, r, "wg0"), c.chain, "udp dport 51820 counter accept")
			var rule map[string]any
			json.Unmarshal([]byte(a), &rule)
			jsonEqual(t, "published", r.UbusCalls("service", "set")[0]["data"], `{"firewall":`+mustJSON(t, rule["firewall"])+`}`)
			warned := false
			for _, l := range r.Calls("logger") {
				warned = warned || strings.Contains(strings.Join(l, " "), "no firewall zone covers")
			}
			if !warned {
				t.Errorf("the daemon's warning was not logged: %v", r.Calls("logger"))
			}
		})
	}
	// A rule with a field that is not a plain word is not forwarded.
	r := fwRoot(t)
	r.Answer("ifup", strings.Replace(string(answer), `"src":"wan"`, `"src":"wan lan"`, 1), "", 0)
	proto(r, "setup", luciData)
	if rules := fw4Collect(t, r, "wg0"); len(rules) != 0 {
		t.Errorf("fw4 would get %v", rules)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// An interface whose port stays closed (open_firewall '0', or no fixed
// listen_port: the daemon answers without rules) publishes nothing, and
// one that loses its rule on a renew has it taken away.
func TestFirewallNoPort(t *testing.T) {
	r := fwRoot(t)
	answer, _ := os.ReadFile("testdata/ifup-wg0.json")
	var a map[string]any
	json.Unmarshal(answer, &a)
	delete(a, "firewall")
	closed, _ := json.Marshal(a)

	r.Answer("ifup", string(closed), "", 0)
	if _, errOut, err := proto(r, "setup", luciData); err != nil {
		t.Fatalf("setup: %v\n%s", err, errOut)
	}
	if r.Exists("var/run/wgd-firewall/wg0") || len(r.UbusCalls("service", "set")) != 0 {
		t.Errorf("a closed port was recorded or published: %v", r.Records())
	}

	r.Answer("ifup", string(answer), "", 0)
	proto(r, "renew", luciData)
	wantOnly(t, fw4Collect(t, r, "wg0"), "input_wan", "udp dport 51820 counter accept")
	r.Answer("ifup", string(closed), "", 0)
	proto(r, "renew", luciData)
	if rules := fw4Collect(t, r, "wg0"); len(rules) != 0 {
		t.Errorf("open_firewall turned off, fw4 would still get %v", rules)
	}

	// A failed setup closes the port too: the daemon is not listening.
	r.Answer("ifup", string(answer), "", 0)
	proto(r, "renew", luciData)
	r.Answer("ifup", "", "wgd ifup: wg0: no TUN\n", 1)
	proto(r, "renew", luciData)
	if rules := fw4Collect(t, r, "wg0"); len(rules) != 0 || r.Exists("var/run/wgd-firewall/wg0") {
		t.Errorf("after a failed setup fw4 would still get %v", rules)
	}
}

// Two interfaces: each adds its own rule, and one going down leaves the
// other's.
func TestFirewallTwoInterfaces(t *testing.T) {
	r := fwRoot(t)
	answer, _ := os.ReadFile("testdata/ifup-wg0.json")
	r.WriteFile("etc/config/network", luciNetwork+"\nconfig interface 'wg1'\n\toption proto 'wgd'\n\toption listen_port '51821'\n", 0o600)
	proto(r, "setup", luciData)
	wg1 := strings.NewReplacer(`"interface":"wg0"`, `"interface":"wg1"`, `"51820"`, `"51821"`, `"Allow-wgd-wg0"`, `"Allow-wgd-wg1"`).Replace(string(answer))
	r.Answer("ifup", wg1, "", 0)
	if _, errOut, err := r.Run(`cd /lib/netifd/proto && ./wgd.sh wgd setup wg1 "$DATA" wg1`, "DATA="+luciData); err != nil {
		t.Fatalf("setup wg1: %v\n%s", err, errOut)
	}
	var got []string
	for _, rule := range fw4Collect(t, r, "wg0", "wg1") {
		c, s := fw4Render(rule)
		got = append(got, c+": "+s)
	}
	want := []string{"input_wan: udp dport 51820 counter accept", "input_wan: udp dport 51821 counter accept"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fw4 would render %v, want %v", got, want)
	}
	proto(r, "teardown", luciData)
	wantOnly(t, fw4Collect(t, r, "wg1"), "input_wan", "udp dport 51821 counter accept")
}

// The model above, on the data the handler used to send: a rule in the
// tunnel's netifd data renders bound to the tunnel device.
func TestFw4BindsInterfaceData(t *testing.T) {
	r := protoRoot(t)
	r.MustRun(`. /usr/share/libubox/jshn.sh; . /lib/netifd/netifd-proto.sh
proto_init_update wg0 1
proto_add_data
json_add_array firewall
json_add_object ""
json_add_string type rule
json_add_string src wan
json_add_string proto udp
json_add_string dest_port 51820
json_add_string target ACCEPT
json_close_object
json_close_array
proto_close_data
proto_send_update wg0`)
	rules := fw4Collect(t, r, "wg0")
	if len(rules) != 1 {
		t.Fatalf("rules %v", rules)
	}
	if c, s := fw4Render(rules[0]); c != "input_wan" || s != `iifname "wg0" udp dport 51820 counter accept` {
		t.Errorf("fw4 renders %s: %s", c, s)
	}
}
