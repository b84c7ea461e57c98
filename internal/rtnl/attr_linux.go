package rtnl

import (
	"math"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	attrHeaderLen = unix.SizeofRtAttr
	attrTypeMask  = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
)

// Attr is one route attribute. Type has the NLA_F_ flag bits stripped.
type Attr struct {
	Type uint16
	Data []byte
}

// Uint32 is the attribute's value when it is exactly a 32-bit number.
func (a Attr) Uint32() (uint32, bool) {
	if len(a.Data) != 4 {
		return 0, false
	}
	return ne.Uint32(a.Data), true
}

// Text is the attribute's text without its NUL terminator.
func (a Attr) Text() string { return strings.TrimRight(string(a.Data), "\x00") }

// AppendAttr encodes one attribute onto b; its length field leaves out the
// padding.
func AppendAttr(b []byte, typ uint16, data []byte) []byte {
	n := attrHeaderLen + len(data)
	if n > math.MaxUint16 {
		panic("rtnl: attribute too long")
	}
	b = ne.AppendUint16(b, uint16(n))
	b = ne.AppendUint16(b, typ)
	b = append(b, data...)
	return pad(b, n)
}

// AppendAttrU32 encodes a 32-bit number attribute.
func AppendAttrU32(b []byte, typ uint16, v uint32) []byte {
	return AppendAttr(b, typ, ne.AppendUint32(nil, v))
}

// AppendAttrString encodes a NUL-terminated text attribute.
func AppendAttrString(b []byte, typ uint16, s string) []byte {
	return AppendAttr(b, typ, append([]byte(s), 0))
}

// ParseAttrs splits an attribute stream. Payloads alias b. On malformed
// input it returns the attributes before the fault with an error wrapping
// ErrMalformed. The last attribute may lack its padding.
func ParseAttrs(b []byte) ([]Attr, error) {
	var out []Attr
	for len(b) > 0 {
		if len(b) < attrHeaderLen {
			return out, malformed("%d bytes left, less than an attribute header", len(b))
		}
		l := int(ne.Uint16(b[0:2]))
		if l < attrHeaderLen || l > len(b) {
			return out, malformed("attribute length %d with %d bytes left", l, len(b))
		}
		out = append(out, Attr{Type: ne.Uint16(b[2:4]) & attrTypeMask, Data: b[attrHeaderLen:l:l]})
		b = b[min(align(l), len(b)):]
	}
	return out, nil
}
