package config

import (
	"reflect"
	"strings"
	"testing"

	"wgd/uci"
)

// PeerSections reads every peer section with FromUCI's rules, disabled
// and broken ones too, and names each section and its line.
func TestPeerSections(t *testing.T) {
	text := `config interface 'wg0'
	option proto 'wgd'
	option private_key 'oK5T0Yk8xZ1n0QqzG2sC3z8vF4Y5sV7m6W1d2E3f4Gs='

config wireguard_wg0
	option description 'parked'
	option public_key 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg='
	list allowed_ips '10.0.0.2'
	option disabled 'on'

config wireguard_wg0 'broken'
	option public_key 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0='
	list allowed_ips '10.0.0.3/32 10.0.0.300'
	option endpoint_host '[2001:db8::1]'

config wireguard_wg0
	option public_key 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw='
	option disabled 'no'
	option private_key 'oK5T0Yk8xZ1n0QqzG2sC3z8vF4Y5sV7m6W1d2E3f4Gs='
`
	pkg, errs := uci.Parse("network", []byte(text))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	got := PeerSections(pkg, "wg0")
	if len(got) != 3 {
		t.Fatalf("%d sections", len(got))
	}
	parked, broken, plain := got[0], got[1], got[2]
	if parked.Section != "@wireguard_wg0[0]" || parked.Line != 5 || !parked.Disabled || parked.Runs() ||
		parked.Description != "parked" || len(parked.AllowedIPs) != 1 || parked.AllowedIPs[0].String() != "10.0.0.2/32" {
		t.Errorf("disabled peer: %+v", parked)
	}
	if broken.Section != "broken" || broken.Disabled || broken.Runs() || len(broken.Problems) != 1 ||
		!strings.Contains(broken.Problems[0].Error(), "10.0.0.300") || broken.Endpoint() != "[2001:db8::1]:51820" {
		t.Errorf("broken peer: %+v %v", broken, broken.Problems)
	}
	if plain.Section != "@wireguard_wg0[2]" || plain.Disabled || !plain.Runs() {
		t.Errorf("plain peer: %+v", plain)
	}
	if parked.Name != "" || broken.Name != "broken" || plain.Name != "" {
		t.Errorf("names %q %q %q, want \"\", broken, \"\"", parked.Name, broken.Name, plain.Name)
	}
	if parked.KeyKept || broken.KeyKept || !plain.KeyKept {
		t.Errorf("kept keys %v %v %v, want only the last", parked.KeyKept, broken.KeyKept, plain.KeyKept)
	}
	cfg, _ := FromUCI(pkg, nil)
	if ps := cfg.Interface("wg0").Peers; len(ps) != 1 || ps[0].PublicKey != plain.PublicKey {
		t.Errorf("running peers: %+v", ps)
	}
}

// Deleting a section above an anonymous peer moves its @wireguard_wg0[N]
// and its line, not what runs: the interface's model stays equal, so the
// daemon (which compares it with reflect.DeepEqual) does not apply it
// again.
func TestPeerModelIgnoresPosition(t *testing.T) {
	iface := "config interface 'wg0'\n\toption proto 'wgd'\n\toption private_key 'oK5T0Yk8xZ1n0QqzG2sC3z8vF4Y5sV7m6W1d2E3f4Gs='\n"
	parked := "config wireguard_wg0\n\toption public_key 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg='\n\toption disabled '1'\n"
	running := "config wireguard_wg0\n\toption public_key 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw='\n\tlist allowed_ips '10.0.0.2/32'\n"
	load := func(text string) Interface {
		pkg, errs := uci.Parse("network", []byte(text))
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		cfg, problems := FromUCI(pkg, nil)
		if len(problems) != 0 || cfg.Interface("wg0") == nil || len(cfg.Interface("wg0").Peers) != 1 {
			t.Fatalf("%q: %v", text, problems)
		}
		return *cfg.Interface("wg0")
	}
	before, after := load(iface+parked+running), load(iface+running)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("deleting a disabled section above changed the running model:\n%+v\n%+v", before.Peers, after.Peers)
	}
}
