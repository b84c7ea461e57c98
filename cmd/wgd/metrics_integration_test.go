package main

// Metrics of the real wgd binary in the home-gateway scenario. The contract:
// `wgd run` serves Prometheus metrics at `option metrics_listen` of
// <config-dir>/wgd (section `config wgd 'main'`).

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"wgd/config"
	"wgd/internal/lab"
	"wgd/metrics/metricstest"
)

// metricsAddr is where the router serves metrics: its LAN address.
var metricsAddr = fmt.Sprintf("%s:9586", lab.RouterLANIP)

// fetchMetrics scrapes addr from inside host h (busybox wget: in deps.sh;
// -Y off: no proxy from the environment).
func fetchMetrics(ctx context.Context, h *lab.Host, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return h.Run(ctx, "busybox", "wget", "-q", "-Y", "off", "-O", "-", "http://"+addr+"/metrics")
}

// startRouterWithMetrics is lab's StartRouter with metrics_listen set and
// one more peer section appended to the network file.
func startRouterWithMetrics(t *testing.T, ctx context.Context, g *lab.Gateway, extraNetwork string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(g.RouterDir, "network"), []byte(g.RouterNetworkConfig()+extraNetwork), 0o600); err != nil {
		t.Fatal(err)
	}
	wgd := fmt.Sprintf("\nconfig wgd 'main'\n\toption log_level 'debug'\n\toption metrics_listen '%s'\n", metricsAddr)
	if err := os.WriteFile(filepath.Join(g.RouterDir, "wgd"), []byte(wgd), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.RunRouter(ctx); err != nil {
		t.Fatalf("router: %v", err)
	}
}

// parseTransfer reads `wg show IFACE transfer`: key, received, sent.
func parseTransfer(t *testing.T, out string) map[string][2]uint64 {
	t.Helper()
	m := map[string][2]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("wg show transfer: unexpected line %q", line)
		}
		rx, err1 := strconv.ParseUint(f[1], 10, 64)
		tx, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("wg show transfer: unexpected line %q", line)
		}
		m[f[0]] = [2]uint64{rx, tx}
	}
	return m
}

// metricValue returns the value of the series of name whose labels include
// every one of want (`k="v"`), and whether there is one.
func metricValue(out, name string, want ...string) (float64, bool) {
	v, err := strconv.ParseFloat(metricstest.Sample(out, name, want...), 64)
	return v, err == nil
}

