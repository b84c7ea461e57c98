package device

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Messages are built and parsed field by field with encoding/binary rather
// than by casting structs onto byte buffers: the daemon runs on big-endian
// MIPS and on CPUs that fault on unaligned loads.

const (
	// rtnlTimeout bounds the wait for a kernel reply so that a lost reply
	// cannot hang start-up or shutdown forever.
	rtnlTimeout = 10 * time.Second

	// rtnlBufSize is larger than any single datagram the kernel sends on
	// a dump (it caps them at 32 KiB), so a reply is never truncated.
	rtnlBufSize = 64 << 10

	// rtnlDumpRetries is how often a dump is restarted when the kernel
	// reports that the table changed while it was being read.
	rtnlDumpRetries = 5

	nlaTypeMask = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
)

// errDumpInterrupted reports a dump whose result may be inconsistent
// because the table changed underneath it.
var errDumpInterrupted = errors.New("netlink dump interrupted by a concurrent change")

// rtnl is a NETLINK_ROUTE socket bound to the network namespace it was opened in.
// It is safe for concurrent use; requests are serialised.
type rtnl struct {
	mu   sync.Mutex
	fd   int // -1 once closed
	port uint32
	seq  uint32
	buf  []byte
}

// nlError is a failure reported by the kernel in an NLMSG_ERROR reply.
// It unwraps to the errno so callers can use errors.Is.
type nlError struct {
	errno unix.Errno
	msg   string // extended ack text, if the kernel gave one
}

func (e *nlError) Error() string {
	if e.msg == "" {
		return e.errno.Error()
	}
	return e.errno.Error() + " (" + e.msg + ")"
}

func (e *nlError) Unwrap() error { return e.errno }

func openRtnl() (*rtnl, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	// Best effort: these only shorten error replies and add the kernel's
	// explanation to them; older kernels without them still work.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)

	tv := unix.NsecToTimeval(rtnlTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set rtnetlink receive timeout: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind rtnetlink socket: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("rtnetlink socket name: %w", err)
	}
	nsa, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		unix.Close(fd)
		return nil, fmt.Errorf("rtnetlink socket name: unexpected address type %T", sa)
	}
	return &rtnl{fd: fd, port: nsa.Pid, buf: make([]byte, rtnlBufSize)}, nil
}

// Close releases the socket. Closing twice is harmless.
func (r *rtnl) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

func (r *rtnl) linkIndex(name string) (int, error) {
	if name == "" || len(name) >= unix.IFNAMSIZ || strings.ContainsRune(name, 0) {
		return 0, fmt.Errorf("look up link %q: invalid interface name", name)
	}
	b := ifInfoMsg{family: unix.AF_UNSPEC}.append(nil)
	b = appendAttr(b, unix.IFLA_IFNAME, append([]byte(name), 0))
	msgs, err := r.request(unix.RTM_GETLINK, 0, b)
	if err != nil {
		return 0, fmt.Errorf("look up link %q: %w", name, err)
	}
	for _, m := range msgs {
		if m.typ != unix.RTM_NEWLINK {
			continue
		}
		ifi, _, err := parseIfInfoMsg(m.data)
		if err != nil {
			return 0, fmt.Errorf("look up link %q: %w", name, err)
		}
		return int(ifi.index), nil
	}
	return 0, fmt.Errorf("look up link %q: kernel sent no link in its reply", name)
}

func (r *rtnl) setLinkUp(index int) error {
	if err := checkIndex(index); err != nil {
		return fmt.Errorf("set link up on ifindex %d: %w", index, err)
	}
	b := ifInfoMsg{family: unix.AF_UNSPEC, index: int32(index), flags: unix.IFF_UP, change: unix.IFF_UP}.append(nil)
	if _, err := r.request(unix.RTM_NEWLINK, 0, b); err != nil {
		return fmt.Errorf("set link up on ifindex %d: %w", index, err)
	}
	return nil
}

