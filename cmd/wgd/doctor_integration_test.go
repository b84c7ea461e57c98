package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"wgd/doctor"
	"wgd/internal/lab"
)

// `wgd doctor` on the home gateway, each check against a router that
// really has the fault: wgd stopped, the listen port dropped by an
// fw4-like ruleset, a dynamic DNS name that points elsewhere, a peer
// whose allowed IPs take the LAN, a WAN link whose MTU a fixed tunnel
// MTU does not fit (the automatic one follows it), a carrier-grade NAT
// address.
func TestDoctor(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"nft", "dnsmasq", "socat", "wg", "wireguard-go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: run scripts/deps.sh", tool)
		}
	}
	ctx := testContext(t)
	g := newGateway(t, ctx)
	laptop := addLaptop(t, ctx, g, "laptop", lab.ClientWireGuardGo)
	wan := routerWANDev(t, ctx, g)
	sh := func(h *lab.Host, script string) {
		t.Helper()
		if _, err := h.Run(ctx, "sh", "-ec", script); err != nil {
			t.Fatal(err)
		}
	}
	dns := nameServer(t, ctx, g, g.Router)
	const name = "home.example.net"
	if err := dns.Set(ctx, g.Router, name, lab.RouterWANIP); err != nil {
		t.Fatal(err)
	}

	// run is `wgd doctor --json` on the router: its report and whether it
	// exited 1 (problems found).
	run := func() (doctor.Report, bool) {
		t.Helper()
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", g.Router.NS, wgdBin, "doctor", "--json",
			"--config-dir", g.RouterDir, "--socket", g.RouterSocket)
		out, err := cmd.Output()
		var exit *exec.ExitError
		if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1) {
			t.Fatalf("wgd doctor: %v\n%s", err, out)
		}
		var r doctor.Report
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("wgd doctor --json: %v\n%s", err, out)
		}
		if failed := err != nil; failed != (r.Failures > 0) {
			t.Errorf("exit status says failed=%v, report has %d failures", failed, r.Failures)
		}
		return r, err != nil
	}
	// expect checks that each named check reports that severity (all its
	// findings), with the message holding the word given.
	expect := func(when string, r doctor.Report, want map[string]doctor.Severity, words map[string]string) {
		t.Helper()
		for check, sev := range want {
			found := false
			for _, f := range r.Findings {
				if f.Check != check {
					continue
				}
				found = true
				if f.Severity != sev || !strings.Contains(f.Message, words[check]) {
					t.Errorf("%s: %s: %s %q, want %s with %q", when, check, f.Severity, f.Message, sev, words[check])
				}
			}
			if !found {
				t.Errorf("%s: no %s finding in %+v", when, check, r.Findings)
			}
		}
	}

	sh(g.Router, "nft -f - <<'EOF'\n"+lab.Fw4Ruleset(wan)+"EOF\n")
	wgdConf := func(firewall string) string {
		return "\nconfig wgd 'main'\n\toption log_level 'debug'\n\toption firewall '" + firewall + "'\n\toption public_endpoint '" + name + "'\n"
	}
	writeRouterConfig(t, g, g.RouterNetworkConfig(), wgdConf("none"))

	r, failed := run()
	if !failed {
		t.Error("wgd stopped: doctor did not fail")
	}
	expect("wgd stopped", r, map[string]doctor.Severity{"daemon": doctor.Fail, "wan": doctor.OK, "public_endpoint": doctor.OK, "clock": doctor.OK},
		map[string]string{"daemon": "not running", "wan": lab.RouterWANIP, "public_endpoint": lab.RouterWANIP})

	startRouterWGD(t, ctx, g)
	r, _ = run()
	expect("drop ruleset, option firewall 'none'", r, map[string]doctor.Severity{"daemon": doctor.OK, "interface": doctor.OK, "listen_port": doctor.OK, "firewall": doctor.Fail, "handshake": doctor.Warn},
		map[string]string{"firewall": "closed", "handshake": "never"})

	writeRouterConfig(t, g, g.RouterNetworkConfig(), wgdConf("nftables"))
	if err := g.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := laptop.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mustReach(t, ctx, laptop)
	r, failed = run()
	if failed {
		t.Errorf("a working router: doctor failed: %+v", r.Findings)
	}
	expect("wgd opens the port", r, map[string]doctor.Severity{"firewall": doctor.OK, "handshake": doctor.OK, "mtu": doctor.OK},
		map[string]string{"firewall": "open", "handshake": "connected"})

	// A rule of iptables-legacy (fw3), which nft does not show, drops it.
	if _, err := exec.LookPath("iptables-legacy"); err == nil {
		sh(g.Router, fmt.Sprintf("for ipt in iptables-legacy ip6tables-legacy; do $ipt -w -I INPUT -p udp --dport %d -j DROP; done", lab.ListenPort))
		r, _ = run()
		expect("iptables-legacy drops the port", r, map[string]doctor.Severity{"firewall": doctor.Fail}, map[string]string{"firewall": "filter INPUT"})
		sh(g.Router, fmt.Sprintf("for ipt in iptables-legacy ip6tables-legacy; do $ipt -w -D INPUT -p udp --dport %d -j DROP; done", lab.ListenPort))
	}

	if err := dns.Set(ctx, g.Router, name, "203.0.113.99"); err != nil {
		t.Fatal(err)
	}
	r, _ = run()
	expect("the name points elsewhere", r, map[string]doctor.Severity{"public_endpoint": doctor.Fail}, map[string]string{"public_endpoint": "203.0.113.99"})

	k, err := g.GenKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g.Peers = append(g.Peers, lab.RouterPeer{Description: "printer", PublicKey: k.Public, AllowedIPs: []string{"192.168.50.128/25"}})
	writeRouterConfig(t, g, g.RouterNetworkConfig(), wgdConf("nftables"))
	if err := g.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	r, _ = run()
	expect("a peer takes part of the LAN", r, map[string]doctor.Severity{"allowed_ips": doctor.Fail}, map[string]string{"allowed_ips": "192.168.50.0/24"})

	// The automatic MTU follows a smaller WAN MTU (1400 - 60); a fixed
	// one does not.
	sh(g.Router, "ip link set "+wan+" mtu 1400")
	if err := lab.Poll(ctx, 10*time.Second, func(ctx context.Context) error {
		if r, _ = run(); !strings.Contains(findingText(r, "mtu"), "1340 (auto") {
			return fmt.Errorf("doctor: %s", findingText(r, "mtu"))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	expect("small WAN MTU, followed", r, map[string]doctor.Severity{"mtu": doctor.OK}, map[string]string{"mtu": "1340 (auto"})
	writeRouterConfig(t, g, strings.Replace(g.RouterNetworkConfig(), "\toption proto 'wgd'\n", "\toption proto 'wgd'\n\toption mtu '1420'\n", 1), wgdConf("nftables"))
	if err := g.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	r, _ = run()
	expect("PPPoE-like WAN MTU, fixed tunnel MTU", r, map[string]doctor.Severity{"mtu": doctor.Warn}, map[string]string{"mtu": "1400"})

	sh(g.Router, "ip addr add 100.64.0.1/10 dev "+wan+"; ip addr del "+lab.RouterWANIP+"/24 dev "+wan+"; ip route replace default via 100.64.0.254 dev "+wan)
	r, _ = run()
	expect("carrier-grade NAT", r, map[string]doctor.Severity{"wan": doctor.Fail}, map[string]string{"wan": "carrier-grade NAT"})
}

// findingText is the messages of a report's findings of one check.
func findingText(r doctor.Report, check string) string {
	var out []string
	for _, f := range r.Findings {
		if f.Check == check {
			out = append(out, f.Message)
		}
	}
	return strings.Join(out, "; ")
}
