package device

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// ---- pure encoding tests ----

func TestRtnlAttrPadding(t *testing.T) {
	b := appendAttr(nil, unix.IFLA_IFNAME, []byte("d0\x00"))
	if len(b) != 8 {
		t.Fatalf("encoded length %d, want 8 (7 padded to 4)", len(b))
	}
	if l := binary.NativeEndian.Uint16(b[0:2]); l != 7 {
		t.Errorf("attribute length field %d, want 7 (padding excluded)", l)
	}
	if typ := binary.NativeEndian.Uint16(b[2:4]); typ != unix.IFLA_IFNAME {
		t.Errorf("attribute type %d, want %d", typ, unix.IFLA_IFNAME)
	}
	if b[7] != 0 {
		t.Errorf("padding byte %#x, want 0", b[7])
	}

	// Flag bits in the type are stripped and the padding is skipped.
	b = appendAttr(b, unix.IFLA_MTU|unix.NLA_F_NESTED, []byte{1})
	b = appendAttrU32(b, unix.IFLA_MTU, 1420)
	attrs, err := parseAttrs(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(attrs) != 3 {
		t.Fatalf("parsed %d attributes, want 3", len(attrs))
	}
	if string(attrs[0].data) != "d0\x00" || attrs[1].typ != unix.IFLA_MTU || !bytes.Equal(attrs[1].data, []byte{1}) {
		t.Errorf("unexpected attributes %+v", attrs[:2])
	}
	if got := binary.NativeEndian.Uint32(attrs[2].data); attrs[2].typ != unix.IFLA_MTU || got != 1420 {
		t.Errorf("u32 attribute: type %d value %d", attrs[2].typ, got)
	}

	// The final attribute may come without trailing padding.
	if _, err := parseAttrs(appendAttr(nil, 1, []byte{1, 2, 3})[:7]); err != nil {
		t.Errorf("last attribute without padding: %v", err)
	}
	bad := appendAttr(nil, 1, []byte{1, 2, 3, 4})
	binary.NativeEndian.PutUint16(bad[0:2], 12)
	if _, err := parseAttrs(bad); err == nil {
		t.Error("attribute longer than its buffer was accepted")
	}
	binary.NativeEndian.PutUint16(bad[0:2], 2)
	if _, err := parseAttrs(bad); err == nil {
		t.Error("attribute shorter than its header was accepted")
	}
}

func TestRtnlMessageRoundTrip(t *testing.T) {
	a := nlMsg{typ: unix.RTM_NEWADDR, flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK, seq: 0x01020304, port: 0xa0b0c0d0, data: []byte{9, 8, 7}}
	b := nlMsg{typ: unix.NLMSG_DONE, flags: unix.NLM_F_MULTI, seq: 5, port: 6, data: []byte{0, 0, 0, 0}}
	buf := appendNlMsg(nil, a)
	if len(buf) != 20 {
		t.Fatalf("message length %d, want 20 (19 padded)", len(buf))
	}
	if l := binary.NativeEndian.Uint32(buf[0:4]); l != 19 {
		t.Errorf("nlmsg_len %d, want 19", l)
	}
	if got := binary.NativeEndian.Uint16(buf[4:6]); got != unix.RTM_NEWADDR {
		t.Errorf("nlmsg_type %d", got)
	}
	if got := binary.NativeEndian.Uint32(buf[8:12]); got != 0x01020304 {
		t.Errorf("nlmsg_seq %#x", got)
	}
	buf = appendNlMsg(buf, b)
	msgs, err := parseNlMsgs(buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("parsed %d messages, want 2", len(msgs))
	}
	for i, want := range []nlMsg{a, b} {
		got := msgs[i]
		if got.typ != want.typ || got.flags != want.flags || got.seq != want.seq || got.port != want.port || !bytes.Equal(got.data, want.data) {
			t.Errorf("message %d: got %+v, want %+v", i, got, want)
		}
	}

	if _, err := parseNlMsgs(buf[:len(buf)-3]); err == nil {
		t.Error("truncated message was accepted")
	}
	short := slices.Clone(buf)
	binary.NativeEndian.PutUint32(short[0:4], 8)
	if _, err := parseNlMsgs(short); err == nil {
		t.Error("message shorter than its header was accepted")
	}
}

func TestRtnlAddrEncoding(t *testing.T) {
	for _, tc := range []struct {
		p      string
		family uint8
		flags  uint32
	}{
		{"10.0.0.5/24", unix.AF_INET, 0},
		{"192.0.2.1/32", unix.AF_INET, 0},
		{"fd00::5/64", unix.AF_INET6, unix.IFA_F_NODAD},
		{"2001:db8::1/128", unix.AF_INET6, unix.IFA_F_NODAD},
	} {
		p := netip.MustParsePrefix(tc.p)
		b, err := addrRequest(7, p)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != tc.family || b[1] != uint8(p.Bits()) || uint32(b[2]) != tc.flags || b[3] != 0 {
			t.Errorf("%s: ifaddrmsg head % x", p, b[:4])
		}
		if idx := binary.NativeEndian.Uint32(b[4:8]); idx != 7 {
			t.Errorf("%s: ifa_index %d", p, idx)
		}
		m, rest, err := parseIfAddrMsg(b)
		if err != nil {
			t.Fatal(err)
		}
		if m.family != tc.family || m.index != 7 {
			t.Errorf("%s: parsed header %+v", p, m)
		}
		attrs, err := parseAttrs(rest)
		if err != nil {
			t.Fatal(err)
		}
		var sawFlags bool
		for _, a := range attrs {
			switch a.typ {
			case unix.IFA_LOCAL, unix.IFA_ADDRESS:
				if !bytes.Equal(a.data, p.Addr().AsSlice()) {
					t.Errorf("%s: attribute %d holds % x", p, a.typ, a.data)
				}
			case unix.IFA_FLAGS:
				sawFlags = true
				if got := binary.NativeEndian.Uint32(a.data); got != tc.flags {
					t.Errorf("%s: IFA_FLAGS %#x, want %#x", p, got, tc.flags)
				}
			}
		}
		if sawFlags != (tc.flags != 0) {
			t.Errorf("%s: IFA_FLAGS present=%v", p, sawFlags)
		}
		// The host part must survive the round trip.
		got, idx, err := parseAddrMsg(b)
		if err != nil || got != p || idx != 7 {
			t.Errorf("%s: parseAddrMsg = %v, %d, %v", p, got, idx, err)
		}
	}

	if _, err := addrRequest(7, netip.Prefix{}); err == nil {
		t.Error("invalid prefix accepted")
	}
	if _, err := addrRequest(0, netip.MustParsePrefix("10.0.0.1/8")); err == nil {
		t.Error("ifindex 0 accepted")
	}

	// A point-to-point IPv4 address: IFA_LOCAL is ours, IFA_ADDRESS the peer.
	b := ifAddrMsg{family: unix.AF_INET, prefixLen: 32, index: 3}.append(nil)
	b = appendAttr(b, unix.IFA_ADDRESS, []byte{10, 0, 0, 2})
	b = appendAttr(b, unix.IFA_LOCAL, []byte{10, 0, 0, 1})
	if got, _, err := parseAddrMsg(b); err != nil || got != netip.MustParsePrefix("10.0.0.1/32") {
		t.Errorf("point-to-point address parsed as %v, %v", got, err)
	}
}

func TestRtnlRouteEncoding(t *testing.T) {
	for _, tc := range []struct {
		dst    string
		family uint8
		hasDst bool
	}{
		{"10.0.0.0/24", unix.AF_INET, true},
		{"192.0.2.1/32", unix.AF_INET, true},
		{"0.0.0.0/0", unix.AF_INET, false},
		{"fd00::/64", unix.AF_INET6, true},
		{"2001:db8::1/128", unix.AF_INET6, true},
		{"::/0", unix.AF_INET6, false},
	} {
		dst := netip.MustParsePrefix(tc.dst)
		b := routeRequest(9, dst, unix.RT_SCOPE_LINK, unix.RTN_UNICAST)
		want := []byte{tc.family, uint8(dst.Bits()), 0, 0, unix.RT_TABLE_MAIN, unix.RTPROT_STATIC, unix.RT_SCOPE_LINK, unix.RTN_UNICAST, 0, 0, 0, 0}
		if !bytes.Equal(b[:12], want) {
			t.Errorf("%s: rtmsg % x, want % x", dst, b[:12], want)
		}
		_, rest, err := parseRtMsg(b)
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := parseAttrs(rest)
		if err != nil {
			t.Fatal(err)
		}
		hasDst := slices.ContainsFunc(attrs, func(a nlAttr) bool { return a.typ == unix.RTA_DST })
		if hasDst != tc.hasDst {
			t.Errorf("%s: RTA_DST present=%v", dst, hasDst)
		}
		ri, err := parseRouteMsg(b)
		if err != nil {
			t.Fatal(err)
		}
		if ri.dst != dst || ri.oif != 9 || ri.table != unix.RT_TABLE_MAIN || ri.protocol != unix.RTPROT_STATIC || ri.scope != unix.RT_SCOPE_LINK {
			t.Errorf("%s: parsed %+v", dst, ri)
		}
	}

	// RTA_TABLE overrides the 8-bit table field.
	b := rtMsg{family: unix.AF_INET, dstLen: 8, table: unix.RT_TABLE_COMPAT}.append(nil)
	b = appendAttr(b, unix.RTA_DST, []byte{10, 0, 0, 0})
	b = appendAttrU32(b, unix.RTA_TABLE, 1000)
	b = appendAttrU32(b, unix.RTA_OIF, 4)
	ri, err := parseRouteMsg(b)
	if err != nil {
		t.Fatal(err)
	}
	if ri.table != 1000 || ri.oif != 4 || ri.dst != netip.MustParsePrefix("10.0.0.0/8") {
		t.Errorf("parsed %+v", ri)
	}

	if _, err := parseRouteMsg(b[:11]); err == nil {
		t.Error("short rtmsg accepted")
	}
}

func TestRtnlErrorParsing(t *testing.T) {
	errMsg := func(code int32, flags uint16, echoed []byte, attrs []byte) nlMsg {
		d := binary.NativeEndian.AppendUint32(nil, uint32(code))
		d = append(d, echoed...)
		d = append(d, attrs...)
		return nlMsg{typ: unix.NLMSG_ERROR, flags: flags, data: d}
	}
	req := appendNlMsg(nil, nlMsg{typ: unix.RTM_NEWADDR, flags: unix.NLM_F_REQUEST, seq: 1, data: []byte{1, 2, 3, 4, 5}})
	ext := appendAttr(nil, unix.NLMSGERR_ATTR_MSG, []byte("bad thing\x00"))

	if err := parseNlError(errMsg(0, 0, req[:16], nil)); err != nil {
		t.Errorf("ack parsed as %v", err)
	}

	err := parseNlError(errMsg(-int32(unix.EEXIST), unix.NLM_F_CAPPED, req[:16], nil))
	if !errors.Is(err, unix.EEXIST) || err.Error() != "file exists" {
		t.Errorf("plain error: %v", err)
	}

	err = parseNlError(errMsg(-int32(unix.EINVAL), unix.NLM_F_CAPPED|unix.NLM_F_ACK_TLVS, req[:16], ext))
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "bad thing") {
		t.Errorf("capped extended error: %v", err)
	}

	// Without NETLINK_CAP_ACK the whole request is echoed before the attributes.
	err = parseNlError(errMsg(-int32(unix.ENODEV), unix.NLM_F_ACK_TLVS, req, ext))
	if !errors.Is(err, unix.ENODEV) || !strings.Contains(err.Error(), "bad thing") {
		t.Errorf("uncapped extended error: %v", err)
	}

	if err := parseNlError(nlMsg{typ: unix.NLMSG_ERROR, data: []byte{1}}); err == nil {
		t.Error("short error message accepted")
	}

	wrapped := fmt.Errorf("add address 10.0.0.1/24 on ifindex 7: %w", &nlError{errno: unix.EEXIST})
	if wrapped.Error() != "add address 10.0.0.1/24 on ifindex 7: file exists" || !errors.Is(wrapped, unix.EEXIST) {
		t.Errorf("wrapped error %q", wrapped)
	}
}

