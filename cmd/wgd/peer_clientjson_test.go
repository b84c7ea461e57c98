package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// --client-json: one JSON object with the client config and its QR code
// as SVG, for LuCI's backend; show gives the same config again only for a
// peer whose key was kept.
func TestPeerClientJSON(t *testing.T) {
	dir := peerDir(t, "")
	stdout, stderr, code := wgdPeer(dir, "add", "tablet", "--keep-key", "--client-json", "--endpoint", "vpn.example.com")
	if code != 0 {
		t.Fatalf("add: %s", stderr)
	}
	var added clientJSON
	if err := json.Unmarshal([]byte(stdout), &added); err != nil {
		t.Fatalf("add --client-json is not one JSON object: %v\n%s", err, stdout)
	}
	if added.Interface != "wg0" || added.Name != "tablet" || !strings.Contains(added.Config, "PrivateKey = ") ||
		!strings.Contains(added.Config, "Endpoint = vpn.example.com:51820") || !strings.HasPrefix(added.QRSVG, "<svg ") {
		t.Errorf("add: %+v", added)
	}
	stdout, stderr, code = wgdPeer(dir, "show", "tablet", "--client-json", "--endpoint", "vpn.example.com")
	var shown clientJSON
	if code != 0 || json.Unmarshal([]byte(stdout), &shown) != nil {
		t.Fatalf("show --client-json: exit %d: %s%s", code, stdout, stderr)
	}
	if shown.Config != added.Config || shown.QRSVG != added.QRSVG || shown.Name != "tablet" {
		t.Errorf("show gives another config:\n%s\nwant\n%s", shown.Config, added.Config)
	}

	if _, stderr, code := wgdPeer(dir, "add", "phone", "--client-json", "--endpoint", "vpn.example.com"); code != 0 {
		t.Fatalf("add phone: %s", stderr)
	}
	if stdout, _, code := wgdPeer(dir, "show", "phone", "--client-json"); code == 0 || strings.Contains(stdout, "PrivateKey") {
		t.Errorf("show --client-json of a peer without a kept key: exit %d\n%s", code, stdout)
	}
	if _, _, code := wgdPeer(dir, "show", "tablet", "--client-json", "--json"); code == 0 {
		t.Error("--client-json combined with --json")
	}
}