func (r *rtnl) setMTU(index int, mtu int) error {
	if err := checkIndex(index); err != nil {
		return fmt.Errorf("set mtu %d on ifindex %d: %w", mtu, index, err)
	}
	if mtu <= 0 || int64(mtu) > int64(^uint32(0)>>1) {
		return fmt.Errorf("set mtu %d on ifindex %d: mtu out of range", mtu, index)
	}
	b := ifInfoMsg{family: unix.AF_UNSPEC, index: int32(index)}.append(nil)
	b = appendAttrU32(b, unix.IFLA_MTU, uint32(mtu))
	if _, err := r.request(unix.RTM_NEWLINK, 0, b); err != nil {
		return fmt.Errorf("set mtu %d on ifindex %d: %w", mtu, index, err)
	}
	return nil
}

// addAddr assigns p (host part kept) to the link. An address that is
// already there is not an error.
func (r *rtnl) addAddr(index int, p netip.Prefix) error {
	b, err := addrRequest(index, p)
	if err != nil {
		return fmt.Errorf("add address %s on ifindex %d: %w", p, index, err)
	}
	_, err = r.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, b)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add address %s on ifindex %d: %w", p, index, err)
	}
	return nil
}

// delAddr removes p from the link. An address that is not there is not an error.
func (r *rtnl) delAddr(index int, p netip.Prefix) error {
	b, err := addrRequest(index, p)
	if err != nil {
		return fmt.Errorf("delete address %s on ifindex %d: %w", p, index, err)
	}
	_, err = r.request(unix.RTM_DELADDR, 0, b)
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("delete address %s on ifindex %d: %w", p, index, err)
	}
	return nil
}

// addrs lists every IPv4 and IPv6 address on the link, whatever its scope
// (so IPv6 link-local fe80:: addresses are included when the kernel made one).
func (r *rtnl) addrs(index int) ([]netip.Prefix, error) {
	if err := checkIndex(index); err != nil {
		return nil, fmt.Errorf("list addresses on ifindex %d: %w", index, err)
	}
	b := ifAddrMsg{family: unix.AF_UNSPEC}.append(nil)
	msgs, err := r.dump(unix.RTM_GETADDR, b)
	if err != nil {
		return nil, fmt.Errorf("list addresses on ifindex %d: %w", index, err)
	}
	var out []netip.Prefix
	for _, m := range msgs {
		if m.typ != unix.RTM_NEWADDR {
			continue
		}
		p, idx, err := parseAddrMsg(m.data)
		if err != nil {
			return nil, fmt.Errorf("list addresses on ifindex %d: %w", index, err)
		}
		if idx == index && p.IsValid() {
			out = append(out, p)
		}
	}
	return out, nil
}

// addRoute installs a static, link-scope route to dst (masked) through the
// link in the main table. A route that already exists is not an error.
//
// Note that for IPv4 an existing route to the same prefix with the same
// metric (such as the kernel's connected route of an address on the link)
// also counts as existing.
func (r *rtnl) addRoute(index int, dst netip.Prefix) error {
	if !dst.IsValid() {
		return fmt.Errorf("add route %s via ifindex %d: invalid prefix", dst, index)
	}
	dst = dst.Masked()
	if err := checkIndex(index); err != nil {
		return fmt.Errorf("add route %s via ifindex %d: %w", dst, index, err)
	}
	b := routeRequest(index, dst, unix.RT_SCOPE_LINK, unix.RTN_UNICAST)
	_, err := r.request(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, b)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add route %s via ifindex %d: %w", dst, index, err)
	}
	return nil
}

// delRoute removes the route addRoute installs. Only static routes are
// matched, so the kernel's own connected routes are left alone. A missing
// route is not an error.
func (r *rtnl) delRoute(index int, dst netip.Prefix) error {
	if !dst.IsValid() {
		return fmt.Errorf("delete route %s via ifindex %d: invalid prefix", dst, index)
	}
	dst = dst.Masked()
	if err := checkIndex(index); err != nil {
		return fmt.Errorf("delete route %s via ifindex %d: %w", dst, index, err)
	}
	// Scope "nowhere" and type 0 are the kernel's wildcards for a delete.
	b := routeRequest(index, dst, unix.RT_SCOPE_NOWHERE, 0)
	_, err := r.request(unix.RTM_DELROUTE, 0, b)
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete route %s via ifindex %d: %w", dst, index, err)
	}
	return nil
}

