package router

import (
	"errors"
	"net/netip"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"wgd/internal/netnstest"
	"wgd/internal/rtnl"
)

func ipRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %v: %v: %s", args, err, out)
	}
	return string(out)
}

// veth makes a link standing in for a tunnel (or a WAN): a veth whose
// other end is up, removed when the test ends.
func veth(t *testing.T, name string) {
	t.Helper()
	ipRun(t, "link", "add", name, "type", "veth", "peer", "name", name+"p")
	t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
	ipRun(t, "link", "set", name+"p", "up")
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func routeDsts(st State) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range st.Routes {
		out = append(out, r.Dst)
	}
	return out
}

// A route the kernel does not take at first (another link has one of the
// same network, which for IPv4 the kernel counts as existing and answers
// without error) is missing, says so, and is installed by a later Set
// once the way is free; one removed behind the router's back is put
// back.
func TestStandaloneRetriesWhatIsMissing(t *testing.T) {
	netnstest.Root(t)
	veth(t, "rtw0")
	ipRun(t, "link", "set", "rtw0", "up")
	ipRun(t, "route", "add", "10.93.0.0/24", "dev", "rtw0")
	veth(t, "rtt0")
	r, err := NewStandalone("rtt0")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := Config{MTU: 1400, Addresses: prefixes("10.92.0.1/24"), Routes: prefixes("10.93.0.0/24", "10.94.0.0/24")}
	err = r.Set(c)
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "10.93.0.0/24") {
		t.Fatalf("Set with a route in the way: %v", err)
	}
	st := r.State()
	if !slices.Equal(routeDsts(st), prefixes("10.94.0.0/24")) || len(st.Missing) != 1 || !strings.Contains(st.Missing[0], "10.93.0.0/24") {
		t.Errorf("state %+v", st)
	}
	if st.MTU != 1400 || !slices.Equal(st.Addresses, c.Addresses) {
		t.Errorf("state %+v", st)
	}
	if got := ipRun(t, "route", "show", "10.93.0.0/24"); strings.Contains(got, "rtt0") {
		t.Fatalf("route through the tunnel while another is in the way: %s", got)
	}

	ipRun(t, "route", "del", "10.93.0.0/24", "dev", "rtw0")
	if err := r.Set(c); err != nil {
		t.Fatalf("Set once the way is free: %v", err)
	}
	if got := ipRun(t, "route", "show", "10.93.0.0/24"); !strings.Contains(got, "dev rtt0") {
		t.Errorf("route not installed once possible: %q", got)
	}
	if st := r.State(); len(st.Missing) != 0 || len(st.Routes) != 2 {
		t.Errorf("state %+v", st)
	}

	ipRun(t, "route", "del", "10.94.0.0/24", "dev", "rtt0")
	if err := r.Set(c); err != nil {
		t.Fatal(err)
	}
	if got := ipRun(t, "route", "show", "10.94.0.0/24"); !strings.Contains(got, "dev rtt0") {
		t.Errorf("a removed route is not put back: %q", got)
	}

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got := ipRun(t, "route", "show", "dev", "rtt0"); strings.Contains(got, "10.93.0.0") || strings.Contains(got, "10.94.0.0") {
		t.Errorf("routes left after Close: %s", got)
	}
}

