package main

// Guest peers and traffic totals with the real wgd binary: a guest's
// access ends live at its expiry while another laptop keeps its session;
// totals survive the router's daemon restarting.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wgd/internal/lab"
)

// routerPeers is `wgd peer list --json` on the router, by name.
func routerPeers(t *testing.T, ctx context.Context, g *lab.Gateway) map[string]peerJSON {
	t.Helper()
	out, err := g.WGDCmd(ctx, g.Router, "peer", "list", "--json", "--config-dir", g.RouterDir, "--socket", g.RouterSocket, "--uci-savedir", "")
	if err != nil {
		t.Fatalf("peer list --json: %v\n%s", err, out)
	}
	var list listJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil || !list.DaemonRunning {
		t.Fatalf("peer list --json: %v\n%s", err, out)
	}
	m := map[string]peerJSON{}
	for _, p := range list.Peers {
		m[p.Name] = p
	}
	return m
}

func TestGuestExpiresLive(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	g := newGateway(t, ctx)
	guest := addLaptop(t, ctx, g, "guest", lab.ClientWGD)
	friend := addLaptop(t, ctx, g, "friend", lab.ClientWGD)
	if err := g.WriteRouterConfig(); err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(25 * time.Second).UTC().Truncate(time.Second)
	network := filepath.Join(g.RouterDir, "network")
	text, err := os.ReadFile(network)
	if err != nil {
		t.Fatal(err)
	}
	withExpiry := strings.Replace(string(text), "\toption description 'guest'\n",
		"\toption description 'guest'\n\toption expires '"+expires.Format(time.RFC3339)+"'\n", 1)
	if withExpiry == string(text) {
		t.Fatal("no guest section in the router's network file")
	}
	if err := os.WriteFile(network, []byte(withExpiry), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.RunRouter(ctx); err != nil {
		t.Fatal(err)
	}
	for _, lt := range []*lab.Laptop{guest, friend} {
		if err := lt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		mustReach(t, ctx, lt)
	}
	peers := routerPeers(t, ctx, g)
	if p := peers["guest"]; p.Expires != expires.Unix() || p.Expired || p.State != "live" || p.Live == nil {
		t.Fatalf("guest before expiry: %+v", p)
	}
	// The friend's session carries more now than it can after the expiry
	// in this test: a peer the expiry removed and added again (its
	// counters start at zero) would show fewer bytes afterwards. Its
	// latest handshake is no such proof: under load a handshake may be
	// retried at any time.
	if _, err := friend.Host.Run(ctx, "ping", "-n", "-q", "-c", "20", "-i", "0.02", "-s", "1200", "-W", "2", lab.LANHostIP); err != nil {
		t.Fatalf("friend's traffic before the expiry: %v", err)
	}
	before := status(t, ctx, g, g.Router, g.RouterSocket, g.RouterIface).Peer(friend.Key.Public)
	if before == nil || before.RxBytes < 10*1200 || before.TxBytes < 10*1200 {
		t.Fatalf("friend's session before the expiry: %+v", before)
	}
	index, err := lab.LinkIndex(ctx, g.Router, g.RouterIface)
	if err != nil {
		t.Fatal(err)
	}
	if time.Now().After(expires.Add(-3 * time.Second)) {
		t.Fatal("the laptops took too long to come up: the scenario proves nothing")
	}

	time.Sleep(time.Until(expires))
	err = lab.Poll(ctx, 10*time.Second, func(ctx context.Context) error {
		if p := routerPeers(t, ctx, g)["guest"]; !p.Expired || p.State != "expired" || p.Live != nil {
			return fmt.Errorf("guest after expiry: %+v", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Its handshakes are no longer answered: once the session it had
	// times out (or at once, for data sent to the router) it is cut off.
	dead(t, ctx, guest.Host, lab.LANHostIP, 5*time.Second)
	mustReach(t, ctx, friend)
	after := status(t, ctx, g, g.Router, g.RouterSocket, g.RouterIface).Peer(friend.Key.Public)
	if after == nil || after.RxBytes < before.RxBytes || after.TxBytes < before.TxBytes || after.LatestHandshake < before.LatestHandshake {
		t.Errorf("the other laptop's peer was set up anew: %+v, before %+v", after, before)
	}
	if i, err := lab.LinkIndex(ctx, g.Router, g.RouterIface); err != nil || i != index {
		t.Errorf("the tunnel was recreated: index %d (%v), was %d", i, err, index)
	}
	if log := g.RouterProc.Output(); !strings.Contains(log, "peer expired") {
		t.Errorf("no log of the expiry:\n%s", log)
	}

	// Totals survive the daemon's restart.
	total := routerPeers(t, ctx, g)["friend"].Totals
	if total == nil || total.RxBytes == 0 || total.TxBytes == 0 {
		t.Fatalf("friend's totals: %+v", total)
	}
	if err := g.RouterProc.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(g.Lab.Dir, "wgd", "totals.json")
	if fi, err := os.Stat(saved); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("totals file after stop: %v %v", fi, err)
	}
	if err := g.RunRouter(ctx); err != nil {
		t.Fatal(err)
	}
	mustReach(t, ctx, friend)
	p := routerPeers(t, ctx, g)["friend"]
	if p.Live == nil || p.Totals == nil || p.Totals.RxBytes < total.RxBytes+p.Live.RxBytes || p.Totals.TxBytes < total.TxBytes+p.Live.TxBytes {
		t.Errorf("after the restart: totals %+v, live %+v; before the restart %+v", p.Totals, p.Live, total)
	}
	// The guest stays off after the restart; its totals were kept.
	p = routerPeers(t, ctx, g)["guest"]
	if p.State != "expired" || p.Live != nil || p.Totals == nil || p.Totals.RxBytes == 0 {
		t.Errorf("guest after the restart: %+v", p)
	}
	// Removing it drops its totals.
	out, err := g.WGDCmd(ctx, g.Router, "peer", "remove", "guest", "--config-dir", g.RouterDir, "--socket", g.RouterSocket, "--uci-savedir", "")
	if err != nil || !strings.Contains(out, "traffic totals are dropped") {
		t.Errorf("peer remove guest: %v\n%s", err, out)
	}
	if err := g.RouterProc.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(saved)
	if err != nil || strings.Contains(string(data), guest.Key.Public) || !strings.Contains(string(data), friend.Key.Public) {
		t.Errorf("totals file after the guest's removal (%v):\n%s", err, data)
	}
}
