package firewall

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wgd/internal/lab"
)

// NftAdmits says what real traffic finds: an fw4-like ruleset with two
// more dropping tables, before and after the nftables backend opens a
// port, and with a port the owner opened in fw4's zone chain.
func TestNftAdmitsAgreesWithTraffic(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft: run scripts/deps.sh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	w := newWAN(t, ctx)
	file := filepath.Join(w.lab.Dir, "ruleset.nft")
	if err := os.WriteFile(file, []byte(lab.Fw4Ruleset(w.wanDev)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := w.router.Run(ctx, "nft", "-f", file); err != nil {
		t.Fatal(err)
	}
	ours, theirs, closed := port{"udp", 51820}, port{"udp", 51821}, port{"udp", 51822}
	w.listen(t, ctx, ours, theirs, closed)

	compare := func(when string, want map[port]bool) {
		t.Helper()
		listing, err := w.run.do(nil, "nft", "--terse", "--json", "list", "ruleset")
		if err != nil {
			t.Fatal(err)
		}
		for p, open := range want {
			for _, v6 := range []bool{false, true} {
				addr := map[bool]string{false: routerV4, true: routerV6}[v6]
				a, err := NftAdmits(listing, Probe{IPv6: v6, Device: w.wanDev, Port: uint16(p.num)})
				if err != nil {
					t.Fatal(err)
				}
				reached := probe(ctx, w.remote, addr, p)
				if a.Admitted != open || reached != open || a.Unsure {
					t.Errorf("%s: %s to %s: admitted %v (%+v), reached %v, want %v", when, p, addr, a.Admitted, a, reached, open)
				}
			}
		}
	}
	compare("fw4 alone", map[port]bool{ours: false, theirs: false, closed: false})

	b, err := newOn(w.host(), "nftables", testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Sync([]Hole{{Interface: "wg0", Port: uint16(ours.num)}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Flush() })
	compare("wgd's hole", map[port]bool{ours: true, theirs: false, closed: false})

	// The owner's own rule in fw4's zone chain: reached through a jump.
	// The guard tables drop it still, so it stays closed until they admit
	// it too.
	w.routerSh(t, ctx, "nft insert rule inet fw4 input_wan udp dport 51821 accept")
	compare("fw4 admits, the guards do not", map[port]bool{ours: true, theirs: false})
	w.routerSh(t, ctx, "nft insert rule ip guard input udp dport 51821 accept; nft insert rule ip6 guard6 input udp dport 51821 accept")
	compare("every table admits", map[port]bool{ours: true, theirs: true, closed: false})
}

// The expressions fw4 and hand-written rulesets use, read from nft's JSON.
func TestNftAdmitsExpressions(t *testing.T) {
	listing := `{"nftables": [
{"chain": {"family": "inet", "table": "t", "name": "input", "type": "filter", "hook": "input", "policy": "drop"}},
{"chain": {"family": "inet", "table": "t", "name": "input_wan"}},
{"chain": {"family": "ip6", "table": "six", "name": "in", "type": "filter", "hook": "input", "policy": "accept"}},
{"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": "lo"}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "==", "left": {"&": [{"payload": {"protocol": "tcp", "field": "flags"}}, ["fin", "syn"]]}, "right": "syn"}}, {"drop": null}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "icmpv6", "field": "type"}}, {"payload": {"protocol": "icmpv6", "field": "code"}}]}, "right": "x"}}, {"drop": null}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 546}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": "fe80::/10"}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"set": [68, 51820]}}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"range": [1000, 2000]}}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "dport"}}, "right": 53}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 4000}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth*"}}, {"jump": {"target": "input_wan"}}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"accept": null}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input_wan", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 3000}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input_wan", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 7}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "t", "chain": "input_wan", "expr": [{"reject": {"type": "icmpx", "expr": "port-unreachable"}}]}},
{"rule": {"family": "ip6", "table": "six", "chain": "in", "expr": [{"match": {"op": "!=", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}, {"drop": null}]}}
]}`
	for _, c := range []struct {
		name   string
		p      Probe
		want   bool
		unsure bool
	}{
		{"set, IPv4", Probe{Device: "eth0", Port: 51820}, true, false},
		{"set, IPv6: nfproto differs; the ip6 table drops too", Probe{IPv6: true, Device: "eth0", Port: 51820}, false, true},
		{"range", Probe{Device: "eth0", Port: 1500}, true, false},
		{"th dport", Probe{IPv6: true, Device: "eth0", Port: 53}, true, false},
		{"tcp rule is not ours; zone chain accepts 3000", Probe{Device: "eth1", Port: 3000}, true, false},
		{"zone chain rejects; a mark match is unknown", Probe{Device: "eth1", Port: 4000}, false, true},
		{"another device falls through to accept", Probe{Device: "ppp0", Port: 4000}, true, false},
	} {
		a, err := NftAdmits([]byte(listing), c.p)
		if err != nil {
			t.Fatal(err)
		}
		if a.Admitted != c.want || a.Unsure != c.unsure {
			t.Errorf("%s: %+v, want admitted %v unsure %v", c.name, a, c.want, c.unsure)
		}
	}
	if _, err := NftAdmits([]byte("{"), Probe{}); err == nil {
		t.Error("malformed listing accepted")
	}
}

// IptablesAdmits says what real traffic finds with fw3's shape of
// ruleset in iptables-legacy (which nft does not show): INPUT drops,
// the WAN device jumps to a zone chain that rejects.
func TestIptablesAdmitsAgreesWithTraffic(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"iptables-legacy", "ip6tables-legacy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: run scripts/deps.sh", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	w := newWAN(t, ctx)
	for _, ipt := range []string{"iptables-legacy", "ip6tables-legacy"} {
		// ICMP (neighbour discovery for IPv6) as fw3 admits it.
		proto := map[string]string{"iptables-legacy": "icmp", "ip6tables-legacy": "ipv6-icmp"}[ipt]
		w.routerSh(t, ctx, strings.NewReplacer("IPT", ipt, "WAN", w.wanDev, "PROTO", proto).Replace(`
IPT -w -P INPUT DROP
IPT -w -A INPUT -i lo -j ACCEPT
IPT -w -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
IPT -w -A INPUT -p PROTO -j ACCEPT
IPT -w -N zone_wan_input
IPT -w -A INPUT -i WAN -j zone_wan_input
IPT -w -A zone_wan_input -p udp -m multiport --dports 1000:2000,53 -j ACCEPT
IPT -w -A zone_wan_input -j REJECT
`))
	}
	ours, ranged, closed := port{"udp", 51820}, port{"udp", 1500}, port{"udp", 51822}
	w.listen(t, ctx, ours, ranged, closed)
	compare := func(when string, want map[port]bool) {
		t.Helper()
		for _, v6 := range []bool{false, true} {
			listing, err := w.run.do(nil, map[bool]string{false: "iptables-legacy", true: "ip6tables-legacy"}[v6], "-w", "-S")
			if err != nil {
				t.Fatal(err)
			}
			addr := map[bool]string{false: routerV4, true: routerV6}[v6]
			for p, open := range want {
				a, err := IptablesAdmits(string(listing), Probe{IPv6: v6, Device: w.wanDev, Port: uint16(p.num)})
				if err != nil {
					t.Fatal(err)
				}
				reached := probe(ctx, w.remote, addr, p)
				if a.Admitted != open || reached != open || a.Unsure {
					t.Errorf("%s: %s to %s: admitted %v (%+v), reached %v, want %v", when, p, addr, a.Admitted, a, reached, open)
				}
			}
		}
	}
	compare("fw3 alone", map[port]bool{ours: false, ranged: true, closed: false})
	w.routerSh(t, ctx, `for ipt in iptables-legacy ip6tables-legacy; do $ipt -w -I zone_wan_input -p udp -m udp --dport 51820 -m comment --comment "wgd:wg0:51820" -j ACCEPT; done`)
	compare("the port opened", map[port]bool{ours: true, ranged: true, closed: false})
}

func TestIptablesAdmitsRules(t *testing.T) {
	listing := `-P INPUT ACCEPT
-P FORWARD ACCEPT
-N wan
-A INPUT -i ppp+ -g wan
-A INPUT -p tcp -m tcp --dport 22 -j DROP
-A INPUT -s 10.0.0.0/8 -j DROP
-A wan -p udp ! --dport 51820 -j DROP
-A wan -m comment --comment "a \"quoted\" note" -j RETURN
`
	for _, c := range []struct {
		name   string
		p      Probe
		want   bool
		unsure bool
	}{
		{"negated port: ours passes, and returns from the goto chain to the policy", Probe{Device: "ppp0", Port: 51820}, true, false},
		{"negated port: another is dropped", Probe{Device: "ppp0", Port: 4000}, false, false},
		{"not the WAN: a source match is unknown", Probe{Device: "eth0", Port: 4000}, true, true},
	} {
		a, err := IptablesAdmits(listing, c.p)
		if err != nil {
			t.Fatal(err)
		}
		if a.Admitted != c.want || a.Unsure != c.unsure {
			t.Errorf("%s: %+v, want admitted %v unsure %v", c.name, a, c.want, c.unsure)
		}
	}
	if _, err := IptablesAdmits("-A INPUT -j DROP\n", Probe{}); err == nil {
		t.Error("a listing without INPUT's policy accepted")
	}
}
