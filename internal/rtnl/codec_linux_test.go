package rtnl

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestAttrPadding(t *testing.T) {
	b := AppendAttrString(nil, unix.IFLA_IFNAME, "d0")
	if len(b) != 8 {
		t.Fatalf("encoded length %d, want 8 (7 padded to 4)", len(b))
	}
	if l := ne.Uint16(b[0:2]); l != 7 {
		t.Errorf("attribute length field %d, want 7 (padding excluded)", l)
	}
	if typ := ne.Uint16(b[2:4]); typ != unix.IFLA_IFNAME {
		t.Errorf("attribute type %d, want %d", typ, unix.IFLA_IFNAME)
	}
	if b[7] != 0 {
		t.Errorf("padding byte %#x, want 0", b[7])
	}

	// Flag bits in the type are stripped and the padding is skipped.
	b = AppendAttr(b, unix.IFLA_MTU|unix.NLA_F_NESTED, []byte{1})
	b = AppendAttrU32(b, unix.IFLA_MTU, 1420)
	attrs, err := ParseAttrs(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(attrs) != 3 {
		t.Fatalf("parsed %d attributes, want 3", len(attrs))
	}
	if attrs[0].Text() != "d0" || string(attrs[0].Data) != "d0\x00" || attrs[1].Type != unix.IFLA_MTU || !bytes.Equal(attrs[1].Data, []byte{1}) {
		t.Errorf("unexpected attributes %+v", attrs[:2])
	}
	if _, ok := attrs[1].Uint32(); ok {
		t.Error("a 1-byte attribute read as a 32-bit number")
	}
	if got, ok := attrs[2].Uint32(); attrs[2].Type != unix.IFLA_MTU || !ok || got != 1420 {
		t.Errorf("u32 attribute: type %d value %d", attrs[2].Type, got)
	}
	// An attribute's payload cannot grow into the next one.
	if c := cap(attrs[0].Data); c != 3 {
		t.Errorf("payload capacity %d, want 3", c)
	}

	// Appending onto a buffer of odd length pads the attribute itself.
	b = AppendAttr([]byte{0xff}, 1, []byte{1})
	if len(b) != 1+8 {
		t.Errorf("attribute after 1 byte: %d bytes, want 9", len(b))
	}
}

func TestParseAttrsMalformed(t *testing.T) {
	attr := func(l uint16, typ uint16, data ...byte) []byte {
		b := ne.AppendUint16(nil, l)
		b = ne.AppendUint16(b, typ)
		return append(b, data...)
	}
	good := AppendAttrU32(nil, 1, 7) // 8 bytes
	for _, c := range []struct {
		name string
		in   []byte
		want int // attributes before the fault, or in all when ok
		ok   bool
	}{
		{"empty", nil, 0, true},
		{"no payload", attr(4, 1), 1, true},
		{"last one unpadded", attr(7, 1, 1, 2, 3), 1, true},
		{"two", append(slices.Clone(good), good...), 2, true},
		{"length 0", attr(0, 1, 0, 0, 0, 0), 0, false},
		{"length below header", attr(3, 1, 0, 0, 0, 0), 0, false},
		{"length beyond buffer", attr(12, 1, 1, 2, 3, 4), 0, false},
		{"second beyond buffer", append(slices.Clone(good), attr(9, 2, 1, 2, 3, 4)...), 1, false},
		{"truncated header", []byte{8, 0}, 0, false},
		{"trailing bytes", append(slices.Clone(good), 0, 0, 0), 1, false},
	} {
		got, err := ParseAttrs(c.in)
		if c.ok != (err == nil) {
			t.Errorf("%s: error %v", c.name, err)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v does not wrap ErrMalformed", c.name, err)
		}
		if len(got) != c.want {
			t.Errorf("%s: %d attributes, want %d", c.name, len(got), c.want)
		}
	}
}

func TestMessageRoundTrip(t *testing.T) {
	a := Message{Type: unix.RTM_NEWADDR, Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK, Seq: 0x01020304, Port: 0xa0b0c0d0, Data: []byte{9, 8, 7}}
	b := Message{Type: unix.NLMSG_DONE, Flags: unix.NLM_F_MULTI, Seq: 5, Port: 6, Data: []byte{0, 0, 0, 0}}
	buf := AppendMessage(nil, a)
	if len(buf) != 20 {
		t.Fatalf("message length %d, want 20 (19 padded)", len(buf))
	}
	if l := ne.Uint32(buf[0:4]); l != 19 {
		t.Errorf("nlmsg_len %d, want 19", l)
	}
	if got := ne.Uint16(buf[4:6]); got != unix.RTM_NEWADDR {
		t.Errorf("nlmsg_type %d", got)
	}
	if got := ne.Uint32(buf[8:12]); got != 0x01020304 {
		t.Errorf("nlmsg_seq %#x", got)
	}
	if got := ne.Uint32(buf[12:16]); got != 0xa0b0c0d0 {
		t.Errorf("nlmsg_pid %#x", got)
	}
	buf = AppendMessage(buf, b)
	msgs, err := ParseMessages(buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("parsed %d messages, want 2", len(msgs))
	}
	for i, want := range []Message{a, b} {
		if got := msgs[i]; !reflect.DeepEqual(got, want) {
			t.Errorf("message %d: got %+v, want %+v", i, got, want)
		}
	}
	if c := cap(msgs[0].Data); c != 3 {
		t.Errorf("payload capacity %d, want 3", c)
	}
	// The last message may come without its padding.
	if msgs, err := ParseMessages(buf[:19]); err != nil || len(msgs) != 1 {
		t.Errorf("unpadded last message: %d messages, %v", len(msgs), err)
	}
}

func TestParseMessagesMalformed(t *testing.T) {
	one := AppendMessage(nil, Message{Type: unix.RTM_NEWLINK, Seq: 1, Data: []byte{1, 2, 3, 4}}) // 20 bytes
	header := func(l uint32) []byte { return ne.AppendUint32(make([]byte, 0, 16), l) }
	withLen := func(l uint32, n int) []byte { return append(header(l), make([]byte, n-4)...) }
	for _, c := range []struct {
		name string
		in   []byte
		want int
		ok   bool
	}{
		{"empty", nil, 0, true},
		{"header only", withLen(16, 16), 1, true},
		{"truncated header", one[:15], 0, false},
		{"one byte", []byte{20}, 0, false},
		{"length 0", withLen(0, 16), 0, false},
		{"length below header", withLen(15, 20), 0, false},
		{"length beyond buffer", one[:19:19][:18], 0, false},
		{"length far beyond buffer", withLen(0xffffffff, 20), 0, false},
		{"second truncated", append(slices.Clone(one), one[:10]...), 1, false},
		{"second beyond buffer", append(slices.Clone(one), withLen(40, 20)...), 1, false},
		{"trailing bytes", append(slices.Clone(one), 0, 0, 0), 1, false},
	} {
		got, err := ParseMessages(c.in)
		if c.ok != (err == nil) {
			t.Errorf("%s: error %v", c.name, err)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v does not wrap ErrMalformed", c.name, err)
		}
		if len(got) != c.want {
			t.Errorf("%s: %d messages, want %d", c.name, len(got), c.want)
		}
	}
}

func TestHeaders(t *testing.T) {
	ifi := IfInfoMsg{Family: unix.AF_UNSPEC, Type: 1, Index: -2, Flags: unix.IFF_UP, Change: 0xffffffff}
	b := ifi.Append(nil)
	if len(b) != unix.SizeofIfInfomsg || b[1] != 0 {
		t.Errorf("ifinfomsg % x", b)
	}
	if got, rest, err := ParseIfInfoMsg(append(b, 9)); err != nil || got != ifi || !bytes.Equal(rest, []byte{9}) {
		t.Errorf("ifinfomsg parsed as %+v, % x, %v", got, rest, err)
	}
	ifa := IfAddrMsg{Family: unix.AF_INET6, PrefixLen: 64, Flags: 2, Scope: unix.RT_SCOPE_LINK, Index: 7}
	b = ifa.Append(nil)
	if want := []byte{unix.AF_INET6, 64, 2, unix.RT_SCOPE_LINK}; len(b) != unix.SizeofIfAddrmsg || !bytes.Equal(b[:4], want) || ne.Uint32(b[4:]) != 7 {
		t.Errorf("ifaddrmsg % x", b)
	}
	if got, _, err := ParseIfAddrMsg(b); err != nil || got != ifa {
		t.Errorf("ifaddrmsg parsed as %+v, %v", got, err)
	}
	rtm := RtMsg{Family: unix.AF_INET, DstLen: 24, SrcLen: 1, Tos: 2, Table: 3, Protocol: 4, Scope: 5, Type: 6, Flags: unix.RTM_F_CLONED}
	b = rtm.Append(nil)
	if len(b) != unix.SizeofRtMsg || !bytes.Equal(b[:8], []byte{unix.AF_INET, 24, 1, 2, 3, 4, 5, 6}) {
		t.Errorf("rtmsg % x", b)
	}
	if got, _, err := ParseRtMsg(b); err != nil || got != rtm {
		t.Errorf("rtmsg parsed as %+v, %v", got, err)
	}

	for name, parse := range map[string]func([]byte) error{
		"ifinfomsg": func(b []byte) error { _, _, err := ParseIfInfoMsg(b); return err },
		"ifaddrmsg": func(b []byte) error { _, _, err := ParseIfAddrMsg(b); return err },
		"rtmsg":     func(b []byte) error { _, _, err := ParseRtMsg(b); return err },
		"link":      func(b []byte) error { _, err := ParseLink(b); return err },
		"address":   func(b []byte) error { _, err := ParseAddr(b); return err },
		"route":     func(b []byte) error { _, err := ParseRoute(b); return err },
	} {
		if err := parse(make([]byte, 7)); !errors.Is(err, ErrMalformed) {
			t.Errorf("short %s: %v", name, err)
		}
	}
	// A malformed attribute ends the walk; those before it count. (qemu-user
	// leaves some attributes unconverted for big-endian targets.)
	tail := []byte{2, 0, 2, 0} // length 2 or 512: too short or too long
	link := append(AppendAttrString(IfInfoMsg{Index: 2}.Append(nil), unix.IFLA_IFNAME, "wan"), tail...)
	if l, err := ParseLink(link); err != nil || l != (Link{Index: 2, Name: "wan"}) {
		t.Errorf("link with a malformed attribute: %+v, %v", l, err)
	}
	addr := append(AppendAttr(IfAddrMsg{Family: unix.AF_INET, PrefixLen: 24, Index: 2}.Append(nil), unix.IFA_LOCAL, []byte{10, 0, 0, 1}), tail...)
	if a, err := ParseAddr(addr); err != nil || a != (Addr{Index: 2, Prefix: netip.MustParsePrefix("10.0.0.1/24")}) {
		t.Errorf("address with a malformed attribute: %+v, %v", a, err)
	}
	route := append(AppendAttrU32(RtMsg{Family: unix.AF_INET}.Append(nil), unix.RTA_OIF, 2), tail...)
	if r, err := ParseRoute(route); err != nil || r.OIF != 2 || r.Dst != netip.MustParsePrefix("0.0.0.0/0") {
		t.Errorf("route with a malformed attribute: %+v, %v", r, err)
	}
}

func TestLinkEncoding(t *testing.T) {
	l := Link{Index: 5, Name: "wan0", Flags: unix.IFF_UP | unix.IFF_LOWER_UP, MTU: 1500}
	b := l.Append(nil)
	if got, err := ParseLink(b); err != nil || got != l {
		t.Errorf("link parsed as %+v, %v", got, err)
	}
	if !l.Running() {
		t.Error("up with carrier: not running")
	}
	if (Link{Flags: unix.IFF_UP}).Running() || (Link{Flags: unix.IFF_LOWER_UP}).Running() {
		t.Error("up without carrier or carrier while down: running")
	}
	// A lookup by name carries only the name.
	b = Link{Name: "d0"}.Append(nil)
	attrs, err := ParseAttrs(b[unix.SizeofIfInfomsg:])
	if err != nil || len(attrs) != 1 || attrs[0].Type != unix.IFLA_IFNAME || string(attrs[0].Data) != "d0\x00" {
		t.Errorf("lookup by name: %+v, %v", attrs, err)
	}
}

func TestAddrEncoding(t *testing.T) {
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
		if idx := ne.Uint32(b[4:8]); idx != 7 {
			t.Errorf("%s: ifa_index %d", p, idx)
		}
		m, rest, err := ParseIfAddrMsg(b)
		if err != nil {
			t.Fatal(err)
		}
		if m.Family != tc.family || m.Index != 7 {
			t.Errorf("%s: parsed header %+v", p, m)
		}
		attrs, err := ParseAttrs(rest)
		if err != nil {
			t.Fatal(err)
		}
		var sawFlags bool
		for _, a := range attrs {
			switch a.Type {
			case unix.IFA_LOCAL, unix.IFA_ADDRESS:
				if !bytes.Equal(a.Data, p.Addr().AsSlice()) {
					t.Errorf("%s: attribute %d holds % x", p, a.Type, a.Data)
				}
			case unix.IFA_FLAGS:
				sawFlags = true
				if got, _ := a.Uint32(); got != tc.flags {
					t.Errorf("%s: IFA_FLAGS %#x, want %#x", p, got, tc.flags)
				}
			}
		}
		if sawFlags != (tc.flags != 0) {
			t.Errorf("%s: IFA_FLAGS present=%v", p, sawFlags)
		}
		// The host part must survive the round trip.
		got, err := ParseAddr(b)
		if want := (Addr{Index: 7, Prefix: p, Flags: tc.flags}); err != nil || got != want {
			t.Errorf("%s: ParseAddr = %+v, %v", p, got, err)
		}
	}

	if _, err := addrRequest(7, netip.Prefix{}); err == nil {
		t.Error("invalid prefix accepted")
	}
	if _, err := addrRequest(0, netip.MustParsePrefix("10.0.0.1/8")); err == nil {
		t.Error("ifindex 0 accepted")
	}
}

