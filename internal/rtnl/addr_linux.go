package rtnl

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Addr is one address of a link (RTM_NEWADDR).
type Addr struct {
	Index int
	// Prefix is the link's own address, host part kept, with its prefix
	// length; invalid when the message holds no IPv4 or IPv6 address.
	Prefix netip.Prefix
	Scope  uint8  // RT_SCOPE_*
	Flags  uint32 // IFA_F_*
}

// Append encodes a as an address message body. a.Prefix must be valid.
func (a Addr) Append(b []byte) []byte {
	fam, ab := addrFamily(a.Prefix.Addr())
	b = IfAddrMsg{Family: fam, PrefixLen: uint8(a.Prefix.Bits()), Flags: uint8(a.Flags), Scope: a.Scope, Index: uint32(a.Index)}.Append(b)
	b = AppendAttr(b, unix.IFA_LOCAL, ab)
	b = AppendAttr(b, unix.IFA_ADDRESS, ab)
	if a.Flags != 0 {
		b = AppendAttrU32(b, unix.IFA_FLAGS, a.Flags)
	}
	return b
}

// ParseAddr decodes an RTM_NEWADDR or RTM_DELADDR payload; as ParseLink,
// it fails only on a short header.
func ParseAddr(b []byte) (Addr, error) {
	h, rest, err := ParseIfAddrMsg(b)
	if err != nil {
		return Addr{}, err
	}
	attrs, _ := ParseAttrs(rest)
	a := Addr{Index: int(int32(h.Index)), Scope: h.Scope, Flags: uint32(h.Flags)}
	// IFA_LOCAL is the link's own address; IFA_ADDRESS is the far end on
	// point-to-point links (PPPoE) and the only one IPv6 sends.
	var local, address []byte
	for _, at := range attrs {
		switch at.Type {
		case unix.IFA_LOCAL:
			local = at.Data
		case unix.IFA_ADDRESS:
			address = at.Data
		case unix.IFA_FLAGS:
			if v, ok := at.Uint32(); ok {
				a.Flags = v
			}
		}
	}
	if local == nil {
		local = address
	}
	if ip, ok := addrFromFamily(h.Family, local); ok {
		if p := netip.PrefixFrom(ip, int(h.PrefixLen)); p.IsValid() {
			a.Prefix = p
		}
	}
	return a, nil
}

// addrFamily returns the address family and the network-order bytes of a.
func addrFamily(a netip.Addr) (uint8, []byte) {
	if a.Is4() {
		b := a.As4()
		return unix.AF_INET, b[:]
	}
	b := a.As16()
	return unix.AF_INET6, b[:]
}

func addrFromFamily(family uint8, b []byte) (netip.Addr, bool) {
	switch {
	case family == unix.AF_INET && len(b) == 4:
		return netip.AddrFrom4([4]byte(b)), true
	case family == unix.AF_INET6 && len(b) == 16:
		return netip.AddrFrom16([16]byte(b)), true
	}
	return netip.Addr{}, false
}

// addrRequest builds the body shared by RTM_NEWADDR and RTM_DELADDR.
func addrRequest(index int, p netip.Prefix) ([]byte, error) {
	if !p.IsValid() {
		return nil, errors.New("invalid prefix")
	}
	if err := checkIndex(index); err != nil {
		return nil, err
	}
	a := Addr{Index: index, Prefix: p}
	if p.Addr().Is6() {
		// Skip duplicate address detection so the address can be used at
		// once instead of staying tentative for a second or more.
		a.Flags = unix.IFA_F_NODAD
	}
	return a.Append(nil), nil
}

// AddAddr assigns p (host part kept) to the link. An address that is
// already there is not an error.
func (c *Conn) AddAddr(index int, p netip.Prefix) error {
	b, err := addrRequest(index, p)
	if err != nil {
		return fmt.Errorf("add address %s on ifindex %d: %w", p, index, err)
	}
	_, err = c.Request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, b)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add address %s on ifindex %d: %w", p, index, err)
	}
	return nil
}

// DelAddr removes p from the link. An address that is not there is not
// an error.
func (c *Conn) DelAddr(index int, p netip.Prefix) error {
	b, err := addrRequest(index, p)
	if err != nil {
		return fmt.Errorf("delete address %s on ifindex %d: %w", p, index, err)
	}
	_, err = c.Request(unix.RTM_DELADDR, 0, b)
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("delete address %s on ifindex %d: %w", p, index, err)
	}
	return nil
}

// Addrs lists the IPv4 and IPv6 addresses of the link, whatever their
// scope (IPv6 link-local fe80:: addresses included), or of every link
// when index is 0.
func (c *Conn) Addrs(index int) ([]Addr, error) {
	what := "list addresses"
	if index != 0 {
		what = fmt.Sprintf("list addresses on ifindex %d", index)
		if err := checkIndex(index); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	msgs, err := c.Dump(unix.RTM_GETADDR, IfAddrMsg{Family: unix.AF_UNSPEC}.Append(nil))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var out []Addr
	for _, m := range msgs {
		if m.Type != unix.RTM_NEWADDR {
			continue
		}
		a, err := ParseAddr(m.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if (index == 0 || a.Index == index) && a.Prefix.IsValid() {
			out = append(out, a)
		}
	}
	return out, nil
}
