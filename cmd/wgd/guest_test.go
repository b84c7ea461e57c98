package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPeerAddExpiresCLI(t *testing.T) {
	dir := peerDir(t, "")
	before := time.Now()
	if _, stderr, code := wgdPeer(dir, "add", "guest", "--expires", "48h", "--no-qr"); code != 0 || !strings.Contains(stderr, "the peer expires ") {
		t.Fatalf("add --expires 48h: exit %d: %s", code, stderr)
	}
	text, _ := os.ReadFile(filepath.Join(dir, "network"))
	m := regexp.MustCompile(`\toption expires '([^']+)'\n`).FindSubmatch(text)
	if m == nil {
		t.Fatalf("no option expires in\n%s", text)
	}
	at, err := time.Parse(time.RFC3339, string(m[1]))
	if err != nil || !strings.HasSuffix(string(m[1]), "Z") || at.Before(before.Add(48*time.Hour-time.Second)) || at.After(time.Now().Add(48*time.Hour)) {
		t.Errorf("expires %s (%v), want 48 h from now in UTC", m[1], err)
	}

	// Bad input is refused and writes nothing.
	for _, bad := range []string{"soon", "-1h", "2001-01-01"} {
		if _, stderr, code := wgdPeer(dir, "add", "x"+strings.Trim(bad, "-"), "--expires", bad, "--no-qr"); code != 2 || !strings.Contains(stderr, "--expires") {
			t.Errorf("--expires %s: exit %d: %s", bad, code, stderr)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "network")); string(after) != string(text) {
		t.Error("a refused add changed the file")
	}

	// A guest whose time is up, as the file says it.
	past := strings.Replace(string(text), "\toption description 'guest'\n", "\toption description 'guest'\n\toption expires '2020-01-01T00:00:00Z'\n", 1)
	past = strings.Replace(past, "\toption expires '"+string(m[1])+"'\n", "", 1)
	past += "\nconfig wireguard_wg0 'later'\n\toption description 'later'\n\toption public_key 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0='\n\toption expires '" + string(m[1]) + "'\n"
	if err := os.WriteFile(filepath.Join(dir, "network"), []byte(past), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := wgdPeer(dir, "list", "--json")
	if code != 0 {
		t.Fatalf("list --json: %d %s", code, stderr)
	}
	var list listJSON
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]peerJSON{}
	for _, p := range list.Peers {
		got[p.Name] = p
	}
	if g := got["guest"]; g.Expires != time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix() || !g.Expired || g.State != "expired" {
		t.Errorf("expired guest: %+v", g)
	}
	if l := got["later"]; l.Expires != at.Unix() || l.Expired || l.State != "enabled" {
		t.Errorf("guest with time left: %+v", l)
	}
	if b := got["Bob's laptop"]; b.Expires != 0 || b.Expired || strings.Contains(stdout[:strings.Index(stdout, "guest")], `"expires"`) {
		t.Errorf("a peer without expiry: %+v", b)
	}
	stdout, _, _ = wgdPeer(dir, "list")
	for _, want := range []string{`EXPIRES`, `guest .* expired\n`, `later .* in (2d 0h|47h 59m)\n`} {
		if !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("peer list lacks %q:\n%s", want, stdout)
		}
	}
}
