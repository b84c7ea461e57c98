package dataplane

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// FloodKind is the shape of the junk a flood sends.
type FloodKind int

const (
	// JunkHandshake: 148-byte datagrams shaped like handshake initiations
	// (type 1) with random content, so their MACs are wrong: what anyone
	// without a key can send at a listen port.
	JunkHandshake FloodKind = iota
	// JunkTransport: MTU-sized datagrams shaped like transport data (type 4)
	// for random receiver indexes no session has.
	JunkTransport
)

func (k FloodKind) String() string {
	if k == JunkTransport {
		return "junk transport"
	}
	return "junk handshake"
}

// datagram makes one junk datagram of kind k.
func (k FloodKind) datagram() ([]byte, error) {
	size, typ := 148, uint32(1)
	if k == JunkTransport {
		size, typ = 1452, 4
	}
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	binary.LittleEndian.PutUint32(b, typ)
	return b, nil
}

// Flood sends junk datagrams of kind to dst from inside the network
// namespace ns (a name under /var/run/netns), until max datagrams are sent,
// d has passed or ctx ends, whichever is first. It returns the number sent.
// Only ever point it at an address inside namespaces the caller made.
func Flood(ctx context.Context, ns string, dst netip.AddrPort, kind FloodKind, max int, d time.Duration) (int, error) {
	if !dst.Addr().Is4() {
		return 0, errors.New("flood: IPv4 destinations only")
	}
	var c *net.UDPConn
	err := inNetns(ns, func() error {
		var err error
		c, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
		return err
	})
	if err != nil {
		return 0, err
	}
	defer c.Close()

	// A few distinct datagrams, sent again and again.
	var junk [16][]byte
	for i := range junk {
		if junk[i], err = kind.datagram(); err != nil {
			return 0, err
		}
	}
	deadline := time.Now().Add(d)
	sent := 0
	for sent < max && ctx.Err() == nil && time.Now().Before(deadline) {
		for i := 0; i < 256 && sent < max; i++ {
			if _, err := c.Write(junk[sent%len(junk)]); err != nil {
				// The receiver's socket buffer is full, or it is not
				// listening yet: a flood does not care.
				if errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.ENOBUFS) {
					continue
				}
				return sent, err
			}
			sent++
		}
	}
	return sent, nil
}

// inNetns runs f on an OS thread moved into the network namespace ns:
// sockets f opens belong to ns and stay there when used from any thread.
func inNetns(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is handed back only once it is in its own namespace
		// again; otherwise it ends with this goroutine.
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = f()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
