package pkgtest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// netifdData is the JSON netifd hands the handler for interface wg0 of
// the root's /etc/config/network: the options the handler declares
// (`wgd.sh ” dump`), read from the configuration, lists joined with
// spaces, as netifd's config parser (config_parse_interface) gives them.
func netifdData(t *testing.T, r *Root) string {
	t.Helper()
	var dump struct {
		Config [][2]any `json:"config"`
	}
	if err := json.Unmarshal([]byte(r.MustRun(`cd /lib/netifd/proto && ./wgd.sh '' dump`)), &dump); err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"proto": "wgd"}
	for _, c := range dump.Config {
		name, _ := c[0].(string)
		out, _, err := r.Run(`uci -q get "network.wg0.$N"`, "N="+name)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(out)
		switch c[1] {
		case float64(5): // int
			var n int
			if err := json.Unmarshal([]byte(v), &n); err != nil {
				t.Fatalf("%s: %q is not an int", name, v)
			}
			data[name] = n
		case float64(7): // boolean
			data[name] = v == "1"
		default:
			data[name] = v
		}
	}
	b, _ := json.Marshal(data)
	return string(b)
}

// execs runs script in the root under strace and returns every command
// line a process of it was started with (execve), one string each.
func execs(t *testing.T, r *Root, script string, env ...string) []string {
	t.Helper()
	strace := needTool(t, "strace")
	trace := filepath.Join(t.TempDir(), "trace")
	argv := append([]string{"-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-s", "65535", "-o", trace}, r.Argv(script, env...)...)
	if out, err := exec.Command(strace, argv...).CombinedOutput(); err != nil {
		t.Logf("%s: %v\n%s", script, err, out)
	}
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "execve(") {
			lines = append(lines, l)
		}
	}
	return lines
}

// The private key is on no process's command line while netifd sets the
// interface up: not in the data netifd hands the handler (it is not a
// declared option), not in what the handler runs; also when the handler
// generates the key.
func TestProtoNoKeyOnCommandLine(t *testing.T) {
	r := protoRoot(t)
	data := netifdData(t, r)
	if !strings.Contains(data, `"listen_port":51820`) {
		t.Fatalf("netifd's data %s lacks the declared options", data)
	}
	check := func(what string) {
		t.Helper()
		lines := execs(t, r, `cd /lib/netifd/proto && ./wgd.sh wgd setup wg0 "$DATA" wg0`, "DATA="+data)
		ran := strings.Join(lines, "\n")
		if !strings.Contains(ran, `"ifup", "wg0"`) || !strings.Contains(ran, `listen_port`) {
			t.Fatalf("%s: the trace lacks the handler's command line or wgd ifup:\n%s", what, ran)
		}
		for _, l := range lines {
			if strings.Contains(l, testKey) {
				t.Errorf("%s: the private key is on a command line: %s", what, l)
			}
		}
	}
	check("key in the configuration")

	r.WriteFile("etc/config/network", strings.Replace(luciNetwork, "'"+testKey+"'", "'generate'", 1), 0o644)
	r.Answer("genkey", testKey+"\n", "", 0)
	data = netifdData(t, r)
	check("generated key")
	if got := strings.TrimSpace(r.MustRun("uci get network.wg0.private_key")); got != testKey {
		t.Errorf("generated key not saved: %q", got)
	}
	noSecret(t, r)
}

// An interface whose setup failed on its configuration is marked; the
// service's reload (each commit of network) sets it down and up again,
// since netifd does not when only the undeclared private_key changed. A
// successful setup or a teardown clears the mark, but not the teardown
// netifd runs right after the failed setup.
func TestProtoFailedSetupRetriedOnCommit(t *testing.T) {
	r := protoRoot(t)
	answer, _ := os.ReadFile("testdata/ifup-wg0.json")
	r.Answer("ifup", "", "wgd ifup: wg0: option private_key: not a key\n", 1)
	proto(r, "setup", luciData)
	if !r.Exists("var/run/wgd-failed/wg0") {
		t.Fatal("a failed setup is not marked")
	}
	// netifd runs the teardown after proto_setup_failed, with the error
	// kept on the interface (proto_ext_setup_failed).
	r.WriteFile("tmp/standin-ubus/network.interface.wg0.status",
		`{"up": false, "autostart": false, "errors": [{"subsystem": "wgd", "code": "WGD_IFUP_FAILED", "data": ["wgd ifup: wg0: option private_key: not a key"]}]}`, 0o644)
	proto(r, "teardown", luciData)
	if !r.Exists("var/run/wgd-failed/wg0") {
		t.Fatal("the teardown after a failed setup drops its mark")
	}
	os.Remove(r.Path("tmp/standin-ubus/network.interface.wg0.status"))
	r.ClearRecords()
	r.Answer("reload", "", "", 0)
	serviceKnown(r) // a reload trigger runs for a service procd knows
	r.MustRun("/etc/init.d/wgd reload")
	var ifCalls [][]string
	for _, c := range r.Calls("ubus") {
		if len(c) > 1 && c[1] == "network.interface.wg0" {
			ifCalls = append(ifCalls, c)
		}
	}
	if want := [][]string{{"call", "network.interface.wg0", "down"}, {"call", "network.interface.wg0", "up"}}; !reflect.DeepEqual(ifCalls, want) {
		t.Errorf("reload after a failed setup: %v, want %v", ifCalls, want)
	}

	r.Answer("ifup", string(answer), "", 0)
	if _, errOut, err := proto(r, "setup", luciData); err != nil {
		t.Fatalf("setup: %v\n%s", err, errOut)
	}
	if r.Exists("var/run/wgd-failed/wg0") {
		t.Error("the mark stays after a successful setup")
	}
	r.ClearRecords()
	r.MustRun("/etc/init.d/wgd reload")
	for _, c := range r.Calls("ubus") {
		if len(c) > 1 && c[1] == "network.interface.wg0" {
			t.Errorf("reload touched a working interface: %v", c)
		}
	}

	r.Answer("ifup", "", "wgd ifup: wg0: broken\n", 1)
	proto(r, "setup", luciData)
	proto(r, "teardown", luciData)
	if r.Exists("var/run/wgd-failed/wg0") {
		t.Error("the mark stays after a teardown (ifdown)")
	}
}
