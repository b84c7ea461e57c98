package rtnl

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Error is a failure the kernel reported in an NLMSG_ERROR or NLMSG_DONE
// reply. It unwraps to the errno, so callers can use errors.Is.
type Error struct {
	Errno   unix.Errno
	Message string // the kernel's explanation (extended ack), if it gave one
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Errno.Error()
	}
	return e.Errno.Error() + " (" + e.Message + ")"
}

func (e *Error) Unwrap() error { return e.Errno }

// ErrDumpInterrupted reports a dump whose result may be inconsistent
// because the table changed while it was being read.
var ErrDumpInterrupted = errors.New("netlink dump interrupted by a concurrent change")

func errnoOf(code int32) unix.Errno {
	if code < 0 {
		code = -code
	}
	return unix.Errno(code)
}

// parseError decodes an NLMSG_ERROR payload: nil for an ack, otherwise an
// *Error with, given extended acks, the kernel's message.
func parseError(m Message) error {
	if len(m.Data) < 4 {
		return malformed("error message of %d bytes", len(m.Data))
	}
	code := int32(ne.Uint32(m.Data[0:4]))
	if code == 0 {
		return nil
	}
	e := &Error{Errno: errnoOf(code)}
	if m.Flags&unix.NLM_F_ACK_TLVS == 0 || len(m.Data) < 4+headerLen {
		return e
	}
	// The echoed request follows the code: only its header when capped,
	// otherwise the whole message as its header's length says.
	off := 4 + headerLen
	if m.Flags&unix.NLM_F_CAPPED == 0 {
		l := ne.Uint32(m.Data[4:8])
		if uint64(l) > uint64(len(m.Data)) {
			return e
		}
		off = 4 + align(int(l))
	}
	if off > len(m.Data) {
		return e
	}
	attrs, _ := ParseAttrs(m.Data[off:])
	for _, a := range attrs {
		if a.Type == unix.NLMSGERR_ATTR_MSG {
			e.Message = a.Text()
		}
	}
	return e
}