// ---- tests against the kernel, each in its own network namespace ----

type rtnlTestNS struct {
	name  string
	r     *rtnl
	index int // ifindex of d0
}

// newRtnlTestNS creates a throwaway namespace holding a link d0 and an
// rtnl socket bound to that namespace.
func newRtnlTestNS(t *testing.T) *rtnlTestNS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and links")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip command")
	}
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatal(err)
	}
	ns := &rtnlTestNS{name: "wgdt-" + hex.EncodeToString(suffix[:])}
	runIP(t, "netns", "add", ns.name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.name).CombinedOutput(); err != nil {
			t.Errorf("remove namespace %s: %v: %s", ns.name, err, out)
		}
	})
	ns.addLink(t, "d0")

	r, err := openRtnlInNS(ns.name)
	if err != nil {
		t.Fatal(err)
	}
	ns.r = r
	t.Cleanup(func() { r.Close() })

	var links []ipLinkJSON
	ns.ipJSON(t, &links, "link", "show", "dev", "d0")
	if len(links) != 1 {
		t.Fatalf("ip link show d0: %d links", len(links))
	}
	ns.index = links[0].Ifindex
	return ns
}

// addLink creates a dummy link, or a persistent tun link on kernels built
// without the dummy driver.
func (ns *rtnlTestNS) addLink(t *testing.T, name string) {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns.name, "link", "add", name, "type", "dummy").CombinedOutput()
	if err == nil {
		return
	}
	t.Logf("no dummy link (%s), using a tun link", strings.TrimSpace(string(out)))
	runIP(t, "-n", ns.name, "tuntap", "add", "mode", "tun", "dev", name)
}

