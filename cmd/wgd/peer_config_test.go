package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"wgd/api"
	"wgd/config"
)

// fakeDaemon answers `status` on a control socket in dir with st, as a
// running wgd would; it returns the socket's path.
func fakeDaemon(t *testing.T, dir string, st *api.Status) string {
	t.Helper()
	return serveUnix(t, filepath.Join(dir, "fake.sock"), func(c net.Conn) {
		var req api.Request
		resp := api.Response{Version: api.ProtocolVersion}
		if err := json.NewDecoder(c).Decode(&req); err == nil && req.Command == "status" {
			resp.OK = true
			resp.Result, _ = json.Marshal(st)
		} else {
			resp.Error = "not in this test"
		}
		json.NewEncoder(c).Encode(resp)
		c.Close()
	})
}

// serveUnix listens on a unix socket at path until the test ends and
// hands each connection to serve, one at a time; it returns path.
func serveUnix(t *testing.T, path string, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			serve(c)
		}
	}()
	return path
}

// `peer list` shows each peer as the router reads it (package config):
// an IPv6 endpoint_host in brackets, an allowed IP with host bits and a
// public key whose base64 text is not the canonical one are what the
// daemon runs, and a running peer is live whatever the key's spelling.
func TestPeerListAsTheRouterReadsIt(t *testing.T) {
	dir := peerDir(t, "")
	const written = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dh=" // ...Dg= with a padding bit set
	key, err := config.ParseKey(written)
	if err != nil || key.String() == written {
		t.Fatalf("the test needs a non-canonical spelling of a valid key: %v %s", err, key)
	}
	text := strings.Replace(peerNetwork, "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", written, 1)
	text = strings.Replace(text, "list allowed_ips 10.7.0.2/32", "list allowed_ips 10.7.0.2/32\n\tlist allowed_ips '10.8.0.9/24'\n\toption endpoint_host '[2001:db8::9]'", 1)
	if err := os.WriteFile(filepath.Join(dir, "network"), []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg, problems := config.Load(dir)
	if len(problems) != 0 || len(cfg.Interface("wg0").Peers) != 1 {
		t.Fatalf("the router does not run the peer: %v", problems)
	}
	runs := cfg.Interface("wg0").Peers[0]
	socket := fakeDaemon(t, dir, &api.Status{Interfaces: []api.InterfaceStatus{
		{Name: "wg0", Up: true, Peers: []api.PeerStatus{{PublicKey: runs.PublicKey, Description: runs.Description}}},
	}})

	var out, errb strings.Builder
	code := run([]string{"peer", "list", "--json", "--config-dir", dir, "--socket", socket, "--uci-savedir", ""}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var list listJSON
	if err := json.Unmarshal([]byte(out.String()), &list); err != nil || len(list.Peers) != 1 {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	p := list.Peers[0]
	if p.Endpoint != runs.Endpoint() || p.Endpoint != "[2001:db8::9]:51820" {
		t.Errorf("endpoint %q, the router uses %q", p.Endpoint, runs.Endpoint())
	}
	var allowed []string
	for _, a := range runs.AllowedIPs {
		allowed = append(allowed, a.String())
	}
	if !slices.Equal(p.AllowedIPs, allowed) {
		t.Errorf("allowed IPs %q, the router routes %q", p.AllowedIPs, allowed)
	}
	if p.PublicKey != key.String() {
		t.Errorf("public key %q, the router runs %s", p.PublicKey, key)
	}
	if p.State != "live" || p.Live == nil {
		t.Errorf("state %q (live %v), but wgd runs the peer", p.State, p.Live)
	}
}

// show names what keeps a broken peer from running, with file and line.
func TestPeerShowProblems(t *testing.T) {
	dir := peerDir(t, "")
	text := strings.Replace(peerNetwork, "list allowed_ips 10.7.0.2/32", "list allowed_ips 10.7.0.2/33", 1)
	if err := os.WriteFile(filepath.Join(dir, "network"), []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := wgdPeer(dir, "show", "Bob's laptop")
	want := "  problem:     " + filepath.Join(dir, "network") + ":17: section @wireguard_wg0[0], option allowed_ips: \"10.7.0.2/33\" is not an IP address or CIDR\n"
	if code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("exit %d: %s\n%s\nwant %q", code, stderr, stdout, want)
	}
}
