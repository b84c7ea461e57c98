package peers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wgd/api"
	"wgd/config"
)

// fakeDaemon answers for a running wgd: it runs what the directory's
// files say at each reload, on the interfaces listed in up.
type fakeDaemon struct {
	dir       string
	up        map[string]bool
	running   *api.Status // nil: not running
	statusErr error       // the status after a reload fails so
	reloads   int
	forgotten []config.Key
}

func (f *fakeDaemon) Status(ctx context.Context) (*api.Status, error) {
	if f.running == nil {
		return nil, ErrNotRunning
	}
	if f.reloads > 0 && f.statusErr != nil {
		return nil, f.statusErr
	}
	return f.running, nil
}

func (f *fakeDaemon) Reload(ctx context.Context) (*api.ReloadResult, error) {
	f.reloads++
	cfg, problems := config.Load(f.dir)
	st := &api.Status{ConfigDir: f.running.ConfigDir}
	for _, i := range cfg.Interfaces {
		is := api.InterfaceStatus{Name: i.Name, Up: f.up[i.Name], MTU: 1400}
		for _, p := range i.Peers {
			is.Peers = append(is.Peers, api.PeerStatus{PublicKey: p.PublicKey})
		}
		st.Interfaces = append(st.Interfaces, is)
	}
	f.running = st
	res := &api.ReloadResult{}
	for _, p := range problems {
		res.Problems = append(res.Problems, p.Error())
	}
	return res, nil
}

func (f *fakeDaemon) Forget(ctx context.Context, iface string, key config.Key) (bool, error) {
	f.forgotten = append(f.forgotten, key)
	return true, nil
}

func managed(t *testing.T, running bool, up ...string) (*Manager, *fakeDaemon) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "network"), []byte(network), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wgd"), []byte(wgdConf), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fakeDaemon{dir: dir, up: map[string]bool{}}
	for _, i := range up {
		f.up[i] = true
	}
	if running {
		f.running = &api.Status{ConfigDir: dir}
		f.Reload(context.Background())
		f.reloads = 0
	}
	return &Manager{Dir: dir, Daemon: f}, f
}

// Each change is written, reloaded and checked against what the daemon
// then runs.
func TestManagerFlow(t *testing.T) {
	ctx := context.Background()
	m, f := managed(t, true, "wg0")
	added, applied, err := m.Add(ctx, AddRequest{Name: "phone", Interface: "wg0"}, nil)
	if err != nil || added == nil || applied.NotRunning || applied.Peer != PeerLive || f.reloads != 1 {
		t.Fatalf("add: %+v %+v %v (reloads %d)", added, applied, err, f.reloads)
	}
	if live, err := m.Live(ctx); err != nil || len(live) != 2 {
		t.Errorf("live after add: %v %v", live, err)
	}
	p, err := m.Find("", "phone")
	if err != nil || p.PublicKey != added.Client.PrivateKey.PublicKey() || p.State(LiveOf(f.running), time.Now()) != "live" {
		t.Fatalf("find: %+v %v", p, err)
	}

	c, err := m.SetDisabled(ctx, "", "phone", true)
	if err != nil || !c.Changed || c.Applied.Peer != PeerOff {
		t.Errorf("disable: %+v %v", c, err)
	}
	if c, err := m.SetDisabled(ctx, "", "phone", true); err != nil || c.Changed || c.Applied != nil || f.reloads != 2 {
		t.Errorf("disable twice: %+v %v, %d reloads", c, err, f.reloads)
	}
	if c, err := m.SetDisabled(ctx, "", "phone", false); err != nil || c.Applied.Peer != PeerLive {
		t.Errorf("enable: %+v %v", c, err)
	}
	c, err = m.Remove(ctx, "", "phone")
	if err != nil || c.Applied.Peer != PeerOff || !c.Forgotten || len(f.forgotten) != 1 || f.forgotten[0] != p.PublicKey {
		t.Errorf("remove: %+v %v, forgotten %v", c, err, f.forgotten)
	}

	// wg1 is configured but not up: the peer runs once it is.
	added, applied, err = m.Add(ctx, AddRequest{Name: "tablet", Interface: "wg1", Endpoint: "vpn.example.com:51821"}, nil)
	if err != nil || applied.Peer != InterfaceDown {
		t.Errorf("add on a down interface: %+v %v", applied, err)
	}
}

