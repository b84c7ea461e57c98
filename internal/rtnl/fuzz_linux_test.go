package rtnl

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzParseMessages feeds arbitrary bytes to every parser as a datagram,
// its payloads and their attributes. Nothing may panic, and what parses
// must encode back consistently.
func FuzzParseMessages(f *testing.F) {
	v4 := netip.MustParsePrefix("192.0.2.7/24")
	einval := -int32(unix.EINVAL)
	seeds := [][]byte{
		nil,
		AppendMessage(nil, Message{Type: unix.RTM_NEWLINK, Flags: unix.NLM_F_MULTI, Seq: 3, Data: Link{Index: 2, Name: "wan", Flags: unix.IFF_UP, MTU: 1500}.Append(nil)}),
		AppendMessage(nil, Message{Type: unix.RTM_NEWADDR, Data: Addr{Index: 2, Prefix: v4, Flags: unix.IFA_F_NODAD}.Append(nil)}),
		AppendMessage(nil, Message{Type: unix.RTM_NEWROUTE, Data: Route{Dst: netip.MustParsePrefix("::/0"), Gateway: netip.MustParseAddr("fe80::1"),
			Nexthops: []int{2, 3}, Table: 1000, Type: unix.RTN_UNICAST}.Append(nil)}),
		AppendMessage(AppendMessage(nil, Message{Type: unix.NLMSG_ERROR, Flags: unix.NLM_F_ACK_TLVS,
			Data: append(ne.AppendUint32(nil, uint32(einval)), AppendMessage(nil, Message{Type: unix.RTM_NEWADDR})...)}),
			Message{Type: unix.NLMSG_DONE, Data: make([]byte, 4)}),
		{20, 0, 0, 0, 16, 0},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := ParseMessages(b)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		// Every message re-encodes to the bytes it came from, padding aside.
		off := 0
		var enc []byte
		for _, m := range msgs {
			n := headerLen + len(m.Data)
			one := AppendMessage(nil, m)
			if !bytes.Equal(one[:n], b[off:off+n]) {
				t.Fatalf("message at %d re-encodes as % x, was % x", off, one[:n], b[off:off+n])
			}
			off += align(n)
			enc = append(enc, one...)
		}
		again, err := ParseMessages(enc)
		if err != nil || !reflect.DeepEqual(again, msgs) {
			t.Fatalf("re-encoded stream parses as %+v, %v; want %+v", again, err, msgs)
		}
		// The payload of the input as a whole too, so short inputs reach
		// the payload parsers directly.
		fuzzPayload(t, b)
		for _, m := range msgs {
			if m.Type == unix.NLMSG_ERROR {
				if err := parseError(m); err != nil && !errors.Is(err, ErrMalformed) && !errors.As(err, new(*Error)) {
					t.Fatalf("error message parsed as %v", err)
				}
			}
			fuzzPayload(t, m.Data)
		}
	})
}

func fuzzPayload(t *testing.T, b []byte) {
	for _, skip := range []int{0, unix.SizeofIfAddrmsg, unix.SizeofRtMsg, unix.SizeofIfInfomsg} {
		if skip > len(b) {
			continue
		}
		attrs, err := ParseAttrs(b[skip:])
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		var enc []byte
		for _, a := range attrs {
			enc = AppendAttr(enc, a.Type, a.Data)
		}
		again, err := ParseAttrs(enc)
		if err != nil || !reflect.DeepEqual(again, attrs) {
			t.Fatalf("re-encoded attributes parse as %+v, %v; want %+v", again, err, attrs)
		}
	}
	if l, err := ParseLink(b); err == nil {
		if again, err := ParseLink(l.Append(nil)); err != nil || again != l {
			t.Fatalf("link %+v re-encodes as %+v, %v", l, again, err)
		}
	}
	if a, err := ParseAddr(b); err == nil && a.Prefix.IsValid() {
		if again, err := ParseAddr(a.Append(nil)); err != nil || again != a {
			t.Fatalf("address %+v re-encodes as %+v, %v", a, again, err)
		}
	}
	if r, err := ParseRoute(b); err == nil && r.Dst.IsValid() {
		if again, err := ParseRoute(r.Append(nil)); err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("route %+v re-encodes as %+v, %v", r, again, err)
		}
	}
}
