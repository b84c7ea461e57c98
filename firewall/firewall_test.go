package firewall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testLogger writes the backends' log lines to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestHoleComment(t *testing.T) {
	for _, c := range []struct {
		h    Hole
		want string
	}{
		{Hole{Interface: "wg0", Port: 51820}, "wgd:wg0:51820"},
		{Hole{Interface: "wg0", Port: 51820, Device: "eth1", Zone: "wan"}, "wgd:wg0:51820:eth1"},
	} {
		if got := c.h.comment(); got != c.want {
			t.Errorf("%+v: comment %q, want %q", c.h, got, c.want)
		}
		if !isOurs(c.want) {
			t.Errorf("isOurs(%q) = false", c.want)
		}
	}
	for _, c := range []string{"wgdx:wg0:1", "other", "", "wg", "xwgd:wg0:1"} {
		if isOurs(c) {
			t.Errorf("isOurs(%q) = true: someone else's rule would be taken for wgd's", c)
		}
	}
}

func TestWantedValidates(t *testing.T) {
	got, err := wanted([]Hole{
		{Interface: "wg1", Port: 2},
		{Interface: "wg0", Port: 1},
		{Interface: "wg0", Port: 1}, // the same rule twice is one rule
		{Interface: "wg2"},          // no port
		{Interface: `a"b`, Port: 3}, // would break a comment
		{Interface: "wg3", Port: 4, Device: "eth1 accept"},
		{Interface: "wg4", Port: 5, Zone: "wan;drop"},
		{Interface: "wg5", Port: 6, Device: "averylongdevicename"}, // over the kernel's 15
	})
	want := []Hole{{Interface: "wg0", Port: 1}, {Interface: "wg1", Port: 2}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("wanted = %+v, want %+v", got, want)
	}
	if err == nil {
		t.Fatal("invalid holes gave no error")
	}
	for _, s := range []string{"wg2: no listen port", `"a\"b"`, `"eth1 accept"`, `"wan;drop"`, `"averylongdevicename"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
}

// TestFw4Rules pins the JSON that procd and netifd carry to firewall4: the
// same option names and value spellings as a `config rule` section.
func TestFw4Rules(t *testing.T) {
	rules, err := Fw4Rules([]Hole{
		{Interface: "wg1", Port: 51821, Zone: "wan", Device: "pppoe-wan"},
		{Interface: "wg0", Port: 51820},
	})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(rules); err != nil {
		t.Fatal(err)
	}
	want := `[{"type":"rule","name":"Allow-wgd-wg0","src":"*","proto":"udp","dest_port":"51820","target":"ACCEPT"},` +
		`{"type":"rule","name":"Allow-wgd-wg1","src":"wan","device":"pppoe-wan","proto":"udp","dest_port":"51821","target":"ACCEPT"}]` + "\n"
	if b.String() != want {
		t.Errorf("Fw4Rules JSON:\n got %s\nwant %s", b.String(), want)
	}

	if rules, err := Fw4Rules(nil); err != nil || rules == nil || len(rules) != 0 {
		t.Errorf("Fw4Rules(nil) = %#v, %v; want an empty (not nil) list: it renders as [] in JSON", rules, err)
	}
	if _, err := Fw4Rules([]Hole{{Interface: "wg0"}}); err == nil {
		t.Error("Fw4Rules accepted a hole without a port")
	}
}

// TestFw4Sync: the fw4 backend compares what procd publishes for service
// wgd with the listen ports. ubus does not run here, so the command's
// answer is given; what is tested is the reading of both shapes procd
// answers with, and the verdict.
func TestFw4Sync(t *testing.T) {
	holes := []Hole{{Interface: "wg0", Port: 51820}}
	const instanceData = `{"wgd":{"instance1":{"firewall":[{"type":"rule","name":"x","src":"*","proto":"udp","dest_port":"51820","target":"ACCEPT"}]}}}`
	const serviceData = `{"wgd":{"firewall":[{"type":"rule","src":"*","proto":"UDP","dest_port":"51820","target":"accept"}]}}`
	for _, c := range []struct {
		name    string
		answer  string
		runErr  error
		wantErr string // "" = match
	}{
		{"instance data", instanceData, nil, ""},
		{"service data", serviceData, nil, ""},
		{"nothing published", `{}`, nil, "not published: udp 51820"},
		{"old port published", strings.ReplaceAll(instanceData, "51820", "51000"), nil, "published but not listening: udp 51000"},
		{"not under procd", "", errors.New("ubus call: exit status 4: Not found"), "reading procd data of service wgd"},
	} {
		t.Run(c.name, func(t *testing.T) { syncCase(t, holes, c.answer, c.runErr, c.wantErr) })
	}
	// What /etc/init.d/wgd publishes for an interface whose WAN side is
	// zone wan (package/wgd/files/wgd.init forwards the fields of the ifup
	// answer's rule): Sync finds exactly that rule.
	zoned := []Hole{{Interface: "wg0", Port: 51820, Zone: "wan"}}
	published := `{"wgd":{"firewall":[{"type":"rule","name":"Allow-wgd-wg0","src":"wan","proto":"udp","dest_port":"51820","target":"ACCEPT"}]}}`
	t.Run("published by the package", func(t *testing.T) { syncCase(t, zoned, published, nil, "") })
	t.Run("other zone published", func(t *testing.T) {
		syncCase(t, zoned, strings.Replace(published, `"wan"`, `"lan"`, 1), nil, "not published: udp 51820")
	})
}

// syncCase runs the fw4 backend's Sync against procd's answer.
func syncCase(t *testing.T, holes []Hole, answer string, runErr error, wantErr string) {
	t.Helper()
	var gotArgs []string
	run := func(_ context.Context, _ []byte, name string, args ...string) ([]byte, error) {
		gotArgs = append([]string{name}, args...)
		return []byte(answer), runErr
	}
	f := &fw4{run: run, log: testLogger(t), service: "wgd"}
	err := f.Sync(holes)
	if want := `ubus call service get_data {"name":"wgd","type":"firewall"}`; strings.Join(gotArgs, " ") != want {
		t.Errorf("ran %q, want %q", strings.Join(gotArgs, " "), want)
	}
	switch {
	case wantErr == "" && err != nil:
		t.Errorf("Sync: %v, want a match", err)
	case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
		t.Errorf("Sync: %v, want an error containing %q", err, wantErr)
	}
	if err := f.Flush(); err != nil {
		t.Errorf("Flush: %v (procd drops the data with the instance: nothing to do)", err)
	}
}

func TestIptablesComment(t *testing.T) {
	for _, c := range []struct {
		rule, want string
		ok         bool
	}{
		{`-p udp -m udp --dport 51820 -m comment --comment "wgd:wg0:51820" -j ACCEPT`, "wgd:wg0:51820", true},
		{`-m comment --comment "say \"hi\" \\ there" -j ACCEPT`, `say "hi" \ there`, true},
		{`-m comment --comment bare -j ACCEPT`, "bare", true},
		{`-p udp -j ACCEPT`, "", false},
	} {
		got, ok := iptablesComment(c.rule)
		if got != c.want || ok != c.ok {
			t.Errorf("iptablesComment(%q) = %q, %v; want %q, %v", c.rule, got, ok, c.want, c.ok)
		}
	}
}

func TestPlanIptables(t *testing.T) {
	listing := `-P INPUT DROP
-A INPUT -p udp -m udp --dport 51820 -m comment --comment "wgd:wg0:51820" -j ACCEPT
-A INPUT -p udp -m udp --dport 51820 -m comment --comment "wgd:wg0:51820" -j ACCEPT
-A INPUT -p udp -m udp --dport 4000 -m comment --comment "wgd:old:4000" -j ACCEPT
-A INPUT -p udp -m udp --dport 5000 -m comment --comment "wgdx" -j ACCEPT
-A INPUT -i lo -j ACCEPT
`
	script, added, removed := planIptables(listing, []Hole{{Interface: "wg0", Port: 51820}, {Interface: "wg1", Port: 51821, Device: "eth1"}})
	want := `*filter
-D INPUT -p udp -m udp --dport 51820 -m comment --comment "wgd:wg0:51820" -j ACCEPT
-D INPUT -p udp -m udp --dport 4000 -m comment --comment "wgd:old:4000" -j ACCEPT
-I INPUT 1 -i eth1 -p udp -m udp --dport 51821 -m comment --comment "wgd:wg1:51821:eth1" -j ACCEPT
COMMIT
`
	if script != want {
		t.Errorf("script:\n%s\nwant:\n%s", script, want)
	}
	if len(added) != 1 || len(removed) != 2 {
		t.Errorf("added %q, removed %q", added, removed)
	}
	settled := `-P INPUT DROP
-A INPUT -p udp -m udp --dport 51820 -m comment --comment "wgd:wg0:51820" -j ACCEPT
-A INPUT -i lo -j ACCEPT
`
	if s, _, _ := planIptables(settled, []Hole{{Interface: "wg0", Port: 51820}}); s != "" {
		t.Errorf("nothing to change, yet script:\n%s", s)
	}
}

func TestPlanNft(t *testing.T) {
	rs, err := parseNft([]byte(`{"nftables": [{"metainfo": {"version": "1.0.6"}},
{"table": {"family": "inet", "name": "fw4", "handle": 1}},
{"chain": {"family": "inet", "table": "fw4", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
{"chain": {"family": "inet", "table": "fw4", "name": "input_wan", "handle": 2}},
{"chain": {"family": "inet", "table": "fw4", "name": "dstnat", "handle": 3, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}},
{"chain": {"family": "ip", "table": "nat", "name": "in", "handle": 1, "type": "nat", "hook": "input", "prio": 100, "policy": "accept"}},
{"chain": {"family": "ip6", "table": "g6", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
{"chain": {"family": "bridge", "table": "br", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
{"rule": {"family": "inet", "table": "fw4", "chain": "input", "handle": 7, "comment": "wgd:wg0:51820", "expr": []}},
{"rule": {"family": "inet", "table": "fw4", "chain": "input", "handle": 8, "comment": "wgd:wg0:51820", "expr": []}},
{"rule": {"family": "inet", "table": "fw4", "chain": "input_wan", "handle": 9, "comment": "wgd:old:1", "expr": []}},
{"rule": {"family": "inet", "table": "fw4", "chain": "input", "handle": 10, "comment": "not ours", "expr": []}}
]}`))
	if err != nil {
		t.Fatal(err)
	}
	chains := rs.inputChains()
	var names []string
	for _, c := range chains {
		names = append(names, c.Family+" "+c.Table+" "+c.Name)
	}
	if got := strings.Join(names, ", "); got != "inet fw4 input, ip6 g6 in" {
		t.Errorf("input chains: %s; want the filter chains on the input hook of ip, ip6, inet", got)
	}
	cmds, added, removed := planNft(rs, chains, []Hole{{Interface: "wg0", Port: 51820}})
	js, _ := json.Marshal(cmds)
	want := `[{"delete":{"rule":{"chain":"input","family":"inet","handle":8,"table":"fw4"}}},` +
		`{"delete":{"rule":{"chain":"input_wan","family":"inet","handle":9,"table":"fw4"}}},` +
		`{"insert":{"rule":{"chain":"in","comment":"wgd:wg0:51820","expr":[{"match":{"left":{"payload":{"field":"dport","protocol":"udp"}},"op":"==","right":51820}},{"accept":null}],"family":"ip6","table":"g6"}}}]`
	if string(js) != want {
		t.Errorf("commands:\n got %s\nwant %s", js, want)
	}
	if len(added) != 1 || len(removed) != 2 {
		t.Errorf("added %q, removed %q", added, removed)
	}
}

func TestNew(t *testing.T) {
	log := testLogger(t)
	if _, err := New("firewalld", log); err == nil || !strings.Contains(err.Error(), `unknown backend "firewalld"`) {
		t.Errorf("New(firewalld): %v, want an unknown-backend error", err)
	}
	b, err := New("none", log)
	if err != nil || b.Name() != "none" || b.Sync([]Hole{{Interface: "wg0", Port: 1}}) != nil || b.Flush() != nil {
		t.Errorf("New(none) = %v, %v: want a backend that does nothing without error", b, err)
	}

	// Without the programs: clear errors, naming what to install.
	h := thisHost()
	h.lookPath = func(string) (string, error) { return "", exec.ErrNotFound }
	for kind, want := range map[string]string{
		"nftables": "nft not found in PATH: install nftables",
		"iptables": "iptables not found in PATH: install iptables",
		"fw4":      "ubus not found in PATH",
	} {
		if _, err := newOn(h, kind, log); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s without its program: %v, want an error containing %q", kind, err, want)
		}
	}
	if k, why := detect(h); k != "none" {
		t.Errorf("detect with no firewall program = %s (%s), want none", k, why)
	}

	// OpenWrt: fw4 (or fw3) installed and procd as process 1.
	dir := t.TempDir()
	fw4Path, comm := filepath.Join(dir, "fw4"), filepath.Join(dir, "comm")
	os.WriteFile(fw4Path, nil, 0o755)
	os.WriteFile(comm, []byte("procd\n"), 0o644)
	h.fwPaths, h.pid1Comm = []string{filepath.Join(dir, "fw3"), fw4Path}, comm
	if k, _ := detect(h); k != "fw4" {
		t.Errorf("detect on OpenWrt under procd = %s, want fw4", k)
	}
	os.WriteFile(comm, []byte("systemd\n"), 0o644)
	if k, _ := detect(h); k == "fw4" {
		t.Error("detect chose fw4 without procd: nobody would publish the rules")
	}
}
