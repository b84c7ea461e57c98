package rtnl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"wgd/internal/netnstest"
)

// Tests against the kernel run as root in the test binary's private
// network namespace (netnstest.Main); each makes its own links and
// removes them.

func runIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func ipJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	args = append([]string{"-j"}, args...)
	out, err := exec.Command("ip", args...).Output()
	if err != nil {
		t.Fatalf("ip %s: %v", strings.Join(args, " "), err)
	}
	// ip prints nothing at all, not [], for some empty results.
	if len(bytes.TrimSpace(out)) == 0 {
		out = []byte("[]")
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("ip %s: decode %q: %v", strings.Join(args, " "), out, err)
	}
}

type ipLinkJSON struct {
	Ifindex  int          `json:"ifindex"`
	Ifname   string       `json:"ifname"`
	Flags    []string     `json:"flags"`
	MTU      int          `json:"mtu"`
	AddrInfo []ipAddrJSON `json:"addr_info"`
}

type ipAddrJSON struct {
	Family    string `json:"family"`
	Local     string `json:"local"`
	Prefixlen int    `json:"prefixlen"`
	Scope     string `json:"scope"`
	Nodad     bool   `json:"nodad"`
	Tentative bool   `json:"tentative"`
}

type ipRouteJSON struct {
	Dst      string `json:"dst"`
	Dev      string `json:"dev"`
	Protocol string `json:"protocol"`
	Scope    string `json:"scope"`
}

// testLink is a dummy link (a tun link on kernels without the dummy
// driver) that is removed when the test ends.
type testLink struct {
	name  string
	index int
}

func newTestConn(t *testing.T) *Conn {
	t.Helper()
	netnstest.Root(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip command")
	}
	c, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addLink(t *testing.T, name string) testLink {
	t.Helper()
	out, err := exec.Command("ip", "link", "add", name, "type", "dummy").CombinedOutput()
	if err != nil {
		t.Logf("no dummy link (%s), using a tun link", strings.TrimSpace(string(out)))
		runIP(t, "tuntap", "add", "mode", "tun", "dev", name)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil {
			t.Errorf("remove link %s: %v: %s", name, err, out)
		}
	})
	var links []ipLinkJSON
	ipJSON(t, &links, "link", "show", "dev", name)
	if len(links) != 1 {
		t.Fatalf("ip link show %s: %d links", name, len(links))
	}
	return testLink{name: name, index: links[0].Ifindex}
}

// addVeth makes a veth pair, name and name+"p", both up so that name has
// its carrier; removing name removes both.
func addVeth(t *testing.T, name string) testLink {
	t.Helper()
	runIP(t, "link", "add", name, "type", "veth", "peer", "name", name+"p")
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil {
			t.Errorf("remove link %s: %v: %s", name, err, out)
		}
	})
	runIP(t, "link", "set", name+"p", "up")
	runIP(t, "link", "set", name, "up")
	var links []ipLinkJSON
	ipJSON(t, &links, "link", "show", "dev", name)
	if len(links) != 1 {
		t.Fatalf("ip link show %s: %d links", name, len(links))
	}
	return testLink{name: name, index: links[0].Ifindex}
}

func (l testLink) show(t *testing.T) ipLinkJSON {
	t.Helper()
	var links []ipLinkJSON
	ipJSON(t, &links, "addr", "show", "dev", l.name)
	if len(links) != 1 {
		t.Fatalf("ip addr show %s: %d links", l.name, len(links))
	}
	return links[0]
}

// kernelAddrs returns the link's global addresses as ip reports them.
func (l testLink) kernelAddrs(t *testing.T) map[netip.Prefix]ipAddrJSON {
	t.Helper()
	m := map[netip.Prefix]ipAddrJSON{}
	for _, a := range l.show(t).AddrInfo {
		if a.Scope == "global" {
			m[netip.PrefixFrom(netip.MustParseAddr(a.Local), a.Prefixlen)] = a
		}
	}
	return m
}

// kernelRoutes returns the main-table routes through the link as ip
// reports them.
func (l testLink) kernelRoutes(t *testing.T) map[netip.Prefix]ipRouteJSON {
	t.Helper()
	m := map[netip.Prefix]ipRouteJSON{}
	for _, fam := range []string{"-4", "-6"} {
		var rs []ipRouteJSON
		ipJSON(t, &rs, fam, "route", "show", "table", "main")
		for _, r := range rs {
			if r.Dev == l.name {
				m[parseIPDst(fam, r.Dst)] = r
			}
		}
	}
	return m
}