// routes lists the destinations of main-table IPv4 and IPv6 routes whose
// output interface is the link, whoever installed them. Multipath routes
// are not inspected.
func (r *rtnl) routes(index int) ([]netip.Prefix, error) {
	if err := checkIndex(index); err != nil {
		return nil, fmt.Errorf("list routes on ifindex %d: %w", index, err)
	}
	b := rtMsg{family: unix.AF_UNSPEC}.append(nil)
	msgs, err := r.dump(unix.RTM_GETROUTE, b)
	if err != nil {
		return nil, fmt.Errorf("list routes on ifindex %d: %w", index, err)
	}
	var out []netip.Prefix
	for _, m := range msgs {
		if m.typ != unix.RTM_NEWROUTE {
			continue
		}
		rt, err := parseRouteMsg(m.data)
		if err != nil {
			return nil, fmt.Errorf("list routes on ifindex %d: %w", index, err)
		}
		if rt.table == unix.RT_TABLE_MAIN && rt.oif == index && rt.dst.IsValid() && rt.flags&unix.RTM_F_CLONED == 0 {
			out = append(out, rt.dst)
		}
	}
	return out, nil
}

func checkIndex(index int) error {
	if index <= 0 || int64(index) > int64(^uint32(0)>>1) {
		return errors.New("invalid interface index")
	}
	return nil
}

// addrFamily returns the netlink family and the network-order bytes of a.
func addrFamily(a netip.Addr) (uint8, []byte) {
	if a.Is4() {
		b := a.As4()
		return unix.AF_INET, b[:]
	}
	b := a.As16()
	return unix.AF_INET6, b[:]
}

// addrRequest builds the body shared by RTM_NEWADDR and RTM_DELADDR.
func addrRequest(index int, p netip.Prefix) ([]byte, error) {
	if !p.IsValid() {
		return nil, errors.New("invalid prefix")
	}
	if err := checkIndex(index); err != nil {
		return nil, err
	}
	fam, ab := addrFamily(p.Addr())
	m := ifAddrMsg{family: fam, prefixLen: uint8(p.Bits()), index: uint32(index)}
	var flags uint32
	if fam == unix.AF_INET6 {
		// Skip duplicate address detection so the address can be used at
		// once instead of staying tentative for a second or more.
		flags = unix.IFA_F_NODAD
	}
	m.flags = uint8(flags)
	b := m.append(nil)
	b = appendAttr(b, unix.IFA_LOCAL, ab)
	b = appendAttr(b, unix.IFA_ADDRESS, ab)
	if flags != 0 {
		b = appendAttrU32(b, unix.IFA_FLAGS, flags)
	}
	return b, nil
}

// routeRequest builds the body of an RTM_NEWROUTE or RTM_DELROUTE for a
// static main-table route to dst, which must already be masked.
func routeRequest(index int, dst netip.Prefix, scope, typ uint8) []byte {
	fam, ab := addrFamily(dst.Addr())
	m := rtMsg{
		family:   fam,
		dstLen:   uint8(dst.Bits()),
		table:    unix.RT_TABLE_MAIN,
		protocol: unix.RTPROT_STATIC,
		scope:    scope,
		typ:      typ,
	}
	b := m.append(nil)
	if dst.Bits() > 0 {
		b = appendAttr(b, unix.RTA_DST, ab)
	}
	return appendAttrU32(b, unix.RTA_OIF, uint32(index))
}

// request performs a non-dump request and returns any data messages that
// came before the kernel's acknowledgement.
func (r *rtnl) request(typ, flags uint16, body []byte) ([]nlMsg, error) {
	return r.exchange(typ, flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK, body)
}

// dump performs a dump request, restarting it if the kernel flags the
// result as inconsistent.
func (r *rtnl) dump(typ uint16, body []byte) ([]nlMsg, error) {
	for i := 0; ; i++ {
		msgs, err := r.exchange(typ, unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_DUMP, body)
		if errors.Is(err, errDumpInterrupted) && i < rtnlDumpRetries {
			continue
		}
		return msgs, err
	}
}

