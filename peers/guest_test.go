package peers

import (
	"strings"
	"testing"
	"time"

	"wgd/config"
)

func TestAddGuestAndMTU(t *testing.T) {
	// The interface follows the WAN (no option mtu).
	d, w := docs(t, strings.Replace(network, "\toption mtu '1420'\n", "", 1), wgdConf)
	until := time.Date(2026, 12, 4, 18, 0, 0, 0, time.FixedZone("CET", 3600))
	added, err := Add(d, w, AddRequest{Name: "guest", Interface: "wg0", Expires: until, TunnelMTU: 1412})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(added.Client.Config(), "\nMTU = 1412\n") {
		t.Errorf("a tunnel below 1420 is not told to the client:\n%s", added.Client.Config())
	}
	text := string(d.Bytes())
	if !strings.Contains(text, "\toption expires '2026-12-04T17:00:00Z'\n") {
		t.Errorf("no expiry in UTC in the section:\n%s", text)
	}
	cfg, _ := config.FromUCI(d.Package(), w)
	p := cfg.Interface("wg0").Peer(added.Client.PrivateKey.PublicKey())
	if p == nil || !p.Expires.Equal(until) {
		t.Errorf("the router reads %+v", p)
	}
	var listed Peer
	for _, q := range List(d.Package(), "wg0") {
		if q.Name == "guest" {
			listed = q
		}
	}
	if !listed.Expires.Equal(until) {
		t.Errorf("List: expires %v", listed.Expires)
	}

	// The usual MTU is left to the client; so is an unknown one; an
	// explicit one is written as it is.
	for _, m := range []int{1420, 0} {
		added, err := Add(d, w, AddRequest{Name: "p" + string(rune('a'+m%26)), Interface: "wg0", TunnelMTU: m})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(added.Client.Config(), "MTU") {
			t.Errorf("tunnel MTU %d: the client config has an MTU line:\n%s", m, added.Client.Config())
		}
		if strings.Contains(string(d.Bytes()), "expires") && strings.Count(string(d.Bytes()), "expires") != 1 {
			t.Error("an expiry on a peer added without one")
		}
	}
	d, w = docs(t, strings.Replace(network, "option mtu '1420'", "option mtu '1300'", 1), wgdConf)
	added, err = Add(d, w, AddRequest{Name: "x", Interface: "wg0", TunnelMTU: 1412})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(added.Client.Config(), "\nMTU = 1300\n") {
		t.Errorf("explicit MTU:\n%s", added.Client.Config())
	}
}

func TestFitMTU(t *testing.T) {
	for _, c := range []struct{ own, tunnel, want int }{
		{0, 1412, 1412}, {0, 1420, 0}, {0, 0, 0}, {1300, 1412, 1300}, {1420, 1380, 1420},
	} {
		cl := Client{MTU: c.own}
		cl.FitMTU(c.tunnel)
		if cl.MTU != c.want {
			t.Errorf("own %d, tunnel %d: MTU %d, want %d", c.own, c.tunnel, cl.MTU, c.want)
		}
	}
}
