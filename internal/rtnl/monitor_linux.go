package rtnl

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Monitor is a NETLINK_ROUTE socket subscribed to notification groups.
type Monitor struct {
	f      *os.File
	raw    syscall.RawConn
	buf    []byte
	closed atomic.Bool
}

// Listen subscribes to the RTMGRP_* groups of the caller's network
// namespace.
func Listen(groups uint32) (*Monitor, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind rtnetlink socket: %w", err)
	}
	// A pollable file: a blocked Receive parks its goroutine, not a thread,
	// and Close wakes it.
	f := os.NewFile(uintptr(fd), "rtnetlink")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("rtnetlink socket: %w", err)
	}
	return &Monitor{f: f, raw: raw, buf: make([]byte, bufSize)}, nil
}

// Receive waits for the next datagram of notifications from the kernel
// and returns its messages, which alias a buffer the next Receive reuses.
// Messages of a datagram that is malformed after some point come with an
// error wrapping ErrMalformed. When notifications were lost because the
// socket's buffer overflowed, the error wraps unix.ENOBUFS: whatever they
// said must be read afresh. After Close it returns os.ErrClosed. One
// goroutine at a time may receive.
func (m *Monitor) Receive() ([]Message, error) {
	for {
		var n int
		var from unix.Sockaddr
		var rerr error
		err := m.raw.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), m.buf, 0)
			return rerr != unix.EAGAIN
		})
		if m.closed.Load() {
			return nil, os.ErrClosed
		}
		if err != nil {
			return nil, fmt.Errorf("receive netlink notifications: %w", err)
		}
		switch {
		case rerr == unix.EINTR:
			continue
		case rerr == unix.ENOBUFS:
			return nil, fmt.Errorf("netlink notifications lost: %w", rerr)
		case rerr != nil:
			return nil, fmt.Errorf("receive netlink notifications: %w", rerr)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // not from the kernel
		}
		return ParseMessages(m.buf[:n])
	}
}

// Close releases the socket and ends a Receive that is waiting. Closing
// twice is harmless.
func (m *Monitor) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	return m.f.Close()
}