// A full tunnel: the default route goes into the tunnel as two halves,
// and the endpoint keeps its path through the WAN, also after the WAN's
// gateway changes; an endpoint with no path outside the tunnel is missing
// until it has one; nohostroute, the endpoint's removal and Close remove
// the pin.
func TestFullTunnelPinsEndpoint(t *testing.T) {
	netnstest.Root(t)
	ipRun(t, "link", "add", "wanf0", "type", "veth", "peer", "name", "wanf1")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "wanf0").Run() })
	ipRun(t, "addr", "add", "192.0.2.1/24", "dev", "wanf0")
	ipRun(t, "link", "set", "wanf0", "up")
	ipRun(t, "link", "set", "wanf1", "up")
	veth(t, "wgtf")
	r, err := NewStandalone("wgtf")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := Config{Addresses: prefixes("10.70.0.2/32"), Routes: prefixes("0.0.0.0/1", "128.0.0.0/1"),
		Endpoints: []netip.Addr{netip.MustParseAddr("198.51.100.9"), netip.MustParseAddr("192.0.2.7")}}

	// No WAN default route yet: the endpoint has no path outside.
	if err := r.Set(c); !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "198.51.100.9") {
		t.Fatalf("Set without a path to the endpoint: %v", err)
	}
	if st := r.State(); len(st.Missing) != 1 || !slices.Equal(st.Endpoints, []netip.Addr{netip.MustParseAddr("192.0.2.7")}) {
		t.Errorf("state %+v", st)
	}
	ipRun(t, "route", "add", "default", "via", "192.0.2.254", "dev", "wanf0")
	if err := r.Set(c); err != nil {
		t.Fatal(err)
	}
	routeVia := func(dst string) string { return ipRun(t, "route", "get", dst) }
	if got := routeVia("198.51.100.9"); !strings.Contains(got, "via 192.0.2.254 dev wanf0") {
		t.Errorf("endpoint route: %s", got)
	}
	if got := routeVia("203.0.113.5"); !strings.Contains(got, "dev wgtf") {
		t.Errorf("other traffic must enter the tunnel: %s", got)
	}
	if got := ipRun(t, "route", "show", "default"); !strings.Contains(got, "via 192.0.2.254") {
		t.Errorf("the WAN default route must stay: %s", got)
	}

	ipRun(t, "route", "replace", "default", "via", "192.0.2.253", "dev", "wanf0")
	if err := r.Set(c); err != nil {
		t.Fatal(err)
	}
	if got := routeVia("198.51.100.9"); !strings.Contains(got, "via 192.0.2.253 dev wanf0") {
		t.Errorf("endpoint route after the WAN changed: %s", got)
	}

	c.NoHostRoute = true
	if err := r.Set(c); err != nil {
		t.Fatal(err)
	}
	if got := routeVia("198.51.100.9"); !strings.Contains(got, "dev wgtf") {
		t.Errorf("nohostroute: %s", got)
	}
	c.NoHostRoute = false
	if err := r.Set(c); err != nil {
		t.Fatal(err)
	}
	if got := routeVia("198.51.100.9"); !strings.Contains(got, "via 192.0.2.253 dev wanf0") {
		t.Errorf("endpoint route back after nohostroute: %s", got)
	}
	// An endpoint no longer given takes its host route with it.
	gone := c
	gone.Endpoints = c.Endpoints[1:]
	if err := r.Set(gone); err != nil {
		t.Fatal(err)
	}
	if got := routeVia("198.51.100.9"); !strings.Contains(got, "dev wgtf") {
		t.Errorf("host route kept for an endpoint no longer given: %s", got)
	}
	if err := r.Set(c); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got := ipRun(t, "route", "show"); strings.Contains(got, "198.51.100.9") || strings.Contains(got, "0.0.0.0/1") {
		t.Errorf("routes left after Close:\n%s", got)
	}
}

