package daemon

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"wgd/api"
	"wgd/internal/netnstest"
)

// A route the kernel does not take when the interface comes up (another
// link has a route of the same network, which the kernel answers as
// existing) is missing, status says so, and the retries install it once
// the way is free, with no reload.
func TestMissingRouteInstalledOncePossible(t *testing.T) {
	netnstest.Root(t)
	ip := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
		return string(out)
	}
	ip("link", "add", "wgdrv", "type", "veth", "peer", "name", "wgdrvp")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "wgdrv").Run() })
	ip("link", "set", "wgdrv", "up")
	ip("link", "set", "wgdrvp", "up")
	ip("route", "add", "10.57.0.0/24", "dev", "wgdrv")

	td := startKernelDaemon(t, iface("wgdr", secretKey(t), "\tlist addresses '10.58.0.1/24'")+
		peer("wgdr", secretKey(t).PublicKey(), "\tlist allowed_ips '10.57.0.0/24'\n\tlist allowed_ips '10.59.0.0/24'\n\toption route_allowed_ips '1'"))
	if got := ip("route", "show", "10.59.0.0/24"); !strings.Contains(got, "dev wgdr") {
		t.Fatalf("the route that can be installed is not: %q", got)
	}
	// Read as JSON: what status says about the missing route.
	var raw struct {
		Interfaces []struct {
			Up      bool     `json:"up"`
			Missing []string `json:"missing"`
		} `json:"interfaces"`
	}
	if err := api.Call(context.Background(), td.socket, "status", nil, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Interfaces) != 1 || !raw.Interfaces[0].Up || len(raw.Interfaces[0].Missing) != 1 || !strings.Contains(raw.Interfaces[0].Missing[0], "10.57.0.0/24") {
		t.Errorf("status while the route is in the way: %+v", raw)
	}

	ip("route", "del", "10.57.0.0/24", "dev", "wgdrv")
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(ip("route", "show", "10.57.0.0/24"), "dev wgdr") {
		if time.Now().After(deadline) {
			t.Fatal("the route was not installed once the way was free")
		}
		time.Sleep(100 * time.Millisecond)
	}
	raw.Interfaces = nil
	if err := api.Call(context.Background(), td.socket, "status", nil, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Interfaces) != 1 || len(raw.Interfaces[0].Missing) != 0 || td.status(t).Interfaces[0].Error != "" {
		t.Errorf("status once the route is in place: %+v", raw)
	}
}

// The same on channels, with no root: a route the router could not put
// in place is set again by the retries until it is, and status says
// what is missing meanwhile. The interface runs: it has no error, and a
// reload counts it as updated, the missing route as a problem.
func TestMissingLayer3Retried(t *testing.T) {
	dir := t.TempDir()
	k := secretKey(t)
	network := func(extra string) string {
		return iface("wgdm", k, extra) +
			peer("wgdm", secretKey(t).PublicKey(), "\tlist allowed_ips '10.57.0.0/24'\n\toption route_allowed_ips '1'")
	}
	writeNetwork(t, dir, network(""))
	p := newParts()
	blocked := netip.MustParsePrefix("10.57.0.0/24")
	p.refuse(blocked, true)
	td := runDaemon(t, dir, Options{}, p, nil)
	is := td.status(t).Interfaces[0]
	if !is.Up || len(is.Missing) != 1 || !strings.Contains(is.Missing[0], "10.57.0.0/24") || is.Error != "" || is.Reason != "layer3_missing" {
		t.Fatalf("status while the route is refused: %+v", is)
	}
	writeNetwork(t, dir, network("\toption mtu '1380'"))
	res := td.reload(t)
	if len(res.Failed) != 0 || !slices.Equal(res.Updated, []string{"wgdm"}) || len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "10.57.0.0/24") {
		t.Fatalf("reload while the route is refused: %+v", res)
	}
	first := td.running("wgdm")
	p.refuse(blocked, false)
	waitFor(t, "the route to be set again", func() bool {
		is = td.status(t).Interfaces[0]
		return len(is.Missing) == 0 && is.Error == "" && is.Reason == ""
	})
	if td.running("wgdm") != first {
		t.Error("the interface was made anew for its route")
	}
}

// Layer 3 found missing outside a reload or a retry (here as a resolved
// endpoint name is applied) starts the retries.
func TestMissingLayer3FoundByUpdateRetried(t *testing.T) {
	dir := t.TempDir()
	key := secretKey(t).PublicKey()
	writeNetwork(t, dir, iface("wgdn", secretKey(t), "")+
		peer("wgdn", key, "\tlist allowed_ips '10.57.0.0/24'\n\toption route_allowed_ips '1'\n\toption endpoint_host 'wgd-test.example'"))
	p := newParts()
	td := runDaemon(t, dir, Options{}, p, func(d *Daemon) {
		d.resolver.lookup = func(_ context.Context, _, host string) ([]netip.Addr, error) {
			return nil, errors.New(host + ": not yet")
		}
	})
	if is := td.status(t).Interfaces[0]; !is.Up || len(is.Missing) != 0 {
		t.Fatalf("status before: %+v", is)
	}
	blocked := netip.MustParsePrefix("10.57.0.0/24")
	p.refuse(blocked, true)
	set := false
	td.do(context.Background(), func() {
		set = td.setEndpoint("wgdn", key, "wgd-test.example", 51820, netip.MustParseAddrPort("192.0.2.7:51820"))
	})
	if is := td.status(t).Interfaces[0]; !set || !is.Up || is.Error != "" || len(is.Missing) != 1 || is.Reason != "layer3_missing" {
		t.Fatalf("status with the route refused as the endpoint is set: %+v", is)
	}
	p.refuse(blocked, false)
	waitFor(t, "the route to be set again", func() bool { return len(td.status(t).Interfaces[0].Missing) == 0 })
}

// An error of the device after layer 3 was found missing (a refresh's
// Rebind failing) leaves the layer 3 to be retried.
func TestMissingLayer3RetriedAfterDeviceError(t *testing.T) {
	dir := t.TempDir()
	writeNetwork(t, dir, iface("wgde", secretKey(t), "")+
		peer("wgde", secretKey(t).PublicKey(), "\tlist allowed_ips '10.57.0.0/24'\n\toption route_allowed_ips '1'"))
	p := newParts()
	blocked := netip.MustParsePrefix("10.57.0.0/24")
	p.refuse(blocked, true)
	td := runDaemon(t, dir, Options{}, p, nil)
	td.do(context.Background(), func() { td.setIfaceErr("wgde", errors.New("rebind: no sockets")) })
	p.refuse(blocked, false)
	waitFor(t, "the route to be set again", func() bool { return len(td.status(t).Interfaces[0].Missing) == 0 })
}
