package rtnl

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Link is what wgd reads of a link (RTM_NEWLINK).
type Link struct {
	Index int
	Name  string
	Flags uint32 // IFF_*
	MTU   uint32 // 0: not given
}

// Running tells whether the link is up and has its carrier.
func (l Link) Running() bool {
	return l.Flags&unix.IFF_UP != 0 && l.Flags&(unix.IFF_RUNNING|unix.IFF_LOWER_UP) != 0
}

// Append encodes l as a link message body. Flags go into ifi_flags with
// ifi_change 0, which the kernel does not apply: SetLinkUp changes flags.
func (l Link) Append(b []byte) []byte {
	b = IfInfoMsg{Family: unix.AF_UNSPEC, Index: int32(l.Index), Flags: l.Flags}.Append(b)
	if l.Name != "" {
		b = AppendAttrString(b, unix.IFLA_IFNAME, l.Name)
	}
	if l.MTU != 0 {
		b = AppendAttrU32(b, unix.IFLA_MTU, l.MTU)
	}
	return b
}

// ParseLink decodes an RTM_NEWLINK or RTM_DELLINK payload. Like the other
// typed parsers it fails only on a short header: a malformed attribute
// ends the walk and the attributes before it count. The kernel sends none,
// but qemu-user, which runs the router builds in tests, leaves some
// attributes it does not know in the host's byte order.
func ParseLink(b []byte) (Link, error) {
	h, rest, err := ParseIfInfoMsg(b)
	if err != nil {
		return Link{}, err
	}
	attrs, _ := ParseAttrs(rest)
	l := Link{Index: int(h.Index), Flags: h.Flags}
	for _, a := range attrs {
		switch a.Type {
		case unix.IFLA_IFNAME:
			l.Name = a.Text()
		case unix.IFLA_MTU:
			if v, ok := a.Uint32(); ok {
				l.MTU = v
			}
		}
	}
	return l, nil
}

func checkName(name string) error {
	if name == "" || len(name) >= unix.IFNAMSIZ || strings.ContainsRune(name, 0) {
		return errors.New("invalid interface name")
	}
	return nil
}

func checkIndex(index int) error {
	if index <= 0 || int64(index) > int64(^uint32(0)>>1) {
		return errors.New("invalid interface index")
	}
	return nil
}

// LinkByName looks up a link by its name.
func (c *Conn) LinkByName(name string) (Link, error) {
	if err := checkName(name); err != nil {
		return Link{}, fmt.Errorf("look up link %q: %w", name, err)
	}
	l, err := c.getLink(Link{Name: name})
	if err != nil {
		return Link{}, fmt.Errorf("look up link %q: %w", name, err)
	}
	return l, nil
}

// LinkByIndex looks up a link by its index.
func (c *Conn) LinkByIndex(index int) (Link, error) {
	if err := checkIndex(index); err != nil {
		return Link{}, fmt.Errorf("look up link ifindex %d: %w", index, err)
	}
	l, err := c.getLink(Link{Index: index})
	if err != nil {
		return Link{}, fmt.Errorf("look up link ifindex %d: %w", index, err)
	}
	return l, nil
}

func (c *Conn) getLink(q Link) (Link, error) {
	msgs, err := c.Request(unix.RTM_GETLINK, 0, q.Append(nil))
	if err != nil {
		return Link{}, err
	}
	for _, m := range msgs {
		if m.Type == unix.RTM_NEWLINK {
			return ParseLink(m.Data)
		}
	}
	return Link{}, errors.New("kernel sent no link in its reply")
}

// Links lists every link.
func (c *Conn) Links() ([]Link, error) {
	msgs, err := c.Dump(unix.RTM_GETLINK, IfInfoMsg{Family: unix.AF_UNSPEC}.Append(nil))
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []Link
	for _, m := range msgs {
		if m.Type != unix.RTM_NEWLINK {
			continue
		}
		l, err := ParseLink(m.Data)
		if err != nil {
			return nil, fmt.Errorf("list links: %w", err)
		}
		out = append(out, l)
	}
	return out, nil
}

// SetLinkUp sets the link administratively up.
func (c *Conn) SetLinkUp(index int) error {
	if err := checkIndex(index); err != nil {
		return fmt.Errorf("set link up on ifindex %d: %w", index, err)
	}
	b := IfInfoMsg{Family: unix.AF_UNSPEC, Index: int32(index), Flags: unix.IFF_UP, Change: unix.IFF_UP}.Append(nil)
	if _, err := c.Request(unix.RTM_NEWLINK, 0, b); err != nil {
		return fmt.Errorf("set link up on ifindex %d: %w", index, err)
	}
	return nil
}

// SetMTU sets the link's MTU.
func (c *Conn) SetMTU(index int, mtu int) error {
	if err := checkIndex(index); err != nil {
		return fmt.Errorf("set mtu %d on ifindex %d: %w", mtu, index, err)
	}
	if mtu <= 0 || int64(mtu) > int64(^uint32(0)>>1) {
		return fmt.Errorf("set mtu %d on ifindex %d: mtu out of range", mtu, index)
	}
	if _, err := c.Request(unix.RTM_NEWLINK, 0, Link{Index: index, MTU: uint32(mtu)}.Append(nil)); err != nil {
		return fmt.Errorf("set mtu %d on ifindex %d: %w", mtu, index, err)
	}
	return nil
}

// DelLink removes the link.
func (c *Conn) DelLink(index int) error {
	if err := checkIndex(index); err != nil {
		return fmt.Errorf("delete link %d: %w", index, err)
	}
	if _, err := c.Request(unix.RTM_DELLINK, 0, Link{Index: index}.Append(nil)); err != nil {
		return fmt.Errorf("delete link %d: %w", index, err)
	}
	return nil
}