// exchange sends one message and collects the replies carrying its
// sequence number. A plain request ends with the kernel's ack (an
// NLMSG_ERROR with code 0); a dump ends with NLMSG_DONE.
func (r *rtnl) exchange(typ, flags uint16, body []byte) ([]nlMsg, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return nil, os.ErrClosed
	}
	r.seq++
	seq := r.seq
	req := appendNlMsg(nil, nlMsg{typ: typ, flags: flags, seq: seq, port: r.port, data: body})
	for {
		err := unix.Sendto(r.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("send netlink request: %w", err)
		}
		break
	}

	dump := flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP
	var out []nlMsg
	interrupted := false
	for {
		n, _, rflags, from, err := unix.Recvmsg(r.fd, r.buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN || err == unix.EWOULDBLOCK {
			return nil, fmt.Errorf("no netlink reply within %v: %w", rtnlTimeout, err)
		}
		if err != nil {
			return nil, fmt.Errorf("receive netlink reply: %w", err)
		}
		if rflags&unix.MSG_TRUNC != 0 {
			return nil, errors.New("netlink reply truncated")
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // not from the kernel
		}
		msgs, err := parseNlMsgs(r.buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			// Replies to an earlier request that timed out can still
			// arrive; they carry an older sequence number.
			if m.seq != seq || m.port != r.port {
				continue
			}
			switch m.typ {
			case unix.NLMSG_ERROR:
				if err := parseNlError(m); err != nil {
					return nil, err
				}
				if !dump {
					return out, nil
				}
			case unix.NLMSG_DONE:
				if !dump {
					continue
				}
				if len(m.data) >= 4 {
					if code := int32(binary.NativeEndian.Uint32(m.data)); code != 0 {
						return nil, &nlError{errno: errnoOf(code)}
					}
				}
				if interrupted {
					return nil, errDumpInterrupted
				}
				return out, nil
			case unix.NLMSG_NOOP, unix.NLMSG_OVERRUN:
			default:
				if m.flags&unix.NLM_F_DUMP_INTR != 0 {
					interrupted = true
				}
				// The receive buffer is reused, so keep a copy.
				m.data = append([]byte(nil), m.data...)
				out = append(out, m)
			}
		}
	}
}

// nlMsg is one netlink message: the header fields and the payload after it.
type nlMsg struct {
	typ   uint16
	flags uint16
	seq   uint32
	port  uint32
	data  []byte
}

func nlAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

func appendPad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// appendNlMsg encodes m (header plus payload, padded) onto b.
func appendNlMsg(b []byte, m nlMsg) []byte {
	b = binary.NativeEndian.AppendUint32(b, uint32(unix.SizeofNlMsghdr+len(m.data)))
	b = binary.NativeEndian.AppendUint16(b, m.typ)
	b = binary.NativeEndian.AppendUint16(b, m.flags)
	b = binary.NativeEndian.AppendUint32(b, m.seq)
	b = binary.NativeEndian.AppendUint32(b, m.port)
	b = append(b, m.data...)
	return appendPad(b)
}

// parseNlMsgs splits a datagram into messages. Payloads alias b.
func parseNlMsgs(b []byte) ([]nlMsg, error) {
	var out []nlMsg
	for len(b) >= unix.SizeofNlMsghdr {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		if l < unix.SizeofNlMsghdr || l > len(b) {
			return nil, fmt.Errorf("malformed netlink message: length %d with %d bytes left", l, len(b))
		}
		out = append(out, nlMsg{
			typ:   binary.NativeEndian.Uint16(b[4:6]),
			flags: binary.NativeEndian.Uint16(b[6:8]),
			seq:   binary.NativeEndian.Uint32(b[8:12]),
			port:  binary.NativeEndian.Uint32(b[12:16]),
			data:  b[unix.SizeofNlMsghdr:l],
		})
		b = b[min(nlAlign(l), len(b)):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("malformed netlink message: %d trailing bytes", len(b))
	}
	return out, nil
}

func errnoOf(code int32) unix.Errno {
	if code < 0 {
		code = -code
	}
	return unix.Errno(code)
}

// parseNlError decodes an NLMSG_ERROR payload: nil for an ack, otherwise
// the errno and, with extended acks, the kernel's message.
func parseNlError(m nlMsg) error {
	if len(m.data) < 4 {
		return errors.New("malformed netlink error message")
	}
	code := int32(binary.NativeEndian.Uint32(m.data[0:4]))
	if code == 0 {
		return nil
	}
	e := &nlError{errno: errnoOf(code)}
	if m.flags&unix.NLM_F_ACK_TLVS == 0 || len(m.data) < 4+unix.SizeofNlMsghdr {
		return e
	}
	// The echoed request follows the code: only its header when capped,
	// otherwise the whole message as its header's length says.
	off := 4 + unix.SizeofNlMsghdr
	if m.flags&unix.NLM_F_CAPPED == 0 {
		off = 4 + nlAlign(int(binary.NativeEndian.Uint32(m.data[4:8])))
	}
	if off > len(m.data) {
		return e
	}
	attrs, err := parseAttrs(m.data[off:])
	if err != nil {
		return e
	}
	for _, a := range attrs {
		if a.typ == unix.NLMSGERR_ATTR_MSG {
			e.msg = strings.TrimRight(string(a.data), "\x00")
		}
	}
	return e
}

// nlAttr is one route attribute; typ has the flag bits stripped.
type nlAttr struct {
	typ  uint16
	data []byte
}

// appendAttr encodes one attribute; the length field excludes the padding.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(unix.SizeofRtAttr+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	return appendPad(b)
}