// parseIPDst turns ip's "default" and bare host addresses into prefixes.
func parseIPDst(fam, s string) netip.Prefix {
	if s == "default" {
		if fam == "-4" {
			return netip.MustParsePrefix("0.0.0.0/0")
		}
		return netip.MustParsePrefix("::/0")
	}
	if strings.Contains(s, "/") {
		return netip.MustParsePrefix(s)
	}
	a := netip.MustParseAddr(s)
	return netip.PrefixFrom(a, a.BitLen())
}

// linkRoutes are the destinations of main-table routes through index,
// as Routes reports them.
func linkRoutes(t *testing.T, c *Conn, index int) []netip.Prefix {
	t.Helper()
	routes, err := c.Routes(unix.AF_UNSPEC)
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Table == unix.RT_TABLE_MAIN && r.OIF == index && r.Dst.IsValid() && r.Flags&unix.RTM_F_CLONED == 0 {
			out = append(out, r.Dst)
		}
	}
	return out
}

func TestLink(t *testing.T) {
	c := newTestConn(t)
	d0 := addLink(t, "lk0")

	l, err := c.LinkByName("lk0")
	if err != nil {
		t.Fatal(err)
	}
	if l.Index != d0.index || l.Name != "lk0" || l.MTU != uint32(d0.show(t).MTU) {
		t.Errorf("LinkByName(lk0) = %+v, ip says index %d mtu %d", l, d0.index, d0.show(t).MTU)
	}
	if lo, err := c.LinkByName("lo"); err != nil || lo.Index != 1 || lo.Flags&unix.IFF_LOOPBACK == 0 {
		t.Errorf("LinkByName(lo) = %+v, %v", lo, err)
	}
	if byIndex, err := c.LinkByIndex(d0.index); err != nil || byIndex != l {
		t.Errorf("LinkByIndex(%d) = %+v, %v; want %+v", d0.index, byIndex, err, l)
	}
	links, err := c.Links()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(links, l) || !slices.ContainsFunc(links, func(l Link) bool { return l.Name == "lo" }) {
		t.Errorf("Links() lacks lk0 or lo: %+v", links)
	}

	_, err = c.LinkByName("nosuch0")
	if err == nil {
		t.Fatal("LinkByName of a missing link succeeded")
	}
	if !errors.Is(err, unix.ENODEV) || !strings.Contains(err.Error(), `"nosuch0"`) || !strings.Contains(err.Error(), "no such device") {
		t.Errorf("missing link error: %v", err)
	}
	t.Logf("missing link error: %v", err)
	for _, name := range []string{"", "a-name-far-too-long", "a\x00b"} {
		if _, err := c.LinkByName(name); err == nil || !strings.Contains(err.Error(), "invalid interface name") {
			t.Errorf("LinkByName(%q): %v", name, err)
		}
	}
	if _, err := c.LinkByIndex(999999); !errors.Is(err, unix.ENODEV) || !strings.HasPrefix(err.Error(), "look up link ifindex 999999: ") {
		t.Errorf("LinkByIndex of a missing link: %v", err)
	}
	if _, err := c.LinkByIndex(0); err == nil {
		t.Error("LinkByIndex(0) succeeded")
	}

	for _, mtu := range []int{1280, 1420} {
		if err := c.SetMTU(d0.index, mtu); err != nil {
			t.Fatal(err)
		}
		if got := d0.show(t).MTU; got != mtu {
			t.Errorf("after SetMTU(%d) ip shows mtu %d", mtu, got)
		}
	}
	if err := c.SetMTU(d0.index, 0); err == nil {
		t.Error("SetMTU 0 succeeded")
	}
	err = c.SetMTU(d0.index, 1<<20)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("set mtu %d on ifindex %d", 1<<20, d0.index)) {
		t.Errorf("oversized mtu: %v", err)
	}

	if slices.Contains(d0.show(t).Flags, "UP") {
		t.Fatal("new link is already up")
	}
	for range 2 {
		if err := c.SetLinkUp(d0.index); err != nil {
			t.Fatal(err)
		}
		if fl := d0.show(t).Flags; !slices.Contains(fl, "UP") {
			t.Errorf("after SetLinkUp flags are %v", fl)
		}
	}
	if l, err := c.LinkByIndex(d0.index); err != nil || l.Flags&unix.IFF_UP == 0 {
		t.Errorf("after SetLinkUp LinkByIndex = %+v, %v", l, err)
	}

	err = c.SetLinkUp(999999)
	if !errors.Is(err, unix.ENODEV) || !strings.Contains(err.Error(), "set link up on ifindex 999999") {
		t.Errorf("SetLinkUp on a missing link: %v", err)
	}
}

