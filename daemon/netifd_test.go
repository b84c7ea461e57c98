package daemon

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"wgd/internal/netnstest"
)

func linkExists(name string) bool { return exec.Command("ip", "link", "show", name).Run() == nil }

// Under netifd only the interfaces the protocol handler asks for run, with
// no addresses of wgd's; a reload does not bring up others; the answer
// carries what netifd must set up; a respawned daemon restores them.
func TestNetifdMode(t *testing.T) {
	netnstest.Root(t)
	k, peerKey := secretKey(t), secretKey(t).PublicKey()
	dir := t.TempDir()
	writeNetwork(t, dir, iface("wgna", k, "\toption listen_port '51870'\n\tlist addresses '10.66.0.1/24'")+
		peer("wgna", peerKey, "\tlist allowed_ips '10.66.0.2/32'\n\tlist allowed_ips '192.168.66.0/24'\n\toption route_allowed_ips '1'\n\toption endpoint_host '192.0.2.66'")+
		iface("wgnb", secretKey(t), "")+
		"config interface 'wgnc'\n\toption proto 'wgd'\n\toption private_key 'broken'\n")
	state := filepath.Join(dir, "netifd.state")
	ctx := context.Background()
	td := startDaemonWith(t, dir, Options{Netifd: true, NetifdState: state}, nil)

	if linkExists("wgna") || linkExists("wgnb") {
		t.Fatal("interfaces came up without netifd asking")
	}
	var up IfupResult
	if err := Call(ctx, td.socket, "ifup", map[string]string{"interface": "wgna"}, &up); err != nil {
		t.Fatal(err)
	}
	if up.Interface != "wgna" || up.ListenPort != 51870 || len(up.Addresses) != 1 || up.Addresses[0].String() != "10.66.0.1/24" ||
		len(up.Routes) != 2 || len(up.Endpoints) != 1 || up.Endpoints[0].String() != "192.0.2.66" ||
		len(up.Firewall) != 1 || up.Firewall[0].DestPort != "51870" {
		t.Errorf("ifup answer %+v", up)
	}
	if !linkExists("wgna") || linkExists("wgnb") {
		t.Fatal("want wgna only")
	}
	if out, _ := exec.Command("ip", "-o", "addr", "show", "dev", "wgna").Output(); strings.Contains(string(out), "10.66.0.1") {
		t.Errorf("wgd set an address under netifd: %s", out)
	}
	var client IfupResult
	if err := Call(ctx, td.socket, "ifup", map[string]string{"interface": "wgnb"}, &client); err != nil {
		t.Fatal(err)
	}
	if len(client.Firewall) != 0 || client.ListenPort == 0 {
		t.Errorf("an interface without listen_port opens nothing (its port is random): %+v", client)
	}
	if err := Call(ctx, td.socket, "ifdown", map[string]string{"interface": "wgnb"}, nil); err != nil {
		t.Fatal(err)
	}
	if r := td.reload(t); len(r.Up) != 0 {
		t.Errorf("reload brought up %v", r.Up)
	}
	err := Call(ctx, td.socket, "ifup", map[string]string{"interface": "wgnc"}, nil)
	if err == nil || !strings.Contains(err.Error(), "not a WireGuard key") {
		t.Errorf("ifup of a broken interface: %v", err)
	}
	if err := Call(ctx, td.socket, "ifup", map[string]string{"interface": "nope"}, nil); err == nil {
		t.Errorf("ifup of an unknown interface succeeded")
	}
	if b, _ := os.ReadFile(state); strings.TrimSpace(string(b)) != "wgna" {
		t.Errorf("state file %q", b)
	}

	// A respawned daemon brings back what netifd asked for.
	td.stop(t)
	if linkExists("wgna") {
		t.Fatal("wgna survived the daemon")
	}
	td = startDaemonWith(t, dir, Options{Netifd: true, NetifdState: state}, nil)
	if !linkExists("wgna") {
		t.Fatal("wgna not restored after a restart")
	}
	if err := Call(ctx, td.socket, "ifdown", map[string]string{"interface": "wgna"}, nil); err != nil {
		t.Fatal(err)
	}
	if linkExists("wgna") {
		t.Error("wgna still up after ifdown")
	}
	if err := Call(ctx, td.socket, "ifdown", map[string]string{"interface": "wgna"}, nil); err != nil {
		t.Errorf("second ifdown: %v", err)
	}
}