func appendAttrU32(b []byte, typ uint16, v uint32) []byte {
	return appendAttr(b, typ, binary.NativeEndian.AppendUint32(nil, v))
}

// parseAttrs splits an attribute stream. Payloads alias b.
func parseAttrs(b []byte) ([]nlAttr, error) {
	var out []nlAttr
	for len(b) >= unix.SizeofRtAttr {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		if l < unix.SizeofRtAttr || l > len(b) {
			return nil, fmt.Errorf("malformed netlink attribute: length %d with %d bytes left", l, len(b))
		}
		out = append(out, nlAttr{
			typ:  binary.NativeEndian.Uint16(b[2:4]) & nlaTypeMask,
			data: b[unix.SizeofRtAttr:l],
		})
		b = b[min(nlAlign(l), len(b)):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("malformed netlink attribute: %d trailing bytes", len(b))
	}
	return out, nil
}

// ifInfoMsg mirrors struct ifinfomsg (16 bytes).
type ifInfoMsg struct {
	family uint8
	typ    uint16
	index  int32
	flags  uint32
	change uint32
}

func (m ifInfoMsg) append(b []byte) []byte {
	b = append(b, m.family, 0)
	b = binary.NativeEndian.AppendUint16(b, m.typ)
	b = binary.NativeEndian.AppendUint32(b, uint32(m.index))
	b = binary.NativeEndian.AppendUint32(b, m.flags)
	return binary.NativeEndian.AppendUint32(b, m.change)
}

// parseIfInfoMsg returns the header and the attribute bytes after it.
func parseIfInfoMsg(b []byte) (ifInfoMsg, []byte, error) {
	if len(b) < unix.SizeofIfInfomsg {
		return ifInfoMsg{}, nil, errors.New("short ifinfomsg")
	}
	return ifInfoMsg{
		family: b[0],
		typ:    binary.NativeEndian.Uint16(b[2:4]),
		index:  int32(binary.NativeEndian.Uint32(b[4:8])),
		flags:  binary.NativeEndian.Uint32(b[8:12]),
		change: binary.NativeEndian.Uint32(b[12:16]),
	}, b[unix.SizeofIfInfomsg:], nil
}

// ifAddrMsg mirrors struct ifaddrmsg (8 bytes).
type ifAddrMsg struct {
	family    uint8
	prefixLen uint8
	flags     uint8
	scope     uint8
	index     uint32
}

func (m ifAddrMsg) append(b []byte) []byte {
	b = append(b, m.family, m.prefixLen, m.flags, m.scope)
	return binary.NativeEndian.AppendUint32(b, m.index)
}

func parseIfAddrMsg(b []byte) (ifAddrMsg, []byte, error) {
	if len(b) < unix.SizeofIfAddrmsg {
		return ifAddrMsg{}, nil, errors.New("short ifaddrmsg")
	}
	return ifAddrMsg{
		family:    b[0],
		prefixLen: b[1],
		flags:     b[2],
		scope:     b[3],
		index:     binary.NativeEndian.Uint32(b[4:8]),
	}, b[unix.SizeofIfAddrmsg:], nil
}

// parseAddrMsg decodes an RTM_NEWADDR payload into the address with its
// prefix length and the link index. Other families yield an invalid prefix.
func parseAddrMsg(b []byte) (netip.Prefix, int, error) {
	m, rest, err := parseIfAddrMsg(b)
	if err != nil {
		return netip.Prefix{}, 0, err
	}
	attrs, err := parseAttrs(rest)
	if err != nil {
		return netip.Prefix{}, 0, err
	}
	// IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer
	// on point-to-point links and is the only one IPv6 sends.
	var local, address []byte
	for _, a := range attrs {
		switch a.typ {
		case unix.IFA_LOCAL:
			local = a.data
		case unix.IFA_ADDRESS:
			address = a.data
		}
	}
	if local == nil {
		local = address
	}
	a, ok := addrFromFamily(m.family, local)
	if !ok {
		return netip.Prefix{}, int(m.index), nil
	}
	return netip.PrefixFrom(a, int(m.prefixLen)), int(m.index), nil
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

// rtMsg mirrors struct rtmsg (12 bytes).
type rtMsg struct {
	family   uint8
	dstLen   uint8
	srcLen   uint8
	tos      uint8
	table    uint8
	protocol uint8
	scope    uint8
	typ      uint8
	flags    uint32
}

func (m rtMsg) append(b []byte) []byte {
	b = append(b, m.family, m.dstLen, m.srcLen, m.tos, m.table, m.protocol, m.scope, m.typ)
	return binary.NativeEndian.AppendUint32(b, m.flags)
}

func parseRtMsg(b []byte) (rtMsg, []byte, error) {
	if len(b) < unix.SizeofRtMsg {
		return rtMsg{}, nil, errors.New("short rtmsg")
	}
	return rtMsg{
		family:   b[0],
		dstLen:   b[1],
		srcLen:   b[2],
		tos:      b[3],
		table:    b[4],
		protocol: b[5],
		scope:    b[6],
		typ:      b[7],
		flags:    binary.NativeEndian.Uint32(b[8:12]),
	}, b[unix.SizeofRtMsg:], nil
}

// routeInfo is the part of an RTM_NEWROUTE message wgd needs.
type routeInfo struct {
	dst      netip.Prefix // invalid for families other than IPv4/IPv6
	gateway  netip.Addr   // invalid when on-link
	table    uint32
	oif      int
	priority uint32
	protocol uint8
	scope    uint8
	typ      uint8
	flags    uint32
}

func parseRouteMsg(b []byte) (routeInfo, error) {
	m, rest, err := parseRtMsg(b)
	if err != nil {
		return routeInfo{}, err
	}
	attrs, err := parseAttrs(rest)
	if err != nil {
		return routeInfo{}, err
	}
	ri := routeInfo{table: uint32(m.table), protocol: m.protocol, scope: m.scope, typ: m.typ, flags: m.flags}
	var dst []byte
	for _, a := range attrs {
		switch a.typ {
		case unix.RTA_DST:
			dst = a.data
		case unix.RTA_OIF:
			if len(a.data) == 4 {
				ri.oif = int(binary.NativeEndian.Uint32(a.data))
			}
		case unix.RTA_PRIORITY:
			if len(a.data) == 4 {
				ri.priority = binary.NativeEndian.Uint32(a.data)
			}
		case unix.RTA_GATEWAY:
			if gw, ok := addrFromFamily(m.family, a.data); ok {
				ri.gateway = gw
			}
		case unix.RTA_TABLE:
			// Table ids above 255 only fit here.
			if len(a.data) == 4 {
				ri.table = binary.NativeEndian.Uint32(a.data)
			}
		}
	}
	if dst == nil {
		// No destination attribute means the default route.
		switch m.family {
		case unix.AF_INET:
			dst = make([]byte, 4)
		case unix.AF_INET6:
			dst = make([]byte, 16)
		}
	}
	if a, ok := addrFromFamily(m.family, dst); ok {
		ri.dst = netip.PrefixFrom(a, int(m.dstLen))
	}
	return ri, nil
}
