// Package rtnl speaks rtnetlink (NETLINK_ROUTE): the wire format of its
// messages, attributes and link, address and route headers; a socket for
// requests and dumps; a socket for notifications; and the link, address
// and route operations wgd needs.
//
// Messages are built and parsed field by field with encoding/binary in the
// host's byte order, never by casting structs onto byte buffers: wgd runs
// on big-endian MIPS, whose CPUs also fault on unaligned loads.
package rtnl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"golang.org/x/sys/unix"
)

var ne = binary.NativeEndian

const headerLen = unix.SizeofNlMsghdr

// ErrMalformed is wrapped by every error about bytes that are not a
// well-formed message, attribute or header.
var ErrMalformed = errors.New("malformed netlink data")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Message is one netlink message: its header fields and the payload after
// the header.
type Message struct {
	Type  uint16
	Flags uint16
	Seq   uint32
	Port  uint32 // nlmsg_pid: the sending socket, 0 for the kernel
	Data  []byte
}

// align rounds n up to the 4-byte boundary messages and attributes keep.
func align(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// pad appends the zero bytes that align an item of length n.
func pad(b []byte, n int) []byte {
	for range align(n) - n {
		b = append(b, 0)
	}
	return b
}

// AppendMessage encodes m, header and padded payload, onto b.
func AppendMessage(b []byte, m Message) []byte {
	n := headerLen + len(m.Data)
	if uint64(n) > math.MaxUint32 {
		panic("rtnl: message too long")
	}
	b = ne.AppendUint32(b, uint32(n))
	b = ne.AppendUint16(b, m.Type)
	b = ne.AppendUint16(b, m.Flags)
	b = ne.AppendUint32(b, m.Seq)
	b = ne.AppendUint32(b, m.Port)
	b = append(b, m.Data...)
	return pad(b, n)
}

// ParseMessages splits a datagram into messages. Payloads alias b. On
// malformed input it returns the messages before the fault with an error
// wrapping ErrMalformed. The last message may lack its padding.
func ParseMessages(b []byte) ([]Message, error) {
	var out []Message
	for len(b) > 0 {
		if len(b) < headerLen {
			return out, malformed("%d bytes left, less than a message header", len(b))
		}
		l := ne.Uint32(b[0:4])
		if l < headerLen || uint64(l) > uint64(len(b)) {
			return out, malformed("message length %d with %d bytes left", l, len(b))
		}
		n := int(l)
		out = append(out, Message{
			Type:  ne.Uint16(b[4:6]),
			Flags: ne.Uint16(b[6:8]),
			Seq:   ne.Uint32(b[8:12]),
			Port:  ne.Uint32(b[12:16]),
			// Capped, so appending to one payload cannot overwrite the next.
			Data: b[headerLen:n:n],
		})
		b = b[min(align(n), len(b)):]
	}
	return out, nil
}