// TestMetricsGateway: the router serves metrics on its LAN address. After
// traffic through the tunnel the byte counters agree with wg(8), peers carry
// their UCI descriptions, a peer that never connected exports 0 and no
// delay, no key other than public ones appears, and the WAN side cannot
// reach the metrics even with a route to the LAN address.
func TestMetricsGateway(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	laptop := addLaptop(t, ctx, g, "laptop", lab.ClientWGD)
	// A peer that never connects, with the secrets UCI may hold for it.
	spare, err := config.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	psk, err := config.GeneratePresharedKey()
	if err != nil {
		t.Fatal(err)
	}
	startRouterWithMetrics(t, ctx, g, fmt.Sprintf(`
config wireguard_%s
	option description 'spare phone'
	option public_key '%s'
	option private_key '%s'
	option preshared_key '%s'
	list allowed_ips '10.99.0.200/32'
`, g.RouterIface, spare.PublicKey(), spare.Base64(), psk.Base64()))

	if out, err := fetchMetrics(ctx, g.Router, metricsAddr); err != nil {
		t.Fatalf("wgd run does not serve metrics at option metrics_listen (%s): %v %s", metricsAddr, err, out)
	}

	if err := laptop.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mustReach(t, ctx, laptop)

	// One scrape from the LAN host, bracketed by wg(8)'s view before and
	// after: each counter lies between the two (usually all three agree).
	wgShow := func(field string) string {
		out, err := g.Router.Run(ctx, "wg", "show", g.RouterIface, field)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before, hsBefore := parseTransfer(t, wgShow("transfer")), parseWGPairs(wgShow("latest-handshakes"))
	out, err := fetchMetrics(ctx, g.LAN, metricsAddr)
	if err != nil {
		t.Fatalf("scrape from the LAN host: %v", err)
	}
	after, hsAfter := parseTransfer(t, wgShow("transfer")), parseWGPairs(wgShow("latest-handshakes"))

	lp := []string{fmt.Sprintf(`interface="%s"`, g.RouterIface), fmt.Sprintf(`public_key="%s"`, laptop.Key.Public)}
	for k, name := range []string{"wireguard_received_bytes_total", "wireguard_sent_bytes_total"} {
		v, ok := metricValue(out, name, lp...)
		lo, hi := before[laptop.Key.Public][k], after[laptop.Key.Public][k]
		switch {
		case !ok:
			t.Errorf("scrape lacks %s for the laptop:\n%s", name, out)
		case lo == 0:
			t.Errorf("wg show %s transfer: no bytes for the laptop after traffic", g.RouterIface)
		case v < float64(lo) || v > float64(hi):
			t.Errorf("%s = %.0f, wg show transfer says %d before and %d after the scrape", name, v, lo, hi)
		}
	}
	hsLo, _ := strconv.ParseFloat(hsBefore[laptop.Key.Public], 64)
	hsHi, _ := strconv.ParseFloat(hsAfter[laptop.Key.Public], 64)
	if v, ok := metricValue(out, "wireguard_latest_handshake_seconds", lp...); !ok || hsLo == 0 || v < hsLo || v > hsHi {
		t.Errorf("laptop's latest handshake: scrape %.0f (found %v), wg show says %.0f before and %.0f after", v, ok, hsLo, hsHi)
	}
	if v, ok := metricValue(out, "wireguard_latest_handshake_delay_seconds", lp...); !ok || v < 0 || v > 600 {
		t.Errorf("laptop's handshake delay: %v (found %v), want a few seconds", v, ok)
	}

	// Friendly names come from the UCI descriptions.
	if _, ok := metricValue(out, "wireguard_sent_bytes_total", append(lp, `friendly_name="laptop"`, `allowed_ips="`+laptop.TunnelIP+`/32"`)...); !ok {
		t.Errorf("laptop's series lack friendly_name=\"laptop\" or its allowed IPs:\n%s", out)
	}
	sp := []string{fmt.Sprintf(`public_key="%s"`, spare.PublicKey()), `friendly_name="spare phone"`}
	for _, name := range []string{"wireguard_sent_bytes_total", "wireguard_received_bytes_total", "wireguard_latest_handshake_seconds"} {
		if v, ok := metricValue(out, name, sp...); !ok || v != 0 {
			t.Errorf("never-connected peer: %s = %v (found %v), want 0", name, v, ok)
		}
	}
	if v, ok := metricValue(out, "wireguard_latest_handshake_delay_seconds", sp...); ok {
		t.Errorf("never-connected peer exports a handshake delay: %v", v)
	}
	iface := fmt.Sprintf(`interface="%s"`, g.RouterIface)
	for name, want := range map[string]float64{
		"wireguard_interface_up": 1, "wireguard_interface_listen_port": lab.ListenPort,
		"wireguard_interface_peers": 2, "wireguard_interface_peers_recent_handshake": 1,
	} {
		if v, ok := metricValue(out, name, iface); !ok || v != want {
			t.Errorf("%s = %v (found %v), want %v", name, v, ok, want)
		}
	}

	// No secret, in the scrape or in `wgd status --json`.
	status, err := g.WGDCmd(ctx, g.Router, "status", "--json", "--socket", g.RouterSocket)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"router private key": g.RouterKey.Private, "laptop private key": laptop.Key.Private,
		"spare private key": spare.Base64(), "spare private key (hex)": spare.Hex(),
		"preshared key": psk.Base64(), "preshared key (hex)": psk.Hex()}
	if k, err := config.ParseSecret(g.RouterKey.Private); err == nil {
		secrets["router private key (hex)"] = k.Hex()
	}
	for what, text := range map[string]string{"scrape": out, "wgd status --json": status} {
		for name, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contains the %s", what, name)
			}
		}
	}

	// The WAN side: inet, with a route to the router's LAN address through
	// the router's WAN address. The route works (ping answers, the weak host
	// model), yet the metrics do not answer there, nor on the WAN address.
	if err := g.Inet.Route(ctx, lab.RouterLANIP+"/32", lab.RouterWANIP); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Ping(ctx, g.Inet, lab.RouterLANIP, 1); err != nil {
		t.Fatalf("control: inet cannot reach the router's LAN address at all, the check below would prove nothing: %v", err)
	}
	for _, addr := range []string{metricsAddr, fmt.Sprintf("%s:9586", lab.RouterWANIP)} {
		if out, err := fetchMetrics(ctx, g.Inet, addr); err == nil {
			t.Errorf("metrics reachable from the WAN side at %s:\n%.300s", addr, out)
		}
	}
	// Still reachable from the LAN afterwards.
	if _, err := fetchMetrics(ctx, g.LAN, metricsAddr); err != nil {
		t.Errorf("scrape from the LAN host after the WAN checks: %v", err)
	}
}

// TestNoMetricsBuild: the nometrics build links no Prometheus code; the
// default build does (the control).
func TestNoMetricsBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	list := func(args ...string) string {
		out, err := exec.Command("go", append([]string{"list", "-deps"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		return string(out)
	}
	if !strings.Contains(list("."), "github.com/prometheus/client_golang/prometheus\n") {
		t.Error("the default build does not link client_golang: metrics are not wired in")
	}
	if deps := list("-tags", "nometrics", "."); strings.Contains(deps, "prometheus") || strings.Contains(deps, "wgd/metrics") {
		t.Errorf("the nometrics build still links metrics code:\n%s", deps)
	}
}