func TestAddr(t *testing.T) {
	c := newTestConn(t)
	d0 := addLink(t, "ad0")
	if err := c.SetLinkUp(d0.index); err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.5/24"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("fd00::5/64"),
		netip.MustParsePrefix("2001:db8::7/128"),
	}
	for _, p := range want {
		for i := range 2 {
			if err := c.AddAddr(d0.index, p); err != nil {
				t.Fatalf("AddAddr %s (call %d): %v", p, i+1, err)
			}
		}
	}

	kernel := d0.kernelAddrs(t)
	for _, p := range want {
		a, ok := kernel[p]
		if !ok {
			t.Errorf("ip does not show %s; it shows %v", p, kernel)
			continue
		}
		if p.Addr().Is6() && (!a.Nodad || a.Tentative) {
			t.Errorf("%s: nodad=%v tentative=%v, want usable at once", p, a.Nodad, a.Tentative)
		}
	}
	if len(kernel) != len(want) {
		t.Errorf("ip shows %d global addresses, want %d: %v", len(kernel), len(want), kernel)
	}

	got, err := c.Addrs(d0.index)
	if err != nil {
		t.Fatal(err)
	}
	var prefixes []netip.Prefix
	for _, a := range got {
		prefixes = append(prefixes, a.Prefix)
		if a.Index != d0.index {
			t.Errorf("Addrs(%d) has %+v", d0.index, a)
		}
		if a.Prefix.Addr().Is6() && !a.Prefix.Addr().IsLinkLocalUnicast() && (a.Flags&unix.IFA_F_NODAD == 0 || a.Scope != unix.RT_SCOPE_UNIVERSE) {
			t.Errorf("%s: flags %#x scope %d", a.Prefix, a.Flags, a.Scope)
		}
	}
	for _, p := range want {
		if !slices.Contains(prefixes, p) {
			t.Errorf("Addrs() lacks %s: %v", p, prefixes)
		}
	}
	for _, p := range prefixes {
		if !slices.Contains(want, p) && !p.Addr().IsLinkLocalUnicast() {
			t.Errorf("Addrs() has unexpected %s", p)
		}
	}
	lo, err := c.Addrs(1)
	if err != nil || !slices.ContainsFunc(lo, func(a Addr) bool { return a.Prefix == netip.MustParsePrefix("127.0.0.1/8") }) {
		t.Errorf("Addrs(lo) = %v, %v", lo, err)
	}
	all, err := c.Addrs(0)
	if err != nil || len(all) != len(got)+len(lo) {
		t.Errorf("Addrs(0) = %d addresses, %v; want %d", len(all), err, len(got)+len(lo))
	}

	for _, p := range want {
		for i := range 2 {
			if err := c.DelAddr(d0.index, p); err != nil {
				t.Fatalf("DelAddr %s (call %d): %v", p, i+1, err)
			}
		}
	}
	if kernel := d0.kernelAddrs(t); len(kernel) != 0 {
		t.Errorf("after DelAddr ip still shows %v", kernel)
	}
	got, err = c.Addrs(d0.index)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range got {
		if !a.Prefix.Addr().IsLinkLocalUnicast() {
			t.Errorf("after DelAddr Addrs() still has %s", a.Prefix)
		}
	}

	err = c.AddAddr(999999, netip.MustParsePrefix("10.0.0.1/24"))
	if !errors.Is(err, unix.ENODEV) || !strings.HasPrefix(err.Error(), "add address 10.0.0.1/24 on ifindex 999999: ") {
		t.Errorf("AddAddr on a missing link: %v", err)
	}
	t.Logf("AddAddr on a missing link: %v", err)
	if err := c.AddAddr(d0.index, netip.Prefix{}); err == nil {
		t.Error("AddAddr of an invalid prefix succeeded")
	}
	if _, err := c.Addrs(-1); err == nil {
		t.Error("Addrs(-1) succeeded")
	}
}