// openRtnlInNS opens the socket from a thread switched into the namespace.
// A dedicated goroutine keeps the thread locked if switching back fails,
// so the runtime retires that thread instead of reusing it.
func openRtnlInNS(name string) (*rtnl, error) {
	type result struct {
		r   *rtnl
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		target, err := os.Open(filepath.Join("/var/run/netns", name))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("enter namespace %s: %w", name, err)}
			return
		}
		r, err := openRtnl()
		if rerr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); rerr != nil {
			if r != nil {
				r.Close()
			}
			ch <- result{err: fmt.Errorf("return to original namespace: %w", rerr)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{r, err}
	}()
	res := <-ch
	return res.r, res.err
}

func runIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (ns *rtnlTestNS) ipJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	args = append([]string{"-n", ns.name, "-j"}, args...)
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

func (ns *rtnlTestNS) link(t *testing.T) ipLinkJSON {
	t.Helper()
	var links []ipLinkJSON
	ns.ipJSON(t, &links, "addr", "show", "dev", "d0")
	if len(links) != 1 {
		t.Fatalf("ip addr show d0: %d links", len(links))
	}
	return links[0]
}

// kernelAddrs returns d0's global addresses as ip reports them.
func (ns *rtnlTestNS) kernelAddrs(t *testing.T) map[netip.Prefix]ipAddrJSON {
	t.Helper()
	m := map[netip.Prefix]ipAddrJSON{}
	for _, a := range ns.link(t).AddrInfo {
		if a.Scope != "global" {
			continue
		}
		p := netip.PrefixFrom(netip.MustParseAddr(a.Local), a.Prefixlen)
		m[p] = a
	}
	return m
}