// Under netifd the router reports what it was given, each route with the
// metric that keeps it beside another link's route of the same network,
// and sets only the MTU.
func TestNetifdReports(t *testing.T) {
	netnstest.Root(t)
	veth(t, "nfw0")
	ipRun(t, "link", "set", "nfw0", "up")
	ipRun(t, "route", "add", "10.96.0.0/24", "dev", "nfw0", "metric", "10")
	veth(t, "nft0")
	r, err := NewNetifd("nft0")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ep := netip.MustParseAddr("198.51.100.3")
	c := Config{MTU: 1380, Addresses: prefixes("10.97.0.1/24"), Routes: prefixes("10.96.0.0/24", "10.98.0.0/24"), Endpoints: []netip.Addr{ep}}
	if err := r.Set(c); err != nil {
		t.Fatal(err)
	}
	st := r.State()
	want := []Route{{Dst: netip.MustParsePrefix("10.96.0.0/24"), Metric: 11}, {Dst: netip.MustParsePrefix("10.98.0.0/24")}}
	if !slices.Equal(st.Routes, want) || !slices.Equal(st.Addresses, c.Addresses) || !slices.Equal(st.Endpoints, c.Endpoints) || st.MTU != 1380 || len(st.Missing) != 0 {
		t.Errorf("state %+v", st)
	}
	if got := ipRun(t, "link", "show", "nft0"); !strings.Contains(got, "mtu 1380") {
		t.Errorf("link: %s", got)
	}
	if got := ipRun(t, "addr", "show", "dev", "nft0") + ipRun(t, "route", "show", "dev", "nft0"); strings.Contains(got, "10.97.0.1") || strings.Contains(got, "10.98.0.0") {
		t.Errorf("netifd's router installed layer 3 itself: %s", got)
	}

	// The kernel's table cannot be read: the routes keep the metrics last
	// found, and the answer says what is missing until it can again.
	nl := r.nl
	if r.nl, err = rtnl.Open(); err != nil {
		t.Fatal(err)
	}
	r.nl.Close()
	st = r.State()
	if !slices.Equal(st.Routes, want) || len(st.Missing) != 1 || !strings.Contains(st.Missing[0], "metrics") || r.Complete() {
		t.Errorf("state while the table cannot be read: %+v", st)
	}
	r.nl = nl
	if st = r.State(); !slices.Equal(st.Routes, want) || len(st.Missing) != 0 || !r.Complete() {
		t.Errorf("state once the table can be read again: %+v", st)
	}
}

// A router whose link is gone (a dead device going down) closes without
// error: the routes went with the link.
func TestStandaloneCloseAfterLinkGone(t *testing.T) {
	netnstest.Root(t)
	veth(t, "rtg0")
	r, err := NewStandalone("rtg0")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Set(Config{Addresses: prefixes("10.91.0.1/24"), Routes: prefixes("10.90.0.0/24", "fd90::/64")}); err != nil {
		t.Fatal(err)
	}
	ipRun(t, "link", "del", "rtg0")
	if err := r.Close(); err != nil {
		t.Errorf("close after the link is gone: %v", err)
	}
}

// A route the router fails to remove (here: the calling thread lacks
// CAP_NET_ADMIN for the removal) stays tracked and missing, and the next
// Set removes it.
func TestStandaloneRetriesFailedRemoval(t *testing.T) {
	netnstest.Root(t)
	veth(t, "rtd0")
	r, err := NewStandalone("rtd0")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Set(Config{Routes: prefixes("10.88.0.0/24", "10.89.0.0/24")}); err != nil {
		t.Fatal(err)
	}
	c := Config{Routes: prefixes("10.89.0.0/24")}
	done := make(chan error)
	go func() {
		// The thread is left locked: it ends with the goroutine, and
		// its capabilities with it.
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			done <- err
			return
		}
		data[unix.CAP_NET_ADMIN/32].Effective &^= 1 << (unix.CAP_NET_ADMIN % 32)
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			done <- err
			return
		}
		done <- r.Set(c)
	}()
	if err := <-done; !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "10.88.0.0/24") {
		t.Fatalf("Set without the right to remove a route: %v", err)
	}
	if st := r.State(); len(st.Missing) != 1 || !strings.Contains(st.Missing[0], "10.88.0.0/24") || r.Complete() {
		t.Errorf("state while the route could not be removed: %+v", st)
	}
	if got := ipRun(t, "route", "show", "dev", "rtd0"); !strings.Contains(got, "10.88.0.0") {
		t.Fatalf("the route went although its removal failed: %s", got)
	}
	if err := r.Set(c); err != nil {
		t.Fatal(err)
	}
	if got := ipRun(t, "route", "show", "dev", "rtd0"); strings.Contains(got, "10.88.0.0") || !strings.Contains(got, "10.89.0.0") {
		t.Errorf("routes after the next Set: %s", got)
	}
	if st := r.State(); len(st.Missing) != 0 || !r.Complete() {
		t.Errorf("state after the next Set: %+v", st)
	}
}
