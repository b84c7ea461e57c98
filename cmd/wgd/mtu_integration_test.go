package main

// The tunnel's MTU follows the WAN's: a PPPoE-like drop of the router's
// WAN link MTU is applied to the running tunnel live.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"wgd/internal/lab"
)

func TestMTUFollowsWAN(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	laptop := addLaptop(t, ctx, g, "laptop", lab.ClientWGD)
	wan, err := lab.DeviceWith(ctx, g.Router, lab.RouterWANIP)
	if err != nil {
		t.Fatal(err)
	}
	// An IPv6 default route as well: peers may come over IPv6, whose
	// outer header is 20 bytes longer.
	for _, args := range [][]string{
		{"-6", "addr", "add", "2001:db8:51::1/64", "dev", wan, "nodad"},
		{"-6", "route", "add", "default", "via", "2001:db8:51::fe", "dev", wan},
	} {
		if out, err := g.Router.IP(ctx, args...); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	if err := g.StartRouter(ctx); err != nil {
		t.Fatal(err)
	}
	if err := laptop.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mustReach(t, ctx, laptop)

	is := status(t, ctx, g, g.Router, g.RouterSocket, g.RouterIface)
	if is.MTU != 1420 || !is.MTUAuto {
		t.Fatalf("WAN MTU 1500: status says mtu %d auto %v, want 1420 auto", is.MTU, is.MTUAuto)
	}
	if m := linkMTU(t, ctx, g.Router, g.RouterIface); m != 1420 {
		t.Fatalf("WAN MTU 1500: tunnel link MTU %d, want 1420", m)
	}
	index, err := lab.LinkIndex(ctx, g.Router, g.RouterIface)
	if err != nil {
		t.Fatal(err)
	}
	before := is.Peer(laptop.Key.Public)
	if before == nil || before.LatestHandshake == 0 {
		t.Fatalf("no session with the laptop: %+v", before)
	}

	// A PPPoE WAN: 1492 - 80 = 1412.
	if out, err := g.Router.IP(ctx, "link", "set", "dev", wan, "mtu", "1492"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	err = lab.Poll(ctx, 10*time.Second, func(ctx context.Context) error {
		if m := linkMTU(t, ctx, g.Router, g.RouterIface); m != 1412 {
			return fmt.Errorf("tunnel link MTU %d, want 1412", m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	is = status(t, ctx, g, g.Router, g.RouterSocket, g.RouterIface)
	if is.MTU != 1412 || !is.MTUAuto {
		t.Errorf("WAN MTU 1492: status says mtu %d auto %v, want 1412 auto", is.MTU, is.MTUAuto)
	}
	if i, err := lab.LinkIndex(ctx, g.Router, g.RouterIface); err != nil || i != index {
		t.Errorf("tunnel link index %d (%v), was %d: the link was replaced", i, err, index)
	}
	// A full-size packet of the new MTU goes through, one byte more does
	// not leave the router.
	if out, err := g.Router.Run(ctx, "ping", "-c", "1", "-W", "2", "-M", "do", "-s", strconv.Itoa(1412-28), laptop.TunnelIP); err != nil {
		t.Errorf("1412-byte ping through the tunnel: %v\n%s", err, out)
	}
	if _, err := g.Router.Run(ctx, "ping", "-c", "1", "-W", "2", "-M", "do", "-s", strconv.Itoa(1413-28), laptop.TunnelIP); err == nil {
		t.Error("a 1413-byte packet left through a 1412 tunnel without fragmentation")
	}
	mustReach(t, ctx, laptop)
	after := status(t, ctx, g, g.Router, g.RouterSocket, g.RouterIface).Peer(laptop.Key.Public)
	if after == nil || after.LatestHandshake != before.LatestHandshake {
		t.Errorf("the session was not kept: handshake %+v, before %d", after, before.LatestHandshake)
	}
}

// linkMTU is the MTU of dev in h as ip(8) shows it.
func linkMTU(t *testing.T, ctx context.Context, h *lab.Host, dev string) int {
	t.Helper()
	out, err := h.IP(ctx, "-j", "link", "show", "dev", dev)
	if err != nil {
		t.Fatalf("ip link show %s: %v", dev, err)
	}
	var links []struct {
		MTU int `json:"mtu"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j link show %s: %v: %s", dev, err, out)
	}
	return links[0].MTU
}