// kernelRoutes returns the main-table routes through d0 as ip reports them.
func (ns *rtnlTestNS) kernelRoutes(t *testing.T) map[netip.Prefix]ipRouteJSON {
	t.Helper()
	m := map[netip.Prefix]ipRouteJSON{}
	for _, fam := range []string{"-4", "-6"} {
		var rs []ipRouteJSON
		ns.ipJSON(t, &rs, fam, "route", "show", "table", "main")
		for _, r := range rs {
			if r.Dev != "d0" {
				continue
			}
			m[parseIPDst(t, fam, r.Dst)] = r
		}
	}
	return m
}

// parseIPDst turns ip's "default" and bare host addresses into prefixes.
func parseIPDst(t *testing.T, fam, s string) netip.Prefix {
	t.Helper()
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

func TestRtnlLink(t *testing.T) {
	ns := newRtnlTestNS(t)

	idx, err := ns.r.linkIndex("d0")
	if err != nil {
		t.Fatal(err)
	}
	if idx != ns.index {
		t.Errorf("linkIndex(d0) = %d, ip says %d", idx, ns.index)
	}
	if lo, err := ns.r.linkIndex("lo"); err != nil || lo != 1 {
		t.Errorf("linkIndex(lo) = %d, %v", lo, err)
	}

	_, err = ns.r.linkIndex("nosuch0")
	if err == nil {
		t.Fatal("linkIndex of a missing link succeeded")
	}
	if !errors.Is(err, unix.ENODEV) || !strings.Contains(err.Error(), `"nosuch0"`) || !strings.Contains(err.Error(), "no such device") {
		t.Errorf("missing link error: %v", err)
	}
	t.Logf("missing link error: %v", err)
	for _, name := range []string{"", "a-name-far-too-long"} {
		if _, err := ns.r.linkIndex(name); err == nil {
			t.Errorf("linkIndex(%q) succeeded", name)
		}
	}

	for _, mtu := range []int{1280, 1420} {
		if err := ns.r.setMTU(ns.index, mtu); err != nil {
			t.Fatal(err)
		}
		if got := ns.link(t).MTU; got != mtu {
			t.Errorf("after setMTU(%d) ip shows mtu %d", mtu, got)
		}
	}
	if err := ns.r.setMTU(ns.index, 0); err == nil {
		t.Error("setMTU 0 succeeded")
	}
	err = ns.r.setMTU(ns.index, 1<<20)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("set mtu %d on ifindex %d", 1<<20, ns.index)) {
		t.Errorf("oversized mtu: %v", err)
	}

	if slices.Contains(ns.link(t).Flags, "UP") {
		t.Fatal("new link is already up")
	}
	for range 2 {
		if err := ns.r.setLinkUp(ns.index); err != nil {
			t.Fatal(err)
		}
		if fl := ns.link(t).Flags; !slices.Contains(fl, "UP") {
			t.Errorf("after setLinkUp flags are %v", fl)
		}
	}

	err = ns.r.setLinkUp(999999)
	if !errors.Is(err, unix.ENODEV) || !strings.Contains(err.Error(), "set link up on ifindex 999999") {
		t.Errorf("setLinkUp on a missing link: %v", err)
	}
}

