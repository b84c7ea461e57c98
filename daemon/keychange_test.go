package daemon

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"wgd/api"
)

// netifd is not told of private_key (a declared option would travel on
// the protocol handler's command line), so it never restarts an
// interface for a new key: the reload each commit triggers applies it to
// the running interface, which stays the same link.
func TestNetifdModeKeyChangeOnReload(t *testing.T) {
	oldKey, newKey := secretKey(t), secretKey(t)
	dir := t.TempDir()
	writeNetwork(t, dir, iface("wgnk", oldKey, "\toption listen_port '51871'"))
	td := startDaemonWith(t, dir, Options{Netifd: true}, nil)
	if err := api.Call(context.Background(), td.socket, "ifup", map[string]string{"interface": "wgnk"}, nil); err != nil {
		t.Fatal(err)
	}
	first := td.running("wgnk")

	writeNetwork(t, dir, iface("wgnk", newKey, "\toption listen_port '51871'"))
	if r := td.reload(t); strings.Join(r.Updated, " ") != "wgnk" || len(r.Down)+len(r.Up) != 0 {
		t.Fatalf("reload: %+v", r)
	}
	s := td.status(t)
	if len(s.Interfaces) != 1 || !s.Interfaces[0].Up || s.Interfaces[0].PublicKey != newKey.PublicKey() {
		t.Fatalf("status after the key change: %+v", s.Interfaces)
	}
	if td.running("wgnk") != first {
		t.Error("the interface was recreated for a new key")
	}
	// The engine itself runs the new key: ask it over its UAPI socket.
	c, err := net.Dial("unix", filepath.Join(dir, "wireguard", "wgnk.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("get=1\n\n")); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(c)
	running := ""
	for sc.Scan() && sc.Text() != "" {
		if v, ok := strings.CutPrefix(sc.Text(), "private_key="); ok {
			running = v
		}
	}
	if running != newKey.Hex() {
		t.Errorf("the engine does not run the new key")
	}
}
