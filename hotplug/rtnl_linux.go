package hotplug

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Netlink messages are read field by field with encoding/binary in the
// host's byte order, never by casting structs onto byte buffers: wgd runs
// on big-endian MIPS, which also faults on unaligned loads.

var ne = binary.NativeEndian

const (
	nlmsgHdrLen = 16
	ifInfoLen   = 16
	ifAddrLen   = 8
	rtMsgLen    = 12
	dumpTimeout = 5 * time.Second
	dumpRetries = 5
)

type nlMsg struct {
	typ   uint16
	flags uint16
	seq   uint32
	data  []byte // after the header
}

// splitMessages cuts a datagram into netlink messages.
func splitMessages(b []byte) ([]nlMsg, error) {
	var out []nlMsg
	for len(b) >= nlmsgHdrLen {
		l := int(ne.Uint32(b[0:4]))
		if l < nlmsgHdrLen || l > len(b) {
			return out, fmt.Errorf("netlink message of length %d in %d bytes", l, len(b))
		}
		out = append(out, nlMsg{typ: ne.Uint16(b[4:6]), flags: ne.Uint16(b[6:8]), seq: ne.Uint32(b[8:12]), data: b[nlmsgHdrLen:l]})
		b = b[min(align4(l), len(b)):]
	}
	return out, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// attrs calls f for every route attribute in b.
func attrs(b []byte, f func(typ uint16, v []byte)) {
	for len(b) >= 4 {
		l := int(ne.Uint16(b[0:2]))
		if l < 4 || l > len(b) {
			return
		}
		f(ne.Uint16(b[2:4])&^uint16(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER), b[4:l])
		b = b[min(align4(l), len(b)):]
	}
}

// link is what a RTM_NEWLINK message says about a device.
type link struct {
	index int32
	name  string
	flags uint32
}

func (l link) running() bool {
	return l.flags&unix.IFF_UP != 0 && l.flags&(unix.IFF_RUNNING|unix.IFF_LOWER_UP) != 0
}

func parseLink(b []byte) (link, bool) {
	if len(b) < ifInfoLen {
		return link{}, false
	}
	l := link{index: int32(ne.Uint32(b[4:8])), flags: ne.Uint32(b[8:12])}
	attrs(b[ifInfoLen:], func(typ uint16, v []byte) {
		if typ == unix.IFLA_IFNAME {
			l.name = strings.TrimRight(string(v), "\x00")
		}
	})
	return l, true
}

// addr is one address of a device.
type addr struct {
	index  int32
	prefix netip.Prefix
	scope  uint8
	flags  uint32
}

// usable: an address other hosts can reach, not one still checked for
// duplicates or found duplicate.
func (a addr) usable() bool {
	return a.scope == unix.RT_SCOPE_UNIVERSE && a.flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0
}

func parseAddr(b []byte) (addr, bool) {
	if len(b) < ifAddrLen {
		return addr{}, false
	}
	a := addr{index: int32(ne.Uint32(b[4:8])), scope: b[3], flags: uint32(b[2])}
	bits := int(b[1])
	var local, address netip.Addr
	attrs(b[ifAddrLen:], func(typ uint16, v []byte) {
		switch typ {
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(v)
		case unix.IFA_ADDRESS:
			address, _ = netip.AddrFromSlice(v)
		case unix.IFA_FLAGS:
			if len(v) >= 4 {
				a.flags = ne.Uint32(v)
			}
		}
	})
	// On point-to-point links (PPPoE) IFA_ADDRESS is the far end.
	ip := local
	if !ip.IsValid() {
		ip = address
	}
	if !ip.IsValid() {
		return a, false
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return a, false
	}
	a.prefix = netip.PrefixFrom(ip, p.Bits())
	return a, true
}

// route is a default route (destination length 0).
type route struct {
	family  uint8
	table   uint32
	oifs    []int32
	gateway netip.Addr
}

// parseDefaultRoute returns the route if b is a unicast default route
// outside the local table.
func parseDefaultRoute(b []byte) (route, bool) {
	if len(b) < rtMsgLen {
		return route{}, false
	}
	r := route{family: b[0], table: uint32(b[4])}
	dstLen, typ := b[1], b[7]
	if dstLen != 0 || typ != unix.RTN_UNICAST {
		return r, false
	}
	attrs(b[rtMsgLen:], func(t uint16, v []byte) {
		switch t {
		case unix.RTA_TABLE:
			if len(v) >= 4 {
				r.table = ne.Uint32(v)
			}
		case unix.RTA_OIF:
			if len(v) >= 4 {
				r.oifs = append(r.oifs, int32(ne.Uint32(v)))
			}
		case unix.RTA_GATEWAY:
			r.gateway, _ = netip.AddrFromSlice(v)
		case unix.RTA_MULTIPATH:
			// struct rtnexthop: len u16, flags u8, hops u8, ifindex i32, attributes.
			for nh := v; len(nh) >= 8; {
				l := int(ne.Uint16(nh[0:2]))
				if l < 8 || l > len(nh) {
					break
				}
				r.oifs = append(r.oifs, int32(ne.Uint32(nh[4:8])))
				nh = nh[min(align4(l), len(nh)):]
			}
		}
	})
	if r.table == unix.RT_TABLE_LOCAL || len(r.oifs) == 0 {
		return r, false
	}
	return r, true
}

// rtnl is a NETLINK_ROUTE socket; with groups it also receives
// notifications.
type rtnl struct {
	fd  int
	seq uint32
	buf []byte
}

func openRtnl(groups uint32, flags int) (*rtnl, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|flags, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("rtnetlink socket: %w", err)
	}
	if flags&unix.SOCK_NONBLOCK == 0 {
		tv := unix.NsecToTimeval(dumpTimeout.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("rtnetlink socket: %w", err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind rtnetlink socket: %w", err)
	}
	return &rtnl{fd: fd, buf: make([]byte, 64<<10)}, nil
}

func (r *rtnl) Close() error { return unix.Close(r.fd) }

// dump sends a dump request of typ with the given fixed header and
// returns every message of the answer.
func (r *rtnl) dump(typ uint16, header []byte) ([]nlMsg, error) {
	for try := 0; ; try++ {
		msgs, err := r.dumpOnce(typ, header)
		if errors.Is(err, errDumpInterrupted) && try < dumpRetries {
			continue
		}
		return msgs, err
	}
}

var errDumpInterrupted = errors.New("netlink dump interrupted by a change")

func (r *rtnl) dumpOnce(typ uint16, header []byte) ([]nlMsg, error) {
	r.seq++
	req := make([]byte, nlmsgHdrLen, nlmsgHdrLen+len(header))
	ne.PutUint32(req[0:4], uint32(nlmsgHdrLen+len(header)))
	ne.PutUint16(req[4:6], typ)
	ne.PutUint16(req[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:12], r.seq)
	req = append(req, header...)
	if err := unix.Sendto(r.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var out []nlMsg
	interrupted := false
	for {
		n, _, err := unix.Recvfrom(r.fd, r.buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := splitMessages(r.buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.seq != r.seq {
				continue // a late answer to an earlier request
			}
			if m.flags&unix.NLM_F_DUMP_INTR != 0 {
				interrupted = true
			}
			switch m.typ {
			case unix.NLMSG_DONE:
				if interrupted {
					return nil, errDumpInterrupted
				}
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.data) >= 4 {
					if errno := int32(ne.Uint32(m.data[0:4])); errno != 0 {
						return nil, unix.Errno(-errno)
					}
				}
				return out, nil
			default:
				// Copy: the buffer is reused for the next datagram.
				m.data = slices.Clone(m.data)
				out = append(out, m)
			}
		}
	}
}

// snapshot is the part of the kernel's network state that tells the WAN.
type snapshot struct {
	links    map[int32]link
	addrs    []addr
	defaults []route
}

func (r *rtnl) snapshot() (*snapshot, error) {
	s := &snapshot{links: map[int32]link{}}
	msgs, err := r.dump(unix.RTM_GETLINK, make([]byte, ifInfoLen))
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	for _, m := range msgs {
		if l, ok := parseLink(m.data); ok && m.typ == unix.RTM_NEWLINK {
			s.links[l.index] = l
		}
	}
	if msgs, err = r.dump(unix.RTM_GETADDR, make([]byte, ifAddrLen)); err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, m := range msgs {
		if a, ok := parseAddr(m.data); ok && m.typ == unix.RTM_NEWADDR {
			s.addrs = append(s.addrs, a)
		}
	}
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		h := make([]byte, rtMsgLen)
		h[0] = family
		if msgs, err = r.dump(unix.RTM_GETROUTE, h); err != nil {
			return nil, fmt.Errorf("list routes: %w", err)
		}
		for _, m := range msgs {
			if rt, ok := parseDefaultRoute(m.data); ok && m.typ == unix.RTM_NEWROUTE {
				s.defaults = append(s.defaults, rt)
			}
		}
	}
	return s, nil
}

// Snapshot reads the links, addresses and default routes of the network
// namespace the caller runs in.
func readSnapshot() (*snapshot, error) {
	r, err := openRtnl(0, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.snapshot()
}

// defaultDevices names the devices holding a default route, per family.
func (s *snapshot) defaultDevices() (v4, v6 map[string]bool) {
	v4, v6 = map[string]bool{}, map[string]bool{}
	for _, r := range s.defaults {
		for _, oif := range r.oifs {
			l, ok := s.links[oif]
			if !ok {
				continue
			}
			if r.family == unix.AF_INET {
				v4[l.name] = true
			} else {
				v6[l.name] = true
			}
		}
	}
	return v4, v6
}