func TestRtnlAddr(t *testing.T) {
	ns := newRtnlTestNS(t)
	if err := ns.r.setLinkUp(ns.index); err != nil {
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
			if err := ns.r.addAddr(ns.index, p); err != nil {
				t.Fatalf("addAddr %s (call %d): %v", p, i+1, err)
			}
		}
	}

	kernel := ns.kernelAddrs(t)
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

	got, err := ns.r.addrs(ns.index)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range want {
		if !slices.Contains(got, p) {
			t.Errorf("addrs() lacks %s: %v", p, got)
		}
	}
	for _, p := range got {
		if !slices.Contains(want, p) && !p.Addr().IsLinkLocalUnicast() {
			t.Errorf("addrs() has unexpected %s", p)
		}
	}
	if lo, err := ns.r.addrs(1); err != nil || len(lo) != 0 {
		t.Errorf("addrs(lo) of a down loopback = %v, %v", lo, err)
	}

	for _, p := range want {
		for i := range 2 {
			if err := ns.r.delAddr(ns.index, p); err != nil {
				t.Fatalf("delAddr %s (call %d): %v", p, i+1, err)
			}
		}
	}
	if kernel := ns.kernelAddrs(t); len(kernel) != 0 {
		t.Errorf("after delAddr ip still shows %v", kernel)
	}
	got, err = ns.r.addrs(ns.index)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if !p.Addr().IsLinkLocalUnicast() {
			t.Errorf("after delAddr addrs() still has %s", p)
		}
	}

	err = ns.r.addAddr(999999, netip.MustParsePrefix("10.0.0.1/24"))
	if !errors.Is(err, unix.ENODEV) || !strings.HasPrefix(err.Error(), "add address 10.0.0.1/24 on ifindex 999999: ") {
		t.Errorf("addAddr on a missing link: %v", err)
	}
	t.Logf("addAddr on a missing link: %v", err)
	if err := ns.r.addAddr(ns.index, netip.Prefix{}); err == nil {
		t.Error("addAddr of an invalid prefix succeeded")
	}
}

