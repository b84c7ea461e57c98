package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const (
	keyLaptop = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	keyNever  = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
	keyOld    = "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="
)

// now is the collector's clock in these tests: 2026-01-02 03:04:05 UTC.
var now = time.Unix(1767323045, 0)

func u64(v uint64) *uint64 { return &v }

// fixed is a state with one running interface (a connected peer, one that
// never connected, one whose handshake is old), one that failed to come up,
// and every daemon part reported.
func fixed() *Snapshot {
	return &Snapshot{
		Interfaces: []Interface{
			{Name: "wg0", Up: true, ListenPort: 51820, Peers: []Peer{
				{PublicKey: keyLaptop, Description: "laptop",
					AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32"), netip.MustParsePrefix("fd00:10::2/128")},
					Endpoint:   netip.MustParseAddrPort("203.0.113.7:40000"), LatestHandshake: now.Unix() - 42,
					RxBytes: 123456, TxBytes: 654321},
				{PublicKey: keyNever, Description: "spare phone", AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.3/32")}},
				{PublicKey: keyOld, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.4/32")},
					Endpoint: netip.MustParseAddrPort("[2001:db8::4]:51820"), LatestHandshake: now.Unix() - 600, RxBytes: 1, TxBytes: 2},
			}},
			{Name: "wg1", ListenPort: 51821, DroppedPackets: u64(7), Reason: "listen_port_in_use"},
		},
		Daemon: Daemon{
			LastReload:  time.Unix(1767320000, 0),
			Problems:    2,
			Reloads:     &Reloads{OK: 3, Partial: 1, Failed: 1, Last: ReloadPartial},
			Hotplug:     &Hotplug{Events: 5, Dropped: 1, Refreshes: 2},
			Resolutions: &Resolutions{OK: 9, Failed: 4},
			Firewall:    &Firewall{Backend: "fw4", Active: true},
			Pool:        &Pool{Capacity: 1024, InUse: 389},
		},
	}
}

func fixedSource(s *Snapshot) Source {
	return SourceFunc(func(context.Context) (*Snapshot, error) { return s, nil })
}

func newTestCollector(src Source, opts Options) *Collector {
	if opts.Version == "" {
		opts.Version, opts.Profile = "1.2.3", "standard"
	}
	c := NewCollector(src, opts)
	c.now = func() time.Time { return now }
	return c
}

const wantPeers = `
# HELP wireguard_sent_bytes_total Bytes sent to the peer.
# TYPE wireguard_sent_bytes_total counter
wireguard_sent_bytes_total{allowed_ips="10.0.0.2/32,fd00:10::2/128",friendly_name="laptop",interface="wg0",public_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="} 654321
wireguard_sent_bytes_total{allowed_ips="10.0.0.3/32",friendly_name="spare phone",interface="wg0",public_key="AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="} 0
wireguard_sent_bytes_total{allowed_ips="10.0.0.4/32",friendly_name="",interface="wg0",public_key="AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="} 2
# HELP wireguard_received_bytes_total Bytes received from the peer.
# TYPE wireguard_received_bytes_total counter
wireguard_received_bytes_total{allowed_ips="10.0.0.2/32,fd00:10::2/128",friendly_name="laptop",interface="wg0",public_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="} 123456
wireguard_received_bytes_total{allowed_ips="10.0.0.3/32",friendly_name="spare phone",interface="wg0",public_key="AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="} 0
wireguard_received_bytes_total{allowed_ips="10.0.0.4/32",friendly_name="",interface="wg0",public_key="AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="} 1
# HELP wireguard_latest_handshake_seconds UNIX time of the latest handshake with the peer, 0 if none yet.
# TYPE wireguard_latest_handshake_seconds gauge
wireguard_latest_handshake_seconds{allowed_ips="10.0.0.2/32,fd00:10::2/128",friendly_name="laptop",interface="wg0",public_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="} 1767323003
wireguard_latest_handshake_seconds{allowed_ips="10.0.0.3/32",friendly_name="spare phone",interface="wg0",public_key="AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="} 0
wireguard_latest_handshake_seconds{allowed_ips="10.0.0.4/32",friendly_name="",interface="wg0",public_key="AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="} 1767322445
# HELP wireguard_latest_handshake_delay_seconds Seconds since the latest handshake with the peer; absent if none yet.
# TYPE wireguard_latest_handshake_delay_seconds gauge
wireguard_latest_handshake_delay_seconds{allowed_ips="10.0.0.2/32,fd00:10::2/128",friendly_name="laptop",interface="wg0",public_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="} 42
wireguard_latest_handshake_delay_seconds{allowed_ips="10.0.0.4/32",friendly_name="",interface="wg0",public_key="AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="} 600
`

const wantInterfaces = `
# HELP wireguard_interface_up Whether the interface is running (1) or configured but down (0).
# TYPE wireguard_interface_up gauge
wireguard_interface_up{interface="wg0"} 1
wireguard_interface_up{interface="wg1"} 0
# HELP wireguard_interface_listen_port UDP port the interface listens on.
# TYPE wireguard_interface_listen_port gauge
wireguard_interface_listen_port{interface="wg0"} 51820
wireguard_interface_listen_port{interface="wg1"} 51821
# HELP wireguard_interface_peers Peers configured on the interface.
# TYPE wireguard_interface_peers gauge
wireguard_interface_peers{interface="wg0"} 3
wireguard_interface_peers{interface="wg1"} 0
# HELP wireguard_interface_peers_recent_handshake Peers whose latest handshake is at most 3m0s old.
# TYPE wireguard_interface_peers_recent_handshake gauge
wireguard_interface_peers_recent_handshake{interface="wg0"} 1
wireguard_interface_peers_recent_handshake{interface="wg1"} 0
# HELP wireguard_interface_dropped_packets_total Packets the interface dropped for being larger than its data plane carries (from its link after an MTU raised from outside, or from the network).
# TYPE wireguard_interface_dropped_packets_total counter
wireguard_interface_dropped_packets_total{interface="wg1"} 7
# HELP wgd_interface_problem Why the interface is down, not on its configuration or without all of its layer 3: config_errors (kept on its last good configuration), listen_port_in_use, error or layer3_missing; the value is always 1.
# TYPE wgd_interface_problem gauge
wgd_interface_problem{interface="wg1",reason="listen_port_in_use"} 1
`

const wantDaemon = `
# HELP wgd_config_last_reload_timestamp_seconds UNIX time the configuration was last applied.
# TYPE wgd_config_last_reload_timestamp_seconds gauge
wgd_config_last_reload_timestamp_seconds 1767320000
# HELP wgd_config_problems Problems (errors and warnings) found in the configuration last applied.
# TYPE wgd_config_problems gauge
wgd_config_problems 2
# HELP wgd_config_reloads_total Configuration loads by result: ok, partial (applied with errors) or failed (not applied).
# TYPE wgd_config_reloads_total counter
wgd_config_reloads_total{result="ok"} 3
wgd_config_reloads_total{result="partial"} 1
wgd_config_reloads_total{result="failed"} 1
# HELP wgd_config_last_reload_success Whether the latest configuration load applied without problems.
# TYPE wgd_config_last_reload_success gauge
wgd_config_last_reload_success 0
# HELP wgd_hotplug_events_total Hotplug events received.
# TYPE wgd_hotplug_events_total counter
wgd_hotplug_events_total 5
# HELP wgd_hotplug_events_dropped_total Hotplug events dropped because the queue was full.
# TYPE wgd_hotplug_events_dropped_total counter
wgd_hotplug_events_dropped_total 1
# HELP wgd_hotplug_refreshes_total Refreshes (endpoint re-resolution, socket rebind) caused by hotplug events.
# TYPE wgd_hotplug_refreshes_total counter
wgd_hotplug_refreshes_total 2
# HELP wgd_endpoint_resolutions_total Resolutions of endpoint names by result: ok or failed.
# TYPE wgd_endpoint_resolutions_total counter
wgd_endpoint_resolutions_total{result="ok"} 9
wgd_endpoint_resolutions_total{result="failed"} 4
# HELP wgd_firewall_rule_active Whether the firewall rule opening the listen ports is in place.
# TYPE wgd_firewall_rule_active gauge
wgd_firewall_rule_active{backend="fw4"} 1
# HELP wgd_buffer_pool_capacity Packet buffers the pool may hold at most.
# TYPE wgd_buffer_pool_capacity gauge
wgd_buffer_pool_capacity 1024
# HELP wgd_buffer_pool_in_use Packet buffers in use.
# TYPE wgd_buffer_pool_in_use gauge
wgd_buffer_pool_in_use 389
`

func wantBuildInfo() string {
	return `
# HELP wgd_build_info Build of the running wgd; the value is always 1.
# TYPE wgd_build_info gauge
wgd_build_info{goversion="` + runtime.Version() + `",profile="standard",version="1.2.3"} 1
`
}

// TestCollectorExposition: the whole output for a fixed state, exactly.
func TestCollectorExposition(t *testing.T) {
	c := newTestCollector(fixedSource(fixed()), Options{})
	want := wantPeers + wantInterfaces + wantDaemon + wantBuildInfo()
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestCollectorOmitsUnknown: parts the daemon does not report yet are left
// out, not exported as zeros; so is everything about a load that never
// happened.
func TestCollectorOmitsUnknown(t *testing.T) {
	s := fixed()
	s.Daemon = Daemon{}
	s.Interfaces[1].DroppedPackets = nil
	c := newTestCollector(fixedSource(s), Options{})
	absent := []string{
		"wgd_config_last_reload_timestamp_seconds", "wgd_config_problems", "wgd_config_reloads_total",
		"wgd_config_last_reload_success", "wgd_hotplug_events_total", "wgd_hotplug_events_dropped_total", "wgd_hotplug_refreshes_total",
		"wgd_endpoint_resolutions_total", "wgd_firewall_rule_active", "wgd_buffer_pool_capacity",
		"wgd_buffer_pool_in_use", "wireguard_interface_dropped_packets_total",
	}
	for _, name := range absent {
		if n := testutil.CollectAndCount(c, name); n != 0 {
			t.Errorf("%s: %d series, want none while the state does not report it", name, n)
		}
	}
	// The rest is unchanged.
	if err := testutil.CollectAndCompare(c, strings.NewReader(wantPeers+wantBuildInfo()),
		"wireguard_sent_bytes_total", "wireguard_received_bytes_total", "wireguard_latest_handshake_seconds",
		"wireguard_latest_handshake_delay_seconds", "wgd_build_info"); err != nil {
		t.Error(err)
	}
}

// TestCollectorEndpointLabels: with EndpointLabels, peers carry remote_ip and
// remote_port (empty without an endpoint), MindFlavor's names for them.
func TestCollectorEndpointLabels(t *testing.T) {
	c := newTestCollector(fixedSource(fixed()), Options{EndpointLabels: true})
	want := `
# HELP wireguard_sent_bytes_total Bytes sent to the peer.
# TYPE wireguard_sent_bytes_total counter
wireguard_sent_bytes_total{allowed_ips="10.0.0.2/32,fd00:10::2/128",friendly_name="laptop",interface="wg0",public_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",remote_ip="203.0.113.7",remote_port="40000"} 654321
wireguard_sent_bytes_total{allowed_ips="10.0.0.3/32",friendly_name="spare phone",interface="wg0",public_key="AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",remote_ip="",remote_port=""} 0
wireguard_sent_bytes_total{allowed_ips="10.0.0.4/32",friendly_name="",interface="wg0",public_key="AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=",remote_ip="2001:db8::4",remote_port="51820"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "wireguard_sent_bytes_total"); err != nil {
		t.Error(err)
	}
	// Without the option, no endpoint reaches the output.
	out := scrape(t, NewRegistry(fixedSource(fixed()), Options{}))
	for _, ep := range []string{"203.0.113.7", "2001:db8::4", "remote_ip"} {
		if strings.Contains(out, ep) {
			t.Errorf("endpoint %q in the output without EndpointLabels", ep)
		}
	}
}

// TestCollectorRecentHandshake: the window for "recent" is an option.
func TestCollectorRecentHandshake(t *testing.T) {
	c := newTestCollector(fixedSource(fixed()), Options{RecentHandshake: 15 * time.Minute})
	want := `
# HELP wireguard_interface_peers_recent_handshake Peers whose latest handshake is at most 15m0s old.
# TYPE wireguard_interface_peers_recent_handshake gauge
wireguard_interface_peers_recent_handshake{interface="wg0"} 2
wireguard_interface_peers_recent_handshake{interface="wg1"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "wireguard_interface_peers_recent_handshake"); err != nil {
		t.Error(err)
	}
}

// TestCollectorOddConfig: text from UCI that is not valid UTF-8, a handshake
// stamped ahead of the clock and a key listed twice still give a valid scrape.
func TestCollectorOddConfig(t *testing.T) {
	s := fixed()
	s.Interfaces[0].Peers[0].Description = "caf\xe9"
	s.Interfaces[0].Peers[2].LatestHandshake = now.Unix() + 30
	s.Interfaces[0].Peers = append(s.Interfaces[0].Peers, s.Interfaces[0].Peers[1])
	c := newTestCollector(fixedSource(s), Options{})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP wireguard_latest_handshake_delay_seconds Seconds since the latest handshake with the peer; absent if none yet.
# TYPE wireguard_latest_handshake_delay_seconds gauge
wireguard_latest_handshake_delay_seconds{allowed_ips="10.0.0.2/32,fd00:10::2/128",friendly_name="caf\uFFFD",interface="wg0",public_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="} 42
wireguard_latest_handshake_delay_seconds{allowed_ips="10.0.0.4/32",friendly_name="",interface="wg0",public_key="AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="} 0
`
	want = strings.ReplaceAll(want, `\uFFFD`, "\uFFFD")
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "wireguard_latest_handshake_delay_seconds"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "wireguard_sent_bytes_total"); n != 3 {
		t.Errorf("%d sent-bytes series, want 3 (the repeated key once)", n)
	}
}

// TestScrapeFailsWithSource: a Source error fails the scrape (HTTP 500), so
// Prometheus marks the target down rather than storing an empty state.
func TestScrapeFailsWithSource(t *testing.T) {
	src := SourceFunc(func(context.Context) (*Snapshot, error) { return nil, errors.New("daemon busy") })
	srv := httptest.NewServer(Handler(NewRegistry(src, Options{}), nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "daemon busy") {
		t.Errorf("scrape with a failing source: %s\n%s", resp.Status, body)
	}
}

// TestCollectorTimeout: the collector stops waiting for a stuck Source.
func TestCollectorTimeout(t *testing.T) {
	src := SourceFunc(func(ctx context.Context) (*Snapshot, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src, Options{Timeout: 50 * time.Millisecond}))
	if _, err := reg.Gather(); !errors.Is(err, context.DeadlineExceeded) && (err == nil || !strings.Contains(err.Error(), "deadline exceeded")) {
		t.Errorf("gather with a stuck source: %v, want a deadline error", err)
	}
}

// scrape serves g over HTTP and returns one scrape.
func scrape(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	srv := httptest.NewServer(Handler(g, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s %v\n%s", resp.Status, err, body)
	}
	return string(body)
}

// TestPromtool: promtool, Prometheus' own linter, accepts a real scrape
// (with the Go runtime and process collectors).
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found (Debian package prometheus): run scripts/deps.sh")
	}
	for _, opts := range []Options{{Version: "1.2.3"}, {EndpointLabels: true}} {
		out := scrape(t, NewRegistry(fixedSource(fixed()), opts))
		for _, family := range []string{"wireguard_sent_bytes_total", "go_goroutines", "process_resident_memory_bytes", "wgd_build_info"} {
			if !strings.Contains(out, "\n"+family) {
				t.Errorf("scrape lacks %s", family)
			}
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(out)
		if res, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(res))) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, res)
		}
	}
}

// TestConcurrentScrapes: scrapes while the state changes under them; each
// scrape is one consistent snapshot (the peer count matches the peer series)
// and nothing races (go test -race).
func TestConcurrentScrapes(t *testing.T) {
	var mu sync.Mutex
	state := fixed()
	src := SourceFunc(func(context.Context) (*Snapshot, error) {
		mu.Lock()
		defer mu.Unlock()
		return state, nil
	})
	srv := httptest.NewServer(Handler(NewRegistry(src, Options{}), nil))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the daemon: a new state per change, never mutating a given one
		defer wg.Done()
		for n := 0; ctx.Err() == nil && n < 2000; n++ {
			s := fixed()
			s.Interfaces[0].Peers = s.Interfaces[0].Peers[:n%4]
			for k := range s.Interfaces[0].Peers {
				s.Interfaces[0].Peers[k].RxBytes += uint64(n)
			}
			mu.Lock()
			state = s
			mu.Unlock()
		}
	}()
	errs := make(chan error, 4)
	for range 2 { // MaxRequestsInFlight
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				resp, err := http.Get(srv.URL)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- errors.New(resp.Status + ": " + string(body))
					return
				}
				if err := consistent(string(body)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// consistent checks that wg0's configured peer count equals its number of
// sent-bytes series in one exposition.
func consistent(out string) error {
	series, count := 0, ""
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "wireguard_sent_bytes_total{") && strings.Contains(line, `interface="wg0"`) {
			series++
		}
		if v, ok := strings.CutPrefix(line, `wireguard_interface_peers{interface="wg0"} `); ok {
			count = v
		}
	}
	if count != strconv.Itoa(series) {
		return errors.New("scrape mixes two states: wireguard_interface_peers says " + count + ", peer series: " + strconv.Itoa(series))
	}
	return nil
}
