package pkgtest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

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
	want := map[string]any{"status": map[string]any{}, "generateKeyPair": map[string]any{},
		"generatePsk": map[string]any{}, "getPublicKey": map[string]any{"private_key": "str"}}
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
	if strings.Contains(r.ReadFile("tmp/standin.log"), priv) {
		t.Error("a private key was logged")
	}
}