func TestRoute(t *testing.T) {
	c := newTestConn(t)
	d0 := addLink(t, "ro0")
	// IPv4 refuses routes through a link that is down.
	if err := c.SetLinkUp(d0.index); err != nil {
		t.Fatal(err)
	}
	// A second link whose routes must not count as d0's.
	d1 := addLink(t, "ro1")
	runIP(t, "link", "set", d1.name, "up")
	runIP(t, "route", "add", "198.51.100.0/24", "dev", d1.name)

	cases := []struct{ in, want string }{
		{"10.1.0.5/24", "10.1.0.0/24"},
		{"192.0.2.1/32", "192.0.2.1/32"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"fd01::5/64", "fd01::/64"},
		{"2001:db8::1/128", "2001:db8::1/128"},
		{"::/0", "::/0"},
	}
	for _, c2 := range cases {
		p := netip.MustParsePrefix(c2.in)
		for i := range 2 {
			if err := c.AddRoute(d0.index, p); err != nil {
				t.Fatalf("AddRoute %s (call %d): %v", p, i+1, err)
			}
		}
	}

	kernel := d0.kernelRoutes(t)
	for _, c2 := range cases {
		p := netip.MustParsePrefix(c2.want)
		r, ok := kernel[p]
		if !ok {
			t.Errorf("ip does not show a route to %s; it shows %v", p, kernel)
			continue
		}
		if r.Protocol != "static" {
			t.Errorf("%s: protocol %q, want static", p, r.Protocol)
		}
		if p.Addr().Is4() && r.Scope != "link" {
			t.Errorf("%s: scope %q, want link", p, r.Scope)
		}
	}

	got := linkRoutes(t, c, d0.index)
	for _, c2 := range cases {
		if p := netip.MustParsePrefix(c2.want); !slices.Contains(got, p) {
			t.Errorf("Routes() lacks %s: %v", p, got)
		}
	}
	for _, p := range got {
		if _, ok := kernel[p]; !ok {
			t.Errorf("Routes() reports %s through %s, which ip does not show", p, d0.name)
		}
	}
	// A family filter keeps to that family.
	v4, err := c.Routes(unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(v4, func(r Route) bool { return !r.Dst.Addr().Is4() }); i >= 0 {
		t.Errorf("Routes(AF_INET) has %+v", v4[i])
	}
	if !slices.ContainsFunc(v4, func(r Route) bool {
		return r.Dst == netip.MustParsePrefix("198.51.100.0/24") && r.OIF == d1.index && r.Protocol == unix.RTPROT_BOOT
	}) {
		t.Errorf("Routes(AF_INET) lacks the route ip added: %+v", v4)
	}

	for _, c2 := range cases {
		p := netip.MustParsePrefix(c2.in)
		for i := range 2 {
			if err := c.DelRoute(d0.index, p); err != nil {
				t.Fatalf("DelRoute %s (call %d): %v", p, i+1, err)
			}
		}
	}
	kernel = d0.kernelRoutes(t)
	for _, c2 := range cases {
		if p := netip.MustParsePrefix(c2.want); func() bool { _, ok := kernel[p]; return ok }() {
			t.Errorf("after DelRoute ip still shows %s", p)
		}
	}
	got = linkRoutes(t, c, d0.index)
	for _, c2 := range cases {
		if p := netip.MustParsePrefix(c2.want); slices.Contains(got, p) {
			t.Errorf("after DelRoute Routes() still has %s", p)
		}
	}

	err = c.AddRoute(999999, netip.MustParsePrefix("10.2.0.0/16"))
	if !errors.Is(err, unix.ENODEV) || !strings.HasPrefix(err.Error(), "add route 10.2.0.0/16 via ifindex 999999: ") {
		t.Errorf("AddRoute on a missing link: %v", err)
	}
	if err := c.AddRoute(d0.index, netip.Prefix{}); err == nil {
		t.Error("AddRoute of an invalid prefix succeeded")
	}
}

// The kernel's connected route for an address is not ours: DelRoute must
// leave it, even after AddRoute for the same prefix reported success.
func TestRouteKeepsConnected(t *testing.T) {
	c := newTestConn(t)
	d0 := addLink(t, "rc0")
	if err := c.SetLinkUp(d0.index); err != nil {
		t.Fatal(err)
	}
	if err := c.AddAddr(d0.index, netip.MustParsePrefix("10.9.0.1/24")); err != nil {
		t.Fatal(err)
	}
	connected := netip.MustParsePrefix("10.9.0.0/24")
	if err := c.AddRoute(d0.index, connected); err != nil {
		t.Fatal(err)
	}
	if err := c.DelRoute(d0.index, connected); err != nil {
		t.Fatal(err)
	}
	r, ok := d0.kernelRoutes(t)[connected]
	if !ok || r.Protocol != "kernel" {
		t.Errorf("connected route after DelRoute: %+v present=%v", r, ok)
	}
	if got := linkRoutes(t, c, d0.index); !slices.Contains(got, connected) {
		t.Errorf("Routes() lacks the connected route: %v", got)
	}
}

// Snapshot sees links, addresses and default routes, multipath ones
// through each of their links.
func TestSnapshot(t *testing.T) {
	c := newTestConn(t)
	wa := addVeth(t, "sw0")
	wb := addVeth(t, "sw1")
	runIP(t, "addr", "add", "192.0.2.2/24", "dev", wa.name)
	runIP(t, "addr", "add", "198.51.100.2/24", "dev", wb.name)
	runIP(t, "route", "add", "default", "nexthop", "via", "192.0.2.1", "dev", wa.name, "nexthop", "via", "198.51.100.1", "dev", wb.name)
	runIP(t, "-6", "addr", "add", "2001:db8::2/64", "dev", wa.name, "nodad")
	runIP(t, "-6", "route", "add", "default", "via", "2001:db8::1", "dev", wa.name)
	// Not default routes: a prefix, and a default route in the local table.
	runIP(t, "route", "add", "203.0.113.0/24", "via", "192.0.2.1")
	runIP(t, "route", "add", "local", "default", "dev", wb.name, "table", "local")
	t.Cleanup(func() { exec.Command("ip", "route", "del", "local", "default", "dev", wb.name, "table", "local").Run() })

	s, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if l := s.Links[wa.index]; l.Name != wa.name || !l.Running() {
		t.Errorf("link %d: %+v", wa.index, l)
	}
	if l := s.Links[1]; l.Name != "lo" {
		t.Errorf("link 1: %+v", l)
	}
	for _, want := range []Addr{
		{Index: wa.index, Prefix: netip.MustParsePrefix("192.0.2.2/24")},
		{Index: wb.index, Prefix: netip.MustParsePrefix("198.51.100.2/24")},
	} {
		if !slices.ContainsFunc(s.Addrs, func(a Addr) bool { return a.Index == want.Index && a.Prefix == want.Prefix }) {
			t.Errorf("addresses lack %+v: %+v", want, s.Addrs)
		}
	}
	if len(s.Defaults) != 2 {
		t.Fatalf("default routes %+v, want one per family", s.Defaults)
	}
	for _, r := range s.Defaults {
		switch {
		case r.Dst == netip.MustParsePrefix("0.0.0.0/0"):
			if got := r.Links(); !slices.Equal(got, []int{wa.index, wb.index}) {
				t.Errorf("multipath default route through %v, want %d and %d", got, wa.index, wb.index)
			}
		case r.Dst == netip.MustParsePrefix("::/0"):
			if r.OIF != wa.index || r.Gateway != netip.MustParseAddr("2001:db8::1") {
				t.Errorf("IPv6 default route %+v", r)
			}
		default:
			t.Errorf("not a default route: %+v", r)
		}
	}
}

func TestClosed(t *testing.T) {
	c := newTestConn(t)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.LinkByName("lo"); !errors.Is(err, os.ErrClosed) {
		t.Errorf("LinkByName after Close: %v", err)
	}
	if _, err := c.Links(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Links after Close: %v", err)
	}
}

// Replies to a request nobody waited for must not be taken as the answer
// to the next one.
func TestStaleReplies(t *testing.T) {
	c := newTestConn(t)
	addLink(t, "st0")
	req := AppendMessage(nil, Message{
		Type:  unix.RTM_GETLINK,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK,
		Seq:   c.seq + 1000,
		Port:  c.port,
		Data:  Link{Name: "st0"}.Append(nil),
	})
	if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	l, err := c.LinkByName("lo")
	if err != nil || l.Index != 1 {
		t.Errorf("LinkByName(lo) behind a stale reply = %+v, %v", l, err)
	}
}

// receiveUntil reads notifications until one satisfies match; a guard
// closes the monitor if none comes, so a broken monitor fails the test
// instead of hanging it.
func receiveUntil(t *testing.T, m *Monitor, match func(Message) bool) {
	t.Helper()
	guard := time.AfterFunc(10*time.Second, func() { m.Close() })
	defer guard.Stop()
	for {
		msgs, err := m.Receive()
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if slices.ContainsFunc(msgs, match) {
			return
		}
	}
}

func TestMonitor(t *testing.T) {
	c := newTestConn(t)
	m, err := Listen(unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	d0 := addLink(t, "mo0")
	receiveUntil(t, m, func(msg Message) bool {
		l, err := ParseLink(msg.Data)
		return msg.Type == unix.RTM_NEWLINK && err == nil && l.Name == d0.name && l.Index == d0.index
	})
	p := netip.MustParsePrefix("10.3.0.1/24")
	if err := c.AddAddr(d0.index, p); err != nil {
		t.Fatal(err)
	}
	receiveUntil(t, m, func(msg Message) bool {
		a, err := ParseAddr(msg.Data)
		return msg.Type == unix.RTM_NEWADDR && err == nil && a.Prefix == p && a.Index == d0.index
	})

	// Close ends a Receive that is waiting.
	done := make(chan error, 1)
	go func() {
		_, err := m.Receive()
		done <- err
	}()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, os.ErrClosed) {
		t.Errorf("Receive across Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Notifications that overflow the socket's buffer are reported as lost.
func TestMonitorOverflow(t *testing.T) {
	c := newTestConn(t)
	m, err := Listen(unix.RTMGRP_IPV4_IFADDR)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// The kernel raises a tiny buffer to its minimum, a few messages.
	var serr error
	if err := m.raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 1) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	d0 := addLink(t, "mf0")
	for i := range 64 {
		if err := c.AddAddr(d0.index, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 4, 0, byte(i + 1)}), 32)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Receive(); !errors.Is(err, unix.ENOBUFS) {
		t.Errorf("receive after an overflow: %v", err)
	}
}

// Errors name the operation and the link, and unwrap to the errno.
func TestErrorsNameTheLink(t *testing.T) {
	r := newTestConn(t)
	if l, err := r.LinkByName("lo"); err != nil || l.Index != 1 {
		t.Errorf("LinkByName(lo): index %d, %v", l.Index, err)
	}
	_, err := r.LinkByName("nosuch0")
	if !errors.Is(err, unix.ENODEV) || !strings.HasPrefix(err.Error(), `look up link "nosuch0": no such device`) {
		t.Errorf("missing link: %v", err)
	}
	p := netip.MustParsePrefix("10.2.0.0/16")
	for _, c := range []struct {
		err  error
		want string
	}{
		{r.SetLinkUp(999999), "set link up on ifindex 999999: "},
		{r.SetMTU(999999, 1400), "set mtu 1400 on ifindex 999999: "},
		{r.AddAddr(999999, p), "add address 10.2.0.0/16 on ifindex 999999: "},
		{r.AddRoute(999999, p), "add route 10.2.0.0/16 via ifindex 999999: "},
	} {
		if !errors.Is(c.err, unix.ENODEV) || !strings.HasPrefix(c.err.Error(), c.want) {
			t.Errorf("%v, want ENODEV after %q", c.err, c.want)
		}
	}
	// Removing what is not there is not an error.
	if err := r.DelAddr(1, netip.MustParsePrefix("10.2.0.1/16")); err != nil {
		t.Errorf("delAddr of a missing address: %v", err)
	}
	if err := r.DelRoute(1, p); err != nil {
		t.Errorf("delRoute of a missing route: %v", err)
	}
}
