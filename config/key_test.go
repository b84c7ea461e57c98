package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	k, err := ParseSecret(routerKey)
	if err != nil {
		t.Fatal(err)
	}
	type holder struct{ Key Secret }
	j, _ := json.Marshal(holder{k})
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "key", k, "holder", holder{k})
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %x %q", k, k, k, k, k, k), string(j), logged.String(), fmt.Sprintf("%+v", holder{k})} {
		if strings.Contains(s, routerKey) || strings.Contains(s, k.Hex()) || !strings.Contains(s, "hidden") {
			t.Errorf("secret printed: %s", s)
		}
	}
}

// Keys match wg(8) when it is installed.
func TestKeysMatchWg(t *testing.T) {
	k, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	if k[0]&7 != 0 || k[31]&128 != 0 || k[31]&64 == 0 {
		t.Errorf("generated key is not clamped")
	}
	if _, err := exec.LookPath("wg"); err != nil {
		t.Skip("wg(8) not installed: scripts/deps.sh installs it")
	}
	cmd := exec.Command("wg", "pubkey")
	cmd.Stdin = strings.NewReader(k.Base64() + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != k.PublicKey().String() {
		t.Errorf("wg pubkey %s, ours %s", got, k.PublicKey())
	}
}

func TestParseKeyRejects(t *testing.T) {
	for _, s := range []string{"", "abc", routerKey[:43], routerKey + "=", strings.Repeat("A", 44), "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBm!="} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
}
