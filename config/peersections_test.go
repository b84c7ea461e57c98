package config

import (
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
	// The running model names the section of each peer it runs.
	cfg, _ := FromUCI(pkg, nil)
	if ps := cfg.Interface("wg0").Peers; len(ps) != 1 || ps[0].Section != "@wireguard_wg0[2]" || ps[0].PublicKey != plain.PublicKey {
		t.Errorf("running peers: %+v", ps)
	}
}