// The daemon's part goes wrong, or is not there: the file is written all
// the same, and the outcome says so.
func TestManagerFlowDaemon(t *testing.T) {
	ctx := context.Background()

	m, f := managed(t, false)
	added, applied, err := m.Add(ctx, AddRequest{Name: "phone", Interface: "wg0"}, nil)
	if err != nil || added == nil || !applied.NotRunning || f.reloads != 0 {
		t.Errorf("no daemon: %+v %v", applied, err)
	}
	if c, err := m.Remove(ctx, "", "phone"); err != nil || !c.Applied.NotRunning || len(f.forgotten) != 0 {
		t.Errorf("remove without a daemon: %+v %v", c, err)
	}
	if live, err := m.Live(ctx); live != nil || err != nil {
		t.Errorf("live without a daemon: %v %v", live, err)
	}

	// A daemon reading another directory does not see the change.
	m, f = managed(t, true, "wg0")
	f.running.ConfigDir = "/etc/config"
	if _, applied, err := m.Add(ctx, AddRequest{Name: "phone", Interface: "wg0"}, nil); err != nil || applied.RunningDir != "/etc/config" || applied.Dir != m.Dir {
		t.Errorf("other directory: %+v %v", applied, err)
	}

	// The status after the reload fails: written, reloaded, not verified.
	m, f = managed(t, true, "wg0")
	f.statusErr = errors.New("broken pipe")
	added, applied, err = m.Add(ctx, AddRequest{Name: "phone", Interface: "wg0"}, nil)
	if added == nil || applied == nil || err == nil || !strings.Contains(err.Error(), "wgd reloaded, but its status is not available") {
		t.Errorf("status fails: %+v %+v %v", added, applied, err)
	}
	if _, err := m.Find("", "phone"); err != nil {
		t.Errorf("the peer was not written: %v", err)
	}

	// save refuses: nothing is written, nothing reloaded.
	m, f = managed(t, true, "wg0")
	before, _ := os.ReadFile(m.File())
	added, applied, err = m.Add(ctx, AddRequest{Name: "phone", Interface: "wg0"}, func(*Added) error { return errors.New("disk full") })
	after, _ := os.ReadFile(m.File())
	if added != nil || applied != nil || err == nil || string(before) != string(after) || f.reloads != 0 {
		t.Errorf("save fails: %+v %+v %v, %d reloads", added, applied, err, f.reloads)
	}
}

// verify tells each outcome apart, and a peer that still runs after it
// was removed is an error.
func TestVerify(t *testing.T) {
	k := config.Key{7}
	st := func(up bool, ifErr string, keys ...config.Key) *api.Status {
		is := api.InterfaceStatus{Name: "wg0", Up: up, Error: ifErr}
		for _, k := range keys {
			is.Peers = append(is.Peers, api.PeerStatus{PublicKey: k})
		}
		return &api.Status{Interfaces: []api.InterfaceStatus{is}}
	}
	for _, c := range []struct {
		name string
		st   *api.Status
		want bool
		out  Outcome
		err  bool
	}{
		{"live", st(true, "", k), true, PeerLive, false},
		{"off", st(true, ""), false, PeerOff, false},
		{"down", st(false, "", k), true, InterfaceDown, false},
		{"kept on its last good config", st(true, "config errors", k), true, InterfaceDown, false},
		{"not run", st(true, "", config.Key{8}), true, PeerNotRun, false},
		{"still runs", st(true, "", k), false, 0, true},
	} {
		out, err := verify(c.st, "wg0", k, c.want)
		if out != c.out || (err != nil) != c.err {
			t.Errorf("%s: %v %v, want %v (error %v)", c.name, out, err, c.out, c.err)
		}
	}
}

// A control socket nobody listens on is a wgd that is not running, not
// one that failed.
func TestSocketNotRunning(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock") // left by a daemon that died
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "none.sock"), stale} {
		if _, err := Socket(path).Status(context.Background()); !errors.Is(err, ErrNotRunning) {
			t.Errorf("%s: %v, want ErrNotRunning", path, err)
		}
	}
	m := &Manager{Dir: dir, Daemon: Socket(filepath.Join(dir, "none.sock"))}
	if live, err := m.Live(context.Background()); live != nil || err != nil {
		t.Errorf("live: %v %v", live, err)
	}
}