func TestRtnlRoute(t *testing.T) {
	ns := newRtnlTestNS(t)
	// IPv4 refuses routes through a link that is down.
	if err := ns.r.setLinkUp(ns.index); err != nil {
		t.Fatal(err)
	}
	// A second link whose routes routes(d0) must not report.
	ns.addLink(t, "d1")
	runIP(t, "-n", ns.name, "link", "set", "d1", "up")
	runIP(t, "-n", ns.name, "route", "add", "198.51.100.0/24", "dev", "d1")

	cases := []struct{ in, want string }{
		{"10.1.0.5/24", "10.1.0.0/24"},
		{"192.0.2.1/32", "192.0.2.1/32"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"fd01::5/64", "fd01::/64"},
		{"2001:db8::1/128", "2001:db8::1/128"},
		{"::/0", "::/0"},
	}
	for _, c := range cases {
		p := netip.MustParsePrefix(c.in)
		for i := range 2 {
			if err := ns.r.addRoute(ns.index, p); err != nil {
				t.Fatalf("addRoute %s (call %d): %v", p, i+1, err)
			}
		}
	}

	kernel := ns.kernelRoutes(t)
	for _, c := range cases {
		p := netip.MustParsePrefix(c.want)
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

	got, err := ns.r.routes(ns.index)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if p := netip.MustParsePrefix(c.want); !slices.Contains(got, p) {
			t.Errorf("routes() lacks %s: %v", p, got)
		}
	}
	for _, p := range got {
		if _, ok := kernel[p]; !ok {
			t.Errorf("routes() reports %s, which ip does not show on d0", p)
		}
	}

	for _, c := range cases {
		p := netip.MustParsePrefix(c.in)
		for i := range 2 {
			if err := ns.r.delRoute(ns.index, p); err != nil {
				t.Fatalf("delRoute %s (call %d): %v", p, i+1, err)
			}
		}
	}
	kernel = ns.kernelRoutes(t)
	for _, c := range cases {
		p := netip.MustParsePrefix(c.want)
		if _, ok := kernel[p]; ok {
			t.Errorf("after delRoute ip still shows %s", p)
		}
	}
	got, err = ns.r.routes(ns.index)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if p := netip.MustParsePrefix(c.want); slices.Contains(got, p) {
			t.Errorf("after delRoute routes() still has %s", p)
		}
	}

	err = ns.r.addRoute(999999, netip.MustParsePrefix("10.2.0.0/16"))
	if !errors.Is(err, unix.ENODEV) || !strings.HasPrefix(err.Error(), "add route 10.2.0.0/16 via ifindex 999999: ") {
		t.Errorf("addRoute on a missing link: %v", err)
	}
}

// The kernel's connected route for an address is not ours: delRoute must
// leave it, even after addRoute for the same prefix reported success.
func TestRtnlRouteKeepsConnected(t *testing.T) {
	ns := newRtnlTestNS(t)
	if err := ns.r.setLinkUp(ns.index); err != nil {
		t.Fatal(err)
	}
	if err := ns.r.addAddr(ns.index, netip.MustParsePrefix("10.9.0.1/24")); err != nil {
		t.Fatal(err)
	}
	connected := netip.MustParsePrefix("10.9.0.0/24")
	if err := ns.r.addRoute(ns.index, connected); err != nil {
		t.Fatal(err)
	}
	if err := ns.r.delRoute(ns.index, connected); err != nil {
		t.Fatal(err)
	}
	r, ok := ns.kernelRoutes(t)[connected]
	if !ok || r.Protocol != "kernel" {
		t.Errorf("connected route after delRoute: %+v present=%v", r, ok)
	}
	got, err := ns.r.routes(ns.index)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, connected) {
		t.Errorf("routes() lacks the connected route: %v", got)
	}
}

func TestRtnlClosed(t *testing.T) {
	ns := newRtnlTestNS(t)
	if err := ns.r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ns.r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := ns.r.linkIndex("d0"); !errors.Is(err, os.ErrClosed) {
		t.Errorf("linkIndex after Close: %v", err)
	}
}

// Replies to a request nobody waited for must not be taken as the answer
// to the next one.
func TestRtnlStaleReplies(t *testing.T) {
	ns := newRtnlTestNS(t)
	stale := ifInfoMsg{family: unix.AF_UNSPEC}.append(nil)
	stale = appendAttr(stale, unix.IFLA_IFNAME, []byte("d0\x00"))
	req := appendNlMsg(nil, nlMsg{
		typ:   unix.RTM_GETLINK,
		flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK,
		seq:   ns.r.seq + 1000,
		port:  ns.r.port,
		data:  stale,
	})
	if err := unix.Sendto(ns.r.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	idx, err := ns.r.linkIndex("lo")
	if err != nil || idx != 1 {
		t.Errorf("linkIndex(lo) behind a stale reply = %d, %v", idx, err)
	}
}
