package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/daemon"
	"wgd/internal/netnstest"
	"wgd/metrics/metricstest"
)

// A real daemon in the test's private namespace: two interfaces that are
// each other's peer over loopback (a keepalive every second makes them
// handshake), with a preshared key, plus a peer that never connects and
// carries the export-only private_key option.
type testDaemon struct {
	dir, socket string
	keyA, keyB  config.Secret
	psk         config.Secret
	spare       config.Secret
	url         string
}

func newKey(t *testing.T, gen func() (config.Secret, error)) config.Secret {
	t.Helper()
	k, err := gen()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// network is the UCI network file; spareName is the never-connected peer's
// description (reloads change it).
func (td *testDaemon) network(spareName string, withSpare bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "config interface 'wgma'\n\toption proto 'wgd'\n\toption private_key '%s'\n\toption listen_port '51901'\n\n", td.keyA.Base64())
	fmt.Fprintf(&b, "config wireguard_wgma\n\toption description 'side b'\n\toption public_key '%s'\n\toption preshared_key '%s'\n"+
		"\toption endpoint_host '127.0.0.1'\n\toption endpoint_port '51902'\n\toption persistent_keepalive '1'\n\tlist allowed_ips '10.71.0.2/32'\n\n",
		td.keyB.PublicKey(), td.psk.Base64())
	if withSpare {
		fmt.Fprintf(&b, "config wireguard_wgma\n\toption description '%s'\n\toption public_key '%s'\n\toption private_key '%s'\n"+
			"\toption preshared_key '%s'\n\tlist allowed_ips '10.71.0.9/32'\n\n",
			spareName, td.spare.PublicKey(), td.spare.Base64(), td.psk.Base64())
	}
	fmt.Fprintf(&b, "config interface 'wgmb'\n\toption proto 'wgd'\n\toption private_key '%s'\n\toption listen_port '51902'\n\n", td.keyB.Base64())
	fmt.Fprintf(&b, "config wireguard_wgmb\n\toption description 'side a'\n\toption public_key '%s'\n\toption preshared_key '%s'\n"+
		"\toption endpoint_host '127.0.0.1'\n\toption endpoint_port '51901'\n\tlist allowed_ips '10.71.0.1/32'\n",
		td.keyA.PublicKey(), td.psk.Base64())
	return b.String()
}

