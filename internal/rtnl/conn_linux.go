package rtnl

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// timeout bounds the wait for a kernel reply so that a lost reply
	// cannot hang start-up or shutdown forever.
	timeout = 10 * time.Second

	// bufSize is larger than any single datagram the kernel sends on a
	// dump (it caps them at 32 KiB), so a reply is never truncated.
	bufSize = 64 << 10

	// dumpRetries is how often a dump is restarted when the kernel
	// reports that the table changed while it was being read.
	dumpRetries = 5
)

// Conn is a NETLINK_ROUTE socket for requests and dumps, bound to the
// network namespace it was opened in. It is safe for concurrent use;
// requests are serialised.
type Conn struct {
	mu   sync.Mutex
	fd   int // -1 once closed
	port uint32
	seq  uint32
	buf  []byte
}

// Open opens a socket in the caller's network namespace.
func Open() (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	// Best effort: these only shorten error replies and add the kernel's
	// explanation to them; older kernels without them still work.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)

	tv := unix.NsecToTimeval(timeout.Nanoseconds())
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
	return &Conn{fd: fd, port: nsa.Pid, buf: make([]byte, bufSize)}, nil
}

// Close releases the socket. Closing twice is harmless.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// Request sends a request of typ with the payload body and waits for the
// kernel's acknowledgement. It returns the data messages that came before
// the acknowledgement (the answer to a get), or an *Error.
func (c *Conn) Request(typ, flags uint16, body []byte) ([]Message, error) {
	return c.exchange(typ, flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK, body)
}

// Dump sends a dump request of typ with the payload body (a header that
// may filter) and returns every data message of the answer. A dump the
// kernel flags as inconsistent is restarted a few times before it fails
// with ErrDumpInterrupted.
func (c *Conn) Dump(typ uint16, body []byte) ([]Message, error) {
	for i := 0; ; i++ {
		msgs, err := c.exchange(typ, unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_DUMP, body)
		if errors.Is(err, ErrDumpInterrupted) && i < dumpRetries {
			continue
		}
		return msgs, err
	}
}

// exchange sends one message and collects the replies carrying its
// sequence number. A plain request ends with the kernel's ack (an
// NLMSG_ERROR with code 0); a dump ends with NLMSG_DONE.
func (c *Conn) exchange(typ, flags uint16, body []byte) ([]Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return nil, os.ErrClosed
	}
	c.seq++
	seq := c.seq
	req := AppendMessage(nil, Message{Type: typ, Flags: flags, Seq: seq, Port: c.port, Data: body})
	for {
		err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("send netlink request: %w", err)
		}
		break
	}

	dump := flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP
	var out []Message
	interrupted := false
	for {
		n, _, rflags, from, err := unix.Recvmsg(c.fd, c.buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN || err == unix.EWOULDBLOCK {
			return nil, fmt.Errorf("no netlink reply within %v: %w", timeout, err)
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
		msgs, err := ParseMessages(c.buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			// Replies to an earlier request that timed out can still
			// arrive; they carry an older sequence number.
			if m.Seq != seq || m.Port != c.port {
				continue
			}
			// The kernel may flag any message of a dump, NLMSG_DONE too.
			if m.Flags&unix.NLM_F_DUMP_INTR != 0 {
				interrupted = true
			}
			switch m.Type {
			case unix.NLMSG_ERROR:
				if err := parseError(m); err != nil {
					return nil, err
				}
				if !dump {
					return out, nil
				}
			case unix.NLMSG_DONE:
				if !dump {
					continue
				}
				if len(m.Data) >= 4 {
					if code := int32(ne.Uint32(m.Data)); code != 0 {
						return nil, &Error{Errno: errnoOf(code)}
					}
				}
				if interrupted {
					return nil, ErrDumpInterrupted
				}
				return out, nil
			case unix.NLMSG_NOOP, unix.NLMSG_OVERRUN:
			default:
				// The receive buffer is reused, so keep a copy.
				m.Data = append([]byte(nil), m.Data...)
				out = append(out, m)
			}
		}
	}
}
