package device

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"wgd/config"
)

func key(b byte) config.Key { var k config.Key; k[0] = b; return k }

func secret(b byte) config.Secret { var k config.Secret; k[0] = b; return k }

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func desired(peers ...config.Peer) Desired {
	return Desired{Config: config.Interface{Name: "wg0", PrivateKey: secret(1), ListenPort: 51820, Peers: peers}, Endpoints: map[config.Key]netip.AddrPort{}}
}

func TestUAPIDelta(t *testing.T) {
	a := config.Peer{Description: "a", PublicKey: key(0xa), AllowedIPs: prefixes("10.0.0.2/32")}
	b := config.Peer{Description: "b", PublicKey: key(0xb), AllowedIPs: prefixes("10.0.0.3/32"), PersistentKeepalive: 25}
	ep := netip.MustParseAddrPort("192.0.2.1:51820")
	withEndpoint := func(d Desired, k config.Key) Desired { d.Endpoints[k] = ep; return d }
	aWider := a
	aWider.AllowedIPs = prefixes("10.0.0.2/32", "192.168.1.0/24")
	aRenamed := a
	aRenamed.Description = "laptop"
	aPSK := a
	c := config.Peer{Description: "c", PublicKey: key(0xc), AllowedIPs: prefixes("10.0.0.2/32")}
	aPSK.PresharedKey = secret(9)

	cases := []struct {
		name     string
		old, new Desired
		want     []string // lines, in order
	}{
		{"fresh", Desired{}, desired(a), []string{
			"private_key=" + secret(1).Hex(), "listen_port=51820",
			"public_key=" + key(0xa).Hex(), "preshared_key=" + (config.Secret{}).Hex(), "persistent_keepalive_interval=0",
			"replace_allowed_ips=true", "allowed_ip=10.0.0.2/32"}},
		{"unchanged", desired(a, b), desired(a, b), nil},
		{"description only", desired(a), desired(aRenamed), nil},
		{"peer added, others untouched", desired(a), desired(a, b), []string{
			"public_key=" + key(0xb).Hex(), "preshared_key=" + (config.Secret{}).Hex(), "persistent_keepalive_interval=25",
			"replace_allowed_ips=true", "allowed_ip=10.0.0.3/32"}},
		{"peer removed", desired(a, b), desired(b), []string{"public_key=" + key(0xa).Hex(), "remove=true"}},
		{"allowed ips changed", desired(a, b), desired(aWider, b), []string{
			"public_key=" + key(0xa).Hex(), "update_only=true", "replace_allowed_ips=true",
			"allowed_ip=10.0.0.2/32", "allowed_ip=192.168.1.0/24"}},
		{"preshared key changed", desired(a), desired(aPSK), []string{
			"public_key=" + key(0xa).Hex(), "update_only=true", "preshared_key=" + secret(9).Hex()}},
		{"endpoint resolved later", desired(a), withEndpoint(desired(a), a.PublicKey), []string{
			"public_key=" + key(0xa).Hex(), "update_only=true", "endpoint=192.0.2.1:51820"}},
		{"same endpoint is not set again (keeps roaming)", withEndpoint(desired(a), a.PublicKey), withEndpoint(desired(a), a.PublicKey), nil},
		// c has a's allowed IP; the engine gives it to whoever got it last.
		{"the later holder of an allowed IP removed: the earlier gets it back", desired(a, c), desired(a), []string{
			"public_key=" + key(0xc).Hex(), "remove=true",
			"public_key=" + key(0xa).Hex(), "update_only=true", "replace_allowed_ips=true", "allowed_ip=10.0.0.2/32"}},
		{"a peer added before the holder of its allowed IP: the later keeps it", desired(a), desired(c, a), []string{
			"public_key=" + key(0xc).Hex(), "preshared_key=" + (config.Secret{}).Hex(), "persistent_keepalive_interval=0",
			"replace_allowed_ips=true", "allowed_ip=10.0.0.2/32",
			"public_key=" + key(0xa).Hex(), "update_only=true", "replace_allowed_ips=true", "allowed_ip=10.0.0.2/32"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := uapiDelta(c.old, c.new)
			want := ""
			if c.want != nil {
				want = strings.Join(c.want, "\n") + "\n"
			}
			if got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestParseStateDropsSecrets(t *testing.T) {
	text := "private_key=" + secret(7).Hex() + "\nlisten_port=51820\nfwmark=4660\n" +
		"public_key=" + key(0xa).Hex() + "\npreshared_key=" + secret(8).Hex() + "\nprotocol_version=1\n" +
		"endpoint=[2001:db8::1]:4500\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\n" +
		"tx_bytes=10\nrx_bytes=20\npersistent_keepalive_interval=25\nallowed_ip=10.0.0.2/32\nallowed_ip=fd00::/64\n" +
		"public_key=" + key(0xb).Hex() + "\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
	s, err := parseState(text)
	if err != nil {
		t.Fatal(err)
	}
	if s.ListenPort != 51820 || s.FwMark != 4660 || len(s.Peers) != 2 {
		t.Fatalf("%+v", s)
	}
	p := s.Peers[0]
	if p.PublicKey != key(0xa) || p.Endpoint.String() != "[2001:db8::1]:4500" || !p.LastHandshake.Equal(time.Unix(1700000000, 5)) ||
		p.TxBytes != 10 || p.RxBytes != 20 || p.PersistentKeepalive != 25 || len(p.AllowedIPs) != 2 {
		t.Errorf("peer a: %+v", p)
	}
	if !s.Peers[1].LastHandshake.IsZero() {
		t.Errorf("never is zero: %+v", s.Peers[1])
	}
	if _, err := parseState("public_key=" + key(1).Hex() + "\nrx_bytes=x\n"); err == nil {
		t.Errorf("a malformed number must be an error")
	}
}