func (td *testDaemon) write(t *testing.T, spareName string, withSpare bool) {
	t.Helper()
	tmp := filepath.Join(td.dir, "network.tmp")
	if err := os.WriteFile(tmp, []byte(td.network(spareName, withSpare)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(td.dir, "network")); err != nil {
		t.Fatal(err)
	}
}

func (td *testDaemon) status(ctx context.Context) (*api.Status, error) {
	var s api.Status
	if err := api.Call(ctx, td.socket, "status", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

type testLog struct{ t *testing.T }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// startDaemon runs the daemon and a metrics server reading it through the
// control socket, both stopped when the test ends.
func startDaemon(t *testing.T) *testDaemon {
	t.Helper()
	netnstest.Root(t)
	td := &testDaemon{
		dir:   t.TempDir(),
		keyA:  newKey(t, config.GeneratePrivateKey),
		keyB:  newKey(t, config.GeneratePrivateKey),
		psk:   newKey(t, config.GeneratePresharedKey),
		spare: newKey(t, config.GeneratePrivateKey),
	}
	td.socket = filepath.Join(td.dir, "wgd.sock")
	td.write(t, "spare phone", true)
	log := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	d := daemon.New(daemon.Options{ConfigDir: td.dir, Socket: td.socket, UAPIDir: filepath.Join(td.dir, "wireguard"), Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- d.Run(ctx) }()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	td.url = "http://" + l.Addr().String() + "/metrics"
	srv := NewServer(l, StatusSource(td.status), Options{Version: "test"}, log)
	t.Cleanup(func() {
		cancel()
		go func() { done <- srv.Close() }()
		for range 2 {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("stop: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("daemon or metrics server did not stop")
				return
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for api.Call(context.Background(), td.socket, "ping", nil, nil) != nil {
		if time.Now().After(deadline) {
			t.Fatal("daemon did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return td
}

func get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, body)
	}
	return string(body), nil
}

// TestDaemonScrape: after the two interfaces handshake, a scrape shows it,
// agrees with the daemon's status, and the never-connected peer exports 0
// and no delay.
func TestDaemonScrape(t *testing.T) {
	td := startDaemon(t)
	var out string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if out, err = get(td.url); err != nil {
			t.Fatal(err)
		}
		if v := metricstest.Sample(out, "wireguard_received_bytes_total", `interface="wgma"`, `friendly_name="side b"`); v != "" && v != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no handshake between wgma and wgmb within 30 s:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v := metricstest.Sample(out, "wireguard_latest_handshake_seconds", `interface="wgma"`, `friendly_name="side b"`); v == "" || v == "0" {
		t.Errorf("wgma's peer: latest handshake %q after traffic", v)
	}
	if v := metricstest.Sample(out, "wireguard_latest_handshake_delay_seconds", `interface="wgma"`, `friendly_name="side b"`); v == "" {
		t.Error("wgma's peer: no handshake delay after a handshake")
	}
	spare := fmt.Sprintf(`public_key="%s"`, td.spare.PublicKey())
	for _, name := range []string{"wireguard_latest_handshake_seconds", "wireguard_sent_bytes_total", "wireguard_received_bytes_total"} {
		if v := metricstest.Sample(out, name, spare, `friendly_name="spare phone"`, `allowed_ips="10.71.0.9/32"`); v != "0" {
			t.Errorf("never-connected peer: %s = %q, want 0", name, v)
		}
	}
	if v := metricstest.Sample(out, "wireguard_latest_handshake_delay_seconds", spare); v != "" {
		t.Errorf("never-connected peer has a handshake delay: %s", v)
	}
	for name, want := range map[string]string{
		`wireguard_interface_up{interface="wgma"}`:                     "1",
		`wireguard_interface_listen_port{interface="wgma"}`:            "51901",
		`wireguard_interface_peers{interface="wgma"}`:                  "2",
		`wireguard_interface_peers_recent_handshake{interface="wgma"}`: "1",
		`wireguard_interface_listen_port{interface="wgmb"}`:            "51902",
		`wgd_config_problems`:                                          "0",
	} {
		if !strings.Contains(out, "\n"+name+" "+want+"\n") {
			t.Errorf("scrape lacks %s %s", name, want)
		}
	}
	for _, name := range []string{"wgd_config_last_reload_timestamp_seconds", "wgd_hotplug_events_total", "wgd_hotplug_refreshes_total",
		"go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(out, "\n"+name+" ") {
			t.Errorf("scrape lacks %s", name)
		}
	}
	noSecrets(t, td, "scrape", out)
}

// noSecrets fails if text holds any private or preshared key of the test,
// in base64 or hex.
func noSecrets(t *testing.T, td *testDaemon, what, text string) {
	t.Helper()
	for name, k := range map[string]config.Secret{"wgma private key": td.keyA, "wgmb private key": td.keyB,
		"preshared key": td.psk, "peer's private_key option": td.spare} {
		for _, form := range []string{k.Base64(), k.Hex(), strings.TrimRight(k.Base64(), "=")} {
			if strings.Contains(text, form) {
				t.Errorf("%s contains the %s", what, name)
			}
		}
	}
}

// TestDaemonNoSecrets: neither the scrape nor the status the CLI prints
// (wgd status --json is this JSON, indented) holds a private or preshared key.
func TestDaemonNoSecrets(t *testing.T) {
	td := startDaemon(t)
	out, err := get(td.url)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, td.spare.PublicKey().String()) {
		t.Fatalf("scrape lacks the peers (so it proves nothing):\n%s", out)
	}
	noSecrets(t, td, "scrape", out)
	var raw json.RawMessage
	if err := api.Call(context.Background(), td.socket, "status", nil, &raw); err != nil {
		t.Fatal(err)
	}
	noSecrets(t, td, "status", string(raw))
}

// TestScrapeDuringReload: scrapes run back to back while the daemon reloads
// twenty times (a peer comes and goes, a description changes). Every reload
// completes, every scrape answers with one consistent state, and the race
// detector sees nothing.
func TestScrapeDuringReload(t *testing.T) {
	td := startDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var scrapes int
	var problems []string
	scraped := make(chan struct{}, 1) // a scrape finished since the last reload
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				out, err := get(td.url)
				if err == nil {
					err = consistentPeers(out)
				}
				mu.Lock()
				scrapes++
				if err != nil {
					problems = append(problems, err.Error())
				}
				mu.Unlock()
				select {
				case scraped <- struct{}{}:
				default:
				}
			}
		}()
	}
	const reloads = 20
	for n := range reloads {
		// Scrapes keep running; wait for one to finish, so that each
		// reload meets scrapes rather than a pause between them.
		select {
		case <-scraped:
		case <-ctx.Done():
			t.Fatal("no scrape finished")
		}
		td.write(t, fmt.Sprintf("spare %d", n), n%3 != 2)
		rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
		var res api.ReloadResult
		err := api.Call(rctx, td.socket, "reload", nil, &res)
		rcancel()
		if err != nil {
			t.Fatalf("reload %d with scrapes running: %v", n, err)
		}
		if res.Errors > 0 || len(res.Failed) > 0 {
			t.Fatalf("reload %d: %+v", n, res)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d reloads, %d scrapes", reloads, scrapes)
	if scrapes < reloads {
		t.Errorf("only %d scrapes during %d reloads: the test did not overlap them", scrapes, reloads)
	}
	for _, p := range problems {
		t.Error(p)
	}
	// The last state is what a scrape shows now.
	out, err := get(td.url)
	if err != nil {
		t.Fatal(err)
	}
	last := fmt.Sprintf(`friendly_name="spare %d"`, reloads-1)
	if metricstest.Sample(out, "wireguard_sent_bytes_total", `interface="wgma"`, last) != "0" {
		t.Errorf("after the reloads, the scrape lacks the peer %s:\n%s", last, out)
	}
}

// consistentPeers checks, per interface, that the configured peer count and
// the peer series of one scrape agree.
func consistentPeers(out string) error {
	series := map[string]int{}
	counts := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "wireguard_sent_bytes_total{"); ok {
			_, after, _ := strings.Cut(rest, `interface="`)
			name, _, _ := strings.Cut(after, `"`)
			series[name]++
		}
		if rest, ok := strings.CutPrefix(line, `wireguard_interface_peers{interface="`); ok {
			name, value, _ := strings.Cut(rest, `"} `)
			counts[name] = value
		}
	}
	if len(counts) != 2 {
		return fmt.Errorf("scrape lists %d interfaces, want 2:\n%s", len(counts), out)
	}
	for name, v := range counts {
		if v != fmt.Sprint(series[name]) {
			return fmt.Errorf("scrape mixes two states: %s has %s peers and %d peer series", name, v, series[name])
		}
	}
	return nil
}
