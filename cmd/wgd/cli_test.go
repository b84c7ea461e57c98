package main

import (
	"bytes"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/firewall"
)

func runCLI(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestKeysAgreeWithWg(t *testing.T) {
	code, priv, _ := runCLI("", "genkey")
	if code != 0 {
		t.Fatal("genkey failed")
	}
	code, pub, _ := runCLI(priv, "pubkey")
	if code != 0 {
		t.Fatal("pubkey failed")
	}
	if _, err := config.ParseKey(strings.TrimSpace(pub)); err != nil {
		t.Fatalf("pubkey output %q: %v", pub, err)
	}
	if code, psk, _ := runCLI("", "genpsk"); code != 0 || len(strings.TrimSpace(psk)) != 44 {
		t.Fatalf("genpsk %q", psk)
	}
	if _, err := exec.LookPath("wg"); err != nil {
		t.Skip("wg(8) not installed: scripts/deps.sh installs it")
	}
	cmd := exec.Command("wg", "pubkey")
	cmd.Stdin = strings.NewReader(priv)
	want, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if pub != string(want) {
		t.Errorf("wgd pubkey %q, wg pubkey %q", pub, want)
	}
}

func TestPubkeyRejectsGarbageWithoutEchoingIt(t *testing.T) {
	code, _, stderr := runCLI("c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0", "pubkey")
	if code != 1 || !strings.Contains(stderr, "not a WireGuard key") || strings.Contains(stderr, "c2VjcmV0") {
		t.Errorf("code %d stderr %q", code, stderr)
	}
}

func TestUsage(t *testing.T) {
	if code, _, stderr := runCLI("", "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown command: %d %q", code, stderr)
	}
	if code, _, stderr := runCLI("", "status", "--bogus"); code != 2 || !strings.Contains(stderr, "bad usage") {
		t.Errorf("bad flag: %d %q", code, stderr)
	}
	if code, out, _ := runCLI("", "version"); code != 0 || !strings.HasPrefix(out, "wgd ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestClientWithoutDaemon(t *testing.T) {
	code, _, stderr := runCLI("", "status", "--socket", t.TempDir()+"/none.sock")
	if code != 1 || !strings.Contains(stderr, "wgd is not running") {
		t.Errorf("%d %q", code, stderr)
	}
}

func TestStatusTable(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	k, _ := config.ParseKey("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=")
	s := &api.Status{Interfaces: []api.InterfaceStatus{{
		Name: "wg0", Up: true, PublicKey: k, ListenPort: 51820,
		Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.1/24")}, MTU: 1412, MTUAuto: true,
		Peers: []api.PeerStatus{
			{Description: "laptop", PublicKey: k, Endpoint: "203.0.113.2:40000", AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.2/32")},
				LatestHandshake: now.Unix() - 12, RxBytes: 1536, TxBytes: 3 << 20, TotalRxBytes: 5 << 30, TotalTxBytes: 2048,
				Expires: now.Unix() + 47*3600 + 59*60},
			{PublicKey: k, EndpointHost: "phone.example:51820", Expires: now.Unix() - 1, Expired: true},
		},
	}}, Problems: []string{"network:9: section @wireguard_wg0[2]: bad"},
		Firewall: firewall.Status{Backend: "nftables", Holes: []firewall.Hole{{Interface: "wg0", Port: 51820}}}}
	var out bytes.Buffer
	printStatus(&out, s, now)
	for _, want := range []string{
		"interface wg0: up, public key xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=, listening on 51820, address 10.99.0.1/24",
		"laptop", "203.0.113.2:40000", "10.99.0.2/32", "12s ago", "1.5 KiB", "3.0 MiB",
		"xTIBA5rb…", "phone.example:51820 (unresolved)", "never",
		"config: network:9", "firewall: nftables, open udp/51820 (wg0)",
		", mtu 1412 (auto: follows the WAN)", "5.0 GiB / 2.0 KiB", "in 47h 59m", "expired",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in\n%s", want, out.String())
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	for secs, want := range map[int64]string{0: "never", now.Unix() - 5: "5s ago", now.Unix() - 125: "2m 5s ago", now.Unix() - 7300: "2h 1m ago", now.Unix() - 3*86400: "3d ago"} {
		if got := ago(secs, now); got != want {
			t.Errorf("ago(%d) = %q, want %q", secs, got, want)
		}
	}
}