func TestParseAddr(t *testing.T) {
	head := func(family, bits, flags, scope uint8) []byte {
		return IfAddrMsg{Family: family, PrefixLen: bits, Flags: flags, Scope: scope, Index: 3}.Append(nil)
	}
	v4 := func(s string) []byte { a := netip.MustParseAddr(s).As4(); return a[:] }
	v6 := func(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }
	for _, c := range []struct {
		name string
		in   []byte
		want Addr
	}{
		// Point-to-point (PPPoE): IFA_LOCAL is ours, IFA_ADDRESS the far end.
		{"point-to-point", AppendAttr(AppendAttr(head(unix.AF_INET, 32, 0, 0), unix.IFA_ADDRESS, v4("10.0.0.2")), unix.IFA_LOCAL, v4("10.0.0.1")),
			Addr{Index: 3, Prefix: netip.MustParsePrefix("10.0.0.1/32")}},
		// IPv6 sends only IFA_ADDRESS; IFA_FLAGS holds flags beyond 8 bits.
		{"ipv6", AppendAttrU32(AppendAttr(head(unix.AF_INET6, 64, unix.IFA_F_TENTATIVE, 0), unix.IFA_ADDRESS, v6("2001:db8::2")), unix.IFA_FLAGS, unix.IFA_F_TENTATIVE|unix.IFA_F_MANAGETEMPADDR),
			Addr{Index: 3, Prefix: netip.MustParsePrefix("2001:db8::2/64"), Flags: unix.IFA_F_TENTATIVE | unix.IFA_F_MANAGETEMPADDR}},
		{"flags from the header", AppendAttr(head(unix.AF_INET, 24, unix.IFA_F_SECONDARY, unix.RT_SCOPE_HOST), unix.IFA_LOCAL, v4("127.0.0.2")),
			Addr{Index: 3, Prefix: netip.MustParsePrefix("127.0.0.2/24"), Flags: unix.IFA_F_SECONDARY, Scope: unix.RT_SCOPE_HOST}},
		{"prefix too long", AppendAttr(head(unix.AF_INET, 33, 0, 0), unix.IFA_LOCAL, v4("10.0.0.1")), Addr{Index: 3}},
		{"family mismatch", AppendAttr(head(unix.AF_INET6, 24, 0, 0), unix.IFA_LOCAL, v4("10.0.0.1")), Addr{Index: 3}},
		{"no address", head(unix.AF_INET, 24, 0, 0), Addr{Index: 3}},
	} {
		got, err := ParseAddr(c.in)
		if err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

func TestRouteEncoding(t *testing.T) {
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
		b := staticRoute(9, dst, unix.RT_SCOPE_LINK, unix.RTN_UNICAST).Append(nil)
		want := []byte{tc.family, uint8(dst.Bits()), 0, 0, unix.RT_TABLE_MAIN, unix.RTPROT_STATIC, unix.RT_SCOPE_LINK, unix.RTN_UNICAST, 0, 0, 0, 0}
		if !bytes.Equal(b[:12], want) {
			t.Errorf("%s: rtmsg % x, want % x", dst, b[:12], want)
		}
		_, rest, err := ParseRtMsg(b)
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := ParseAttrs(rest)
		if err != nil {
			t.Fatal(err)
		}
		var types []uint16
		for _, a := range attrs {
			types = append(types, a.Type)
		}
		wantTypes := []uint16{unix.RTA_OIF}
		if tc.hasDst {
			wantTypes = []uint16{unix.RTA_DST, unix.RTA_OIF}
		}
		if !slices.Equal(types, wantTypes) {
			t.Errorf("%s: attributes %v, want %v", dst, types, wantTypes)
		}
		ri, err := ParseRoute(b)
		if err != nil {
			t.Fatal(err)
		}
		if want := staticRoute(9, dst, unix.RT_SCOPE_LINK, unix.RTN_UNICAST); !reflect.DeepEqual(ri, want) {
			t.Errorf("%s: parsed %+v, want %+v", dst, ri, want)
		}
	}

	// RTA_TABLE overrides the 8-bit table field.
	b := RtMsg{Family: unix.AF_INET, DstLen: 8, Table: unix.RT_TABLE_COMPAT}.Append(nil)
	b = AppendAttr(b, unix.RTA_DST, []byte{10, 0, 0, 0})
	b = AppendAttrU32(b, unix.RTA_TABLE, 1000)
	b = AppendAttrU32(b, unix.RTA_OIF, 4)
	ri, err := ParseRoute(b)
	if err != nil {
		t.Fatal(err)
	}
	if ri.Table != 1000 || ri.OIF != 4 || ri.Dst != netip.MustParsePrefix("10.0.0.0/8") {
		t.Errorf("parsed %+v", ri)
	}
	if _, err := ParseRoute(b[:11]); err == nil {
		t.Error("short rtmsg accepted")
	}

	// Everything Append writes comes back.
	full := Route{Dst: netip.MustParsePrefix("2001:db8::/32"), Gateway: netip.MustParseAddr("fe80::1"), OIF: 3, Nexthops: []int{4, 5},
		Table: 1000, Priority: 1024, Protocol: unix.RTPROT_BOOT, Scope: unix.RT_SCOPE_UNIVERSE, Type: unix.RTN_UNICAST, Flags: unix.RTM_F_NOTIFY}
	if got, err := ParseRoute(full.Append(nil)); err != nil || !reflect.DeepEqual(got, full) {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	if got := full.Links(); !slices.Equal(got, []int{3, 4, 5}) {
		t.Errorf("links %v", got)
	}
}

func TestParseRoute(t *testing.T) {
	nexthop := func(l uint16, index uint32) []byte {
		b := ne.AppendUint16(nil, l)
		b = append(b, 0, 0)
		return ne.AppendUint32(b, index)
	}
	def4 := RtMsg{Family: unix.AF_INET, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST}.Append(nil)
	gw := AppendAttr(slices.Clone(def4), unix.RTA_GATEWAY, []byte{192, 0, 2, 1})

	// A multipath default route: the next hops' links, no RTA_OIF.
	b := AppendAttr(slices.Clone(gw), unix.RTA_MULTIPATH, append(nexthop(8, 4), nexthop(8, 6)...))
	r, err := ParseRoute(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.Dst != netip.MustParsePrefix("0.0.0.0/0") || r.Gateway != netip.MustParseAddr("192.0.2.1") || r.OIF != 0 || !slices.Equal(r.Links(), []int{4, 6}) {
		t.Errorf("multipath route parsed as %+v", r)
	}
	// A next hop with its own attributes (16 bytes) is skipped whole.
	long := append(nexthop(16, 4), AppendAttr(nil, unix.RTA_GATEWAY, []byte{192, 0, 2, 1})...)
	b = AppendAttr(slices.Clone(def4), unix.RTA_MULTIPATH, append(long, nexthop(8, 6)...))
	if r, err := ParseRoute(b); err != nil || !slices.Equal(r.Nexthops, []int{4, 6}) {
		t.Errorf("next hops with attributes: %+v, %v", r, err)
	}
	// A malformed next hop ends the walk; those before it count.
	for _, c := range []struct {
		name string
		nh   []byte
		want []int
	}{
		{"short next hop", nexthop(7, 4), nil},
		{"next hop beyond", nexthop(12, 4), nil},
		{"truncated next hop", nexthop(8, 4)[:5], nil},
		{"second next hop short", append(nexthop(8, 4), nexthop(4, 5)...), []int{4}},
	} {
		r, err := ParseRoute(AppendAttr(slices.Clone(def4), unix.RTA_MULTIPATH, c.nh))
		if err != nil || !slices.Equal(r.Nexthops, c.want) {
			t.Errorf("%s: %+v, %v; want next hops %v", c.name, r, err, c.want)
		}
	}

	// A gateway of the wrong length and routes of other families carry
	// no addresses.
	if r, err := ParseRoute(AppendAttr(slices.Clone(def4), unix.RTA_GATEWAY, make([]byte, 16))); err != nil || r.Gateway.IsValid() {
		t.Errorf("IPv6 gateway on an IPv4 route: %+v, %v", r, err)
	}
	mpls := RtMsg{Family: unix.AF_MPLS, DstLen: 20}.Append(nil)
	if r, err := ParseRoute(AppendAttr(mpls, unix.RTA_DST, []byte{0, 1, 0x11, 0})); err != nil || r.Dst.IsValid() {
		t.Errorf("MPLS route: %+v, %v", r, err)
	}
}

func TestErrorParsing(t *testing.T) {
	errMsg := func(code int32, flags uint16, echoed []byte, attrs []byte) Message {
		d := ne.AppendUint32(nil, uint32(code))
		d = append(d, echoed...)
		d = append(d, attrs...)
		return Message{Type: unix.NLMSG_ERROR, Flags: flags, Data: d}
	}
	req := AppendMessage(nil, Message{Type: unix.RTM_NEWADDR, Flags: unix.NLM_F_REQUEST, Seq: 1, Data: []byte{1, 2, 3, 4, 5}})
	ext := AppendAttrString(nil, unix.NLMSGERR_ATTR_MSG, "bad thing")

	if err := parseError(errMsg(0, 0, req[:16], nil)); err != nil {
		t.Errorf("ack parsed as %v", err)
	}

	err := parseError(errMsg(-int32(unix.EEXIST), unix.NLM_F_CAPPED, req[:16], nil))
	if !errors.Is(err, unix.EEXIST) || err.Error() != "file exists" {
		t.Errorf("plain error: %v", err)
	}

	err = parseError(errMsg(-int32(unix.EINVAL), unix.NLM_F_CAPPED|unix.NLM_F_ACK_TLVS, req[:16], ext))
	if !errors.Is(err, unix.EINVAL) || err.Error() != "invalid argument (bad thing)" {
		t.Errorf("capped extended error: %v", err)
	}

	// Without NETLINK_CAP_ACK the whole request is echoed before the attributes.
	err = parseError(errMsg(-int32(unix.ENODEV), unix.NLM_F_ACK_TLVS, req, ext))
	if !errors.Is(err, unix.ENODEV) || !strings.Contains(err.Error(), "bad thing") {
		t.Errorf("uncapped extended error: %v", err)
	}

	// An echoed request whose length runs past the message keeps the errno.
	bad := slices.Clone(req)
	ne.PutUint32(bad[0:4], 0xfffffff0)
	err = parseError(errMsg(-int32(unix.ENODEV), unix.NLM_F_ACK_TLVS, bad, ext))
	if !errors.Is(err, unix.ENODEV) || err.Error() != "no such device" {
		t.Errorf("echo longer than the message: %v", err)
	}

	if err := parseError(Message{Type: unix.NLMSG_ERROR, Data: []byte{1}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("short error message: %v", err)
	}

	wrapped := fmt.Errorf("add address 10.0.0.1/24 on ifindex 7: %w", &Error{Errno: unix.EEXIST})
	if wrapped.Error() != "add address 10.0.0.1/24 on ifindex 7: file exists" || !errors.Is(wrapped, unix.EEXIST) {
		t.Errorf("wrapped error %q", wrapped)
	}
}
