package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/internal/netnstest"
	"wgd/totals"
)

// engineKeys are the peers the engine of a running interface has.
func (td *testDaemon) engineKeys(t *testing.T, name string) []config.Key {
	t.Helper()
	var keys []config.Key
	var err error
	td.do(context.Background(), func() {
		iface := td.ifaces[name]
		if iface == nil {
			err = fmt.Errorf("%s is not running", name)
			return
		}
		st, e := iface.State()
		err = e
		for _, p := range st.Peers {
			keys = append(keys, p.PublicKey)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A guest peer leaves the engine at its expiry, by the wall clock (here a
// clock the test sets, jumping as NTP makes it jump), with no reload and
// the other peers untouched; a peer expired already never comes up.
func TestGuestPeerExpires(t *testing.T) {
	// Restored after the daemon stopped: cleanups run last first.
	was := expiryCheck
	t.Cleanup(func() { expiryCheck = was })
	expiryCheck = 100 * time.Millisecond
	start := time.Now().UTC().Truncate(time.Second)
	var offset atomic.Int64 // what the clock was set by
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }

	key := secretKey(t)
	guest, friend, gone := secretKey(t).PublicKey(), secretKey(t).PublicKey(), secretKey(t).PublicKey()
	dir := t.TempDir()
	writeNetwork(t, dir, iface("wgdg", key, "")+
		peer("wgdg", guest, "\toption description 'guest'\n\tlist allowed_ips '10.57.0.2/32'\n\toption expires '"+start.Add(time.Hour).Format(time.RFC3339)+"'")+
		peer("wgdg", friend, "\toption description 'friend'\n\tlist allowed_ips '10.57.0.3/32'")+
		peer("wgdg", gone, "\toption description 'gone'\n\tlist allowed_ips '10.57.0.4/32'\n\toption expires '"+start.Add(-time.Hour).Format(time.RFC3339)+"'"))
	td := startDaemonWith(t, dir, Options{}, func(d *Daemon) { d.clock = clock })

	if keys := td.engineKeys(t, "wgdg"); len(keys) != 2 || !slices.Contains(keys, guest) || !slices.Contains(keys, friend) {
		t.Fatalf("engine runs %v, want guest and friend", keys)
	}
	s := td.status(t).Interfaces[0]
	byName := map[string]api.PeerStatus{}
	for _, p := range s.Peers {
		byName[p.Description] = p
	}
	if g := byName["guest"]; g.Expires != start.Add(time.Hour).Unix() || g.Expired {
		t.Errorf("guest in status: %+v", g)
	}
	if g := byName["gone"]; !g.Expired || g.Expires != start.Add(-time.Hour).Unix() {
		t.Errorf("gone in status: %+v", g)
	}
	if f := byName["friend"]; f.Expires != 0 || f.Expired {
		t.Errorf("friend in status: %+v", f)
	}
	first := td.running("wgdg")

	// The clock jumps past the guest's expiry (no timer of an hour ran).
	offset.Store(int64(2 * time.Hour))
	waitFor(t, "the guest to leave the engine", func() bool { return !slices.Contains(td.engineKeys(t, "wgdg"), guest) })
	if keys := td.engineKeys(t, "wgdg"); !slices.Equal(keys, []config.Key{friend}) {
		t.Errorf("engine runs %v, want friend only", keys)
	}
	if td.running("wgdg") != first {
		t.Error("the interface was recreated")
	}
	if s := td.status(t).Interfaces[0]; !s.Peers[0].Expired {
		t.Errorf("guest not expired in status: %+v", s.Peers[0])
	}
	// A reload, or a restart, does not bring it back.
	td.reload(t)
	if keys := td.engineKeys(t, "wgdg"); !slices.Equal(keys, []config.Key{friend}) {
		t.Errorf("after a reload the engine runs %v", keys)
	}
}

// Totals survive the interface being set up again and the daemon's
// restart; the file is written when the daemon stops.
func TestTotalsAcrossRestarts(t *testing.T) {
	netnstest.Root(t)
	ka, kb := secretKey(t), secretKey(t)
	// Two interfaces of the same daemon that are each other's peer, over
	// loopback: a handshake gives both counters something to count.
	a := iface("wgta", ka, "\toption listen_port '51901'") +
		peer("wgta", kb.PublicKey(), "\tlist allowed_ips '10.58.0.2/32'\n\toption endpoint_host '127.0.0.1'\n\toption endpoint_port '51902'\n\toption persistent_keepalive '1'")
	b := iface("wgtb", kb, "\toption listen_port '51902'") +
		peer("wgtb", ka.PublicKey(), "\tlist allowed_ips '10.58.0.1/32'\n\toption endpoint_host '127.0.0.1'\n\toption endpoint_port '51901'")
	root := t.TempDir()
	dir := filepath.Join(root, "config")
	os.Mkdir(dir, 0o700)
	writeNetwork(t, dir, a+b)
	path := filepath.Join(root, "wgd", "totals.json") // next to the configuration directory
	td := runDaemon(t, dir, Options{}, nil, nil)

	peerOf := func(s *api.Status, name string) api.PeerStatus {
		for _, i := range s.Interfaces {
			if i.Name == name && len(i.Peers) == 1 {
				return i.Peers[0]
			}
		}
		t.Fatalf("no peer of %s in %+v", name, s)
		return api.PeerStatus{}
	}
	var first api.PeerStatus
	waitFor(t, "traffic", func() bool { first = peerOf(td.status(t), "wgta"); return first.RxBytes > 0 && first.TxBytes > 0 })
	if first.TotalRxBytes < first.RxBytes || first.TotalTxBytes < first.TxBytes {
		t.Fatalf("totals below the session's: %+v", first)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("totals saved within the first hour while running")
	}

	// wgta's section removed and restored: it goes down and up again.
	writeNetwork(t, dir, b)
	if r := td.reload(t); !slices.Contains(r.Down, "wgta") {
		t.Fatalf("reload: %+v", r)
	}
	writeNetwork(t, dir, a+b)
	td.reload(t)
	var second api.PeerStatus
	waitFor(t, "the new session to count past the old one's totals", func() bool {
		second = peerOf(td.status(t), "wgta")
		return second.RxBytes > 0 && second.TotalRxBytes > first.TotalRxBytes && second.TotalTxBytes > first.TotalTxBytes
	})
	if second.TotalRxBytes < first.TotalRxBytes+second.RxBytes || second.TotalTxBytes < first.TotalTxBytes+second.TxBytes {
		t.Errorf("after the interface came back: %+v, before %+v: the old session was lost", second, first)
	}

	td.stop(t)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("totals file after stop: %v %v", fi, err)
	}
	saved, err := totals.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := saved.Total("wgta", kb.PublicKey())
	if kept.Rx < second.TotalRxBytes || kept.Tx < second.TotalTxBytes {
		t.Errorf("saved %+v, status said %+v", kept, second)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), ka.Base64()) || strings.Contains(string(data), kb.Base64()) {
		t.Error("a private key in the totals file")
	}

	td = runDaemon(t, dir, Options{}, nil, nil)
	third := peerOf(td.status(t), "wgta")
	if third.TotalRxBytes < kept.Rx+third.RxBytes || third.TotalTxBytes < kept.Tx+third.TxBytes {
		t.Errorf("after a restart: %+v, saved %+v", third, kept)
	}
	// wgd peer remove drops a peer's totals.
	var ans api.ForgetAnswer
	if err := api.Call(context.Background(), td.socket, "forget", api.ForgetArgs{Interface: "wgtb", PublicKey: ka.PublicKey()}, &ans); err != nil || !ans.Forgotten {
		t.Errorf("forget: %+v %v", ans, err)
	}
}

// Under netifd the MTU follows the WAN too: the ifup answer carries it,
// and a later change of the WAN link's MTU reaches the running link.
func TestNetifdMTUFollowsWAN(t *testing.T) {
	netnstest.Root(t)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	ip("link", "add", "wanm0", "mtu", "1500", "type", "veth", "peer", "name", "wanm1")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "wanm0").Run() })
	ip("link", "set", "wanm1", "up")
	ip("link", "set", "wanm0", "up")
	ip("addr", "add", "192.0.2.10/24", "dev", "wanm0")
	ip("-6", "addr", "add", "2001:db8:77::10/64", "dev", "wanm0", "nodad")
	ip("route", "add", "default", "via", "192.0.2.1", "dev", "wanm0")
	ip("-6", "route", "add", "default", "via", "2001:db8:77::1", "dev", "wanm0")

	dir := t.TempDir()
	writeNetwork(t, dir, iface("wgnm", secretKey(t), "\toption mtu 'auto'")+iface("wgnf", secretKey(t), "\toption mtu '1300'"))
	td := runDaemon(t, dir, Options{Netifd: true}, nil, nil)
	answers := map[string]api.IfupResult{}
	for _, name := range []string{"wgnm", "wgnf"} {
		var up api.IfupResult
		if err := api.Call(context.Background(), td.socket, "ifup", map[string]string{"interface": name}, &up); err != nil {
			t.Fatal(err)
		}
		answers[name] = up
	}
	if answers["wgnm"].MTU != 1420 || answers["wgnf"].MTU != 1300 {
		t.Fatalf("ifup answers: auto %d (want 1420), fixed %d (want 1300)", answers["wgnm"].MTU, answers["wgnf"].MTU)
	}
	linkMTU := func(name string) string {
		out, _ := exec.Command("ip", "-j", "link", "show", name).Output()
		var l []struct {
			MTU int `json:"mtu"`
		}
		json.Unmarshal(out, &l)
		if len(l) != 1 {
			return "none"
		}
		return strconv.Itoa(l[0].MTU)
	}
	ip("link", "set", "wanm0", "mtu", "1492")
	waitFor(t, "the tunnel MTU to follow the WAN", func() bool { return linkMTU("wgnm") == "1412" })
	if m := linkMTU("wgnf"); m != "1300" {
		t.Errorf("a fixed MTU moved: %s", m)
	}
	for _, is := range td.status(t).Interfaces {
		if want := map[string]int{"wgnm": 1412, "wgnf": 1300}[is.Name]; is.MTU != want || is.MTUAuto != (is.Name == "wgnm") {
			t.Errorf("status of %s: mtu %d auto %v, want %d", is.Name, is.MTU, is.MTUAuto, want)
		}
	}
}
