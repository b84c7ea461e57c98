package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"wgd/api"
)

const maxRequest = 64 << 10

// Connection bounds of the control socket: at most maxControlConns are
// served at a time (more wait in the kernel's queue), and a request must
// arrive within requestTimeout.
const (
	maxControlConns = 32
	requestTimeout  = 5 * time.Second
	controlTimeout  = 30 * time.Second
)

// handler answers one command; args is raw JSON, possibly empty.
type handler func(ctx context.Context, args json.RawMessage) (any, error)

// listenControl opens the control socket (mode 0600; serveConn checks
// the caller's uid). A socket left by a crashed daemon is replaced; a
// live one means another daemon runs.
func listenControl(path string) (*net.UnixListener, error) {
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("another wgd is running (control socket %s answers)", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	os.Remove(path)
	old := syscall.Umask(0o077) // no window in which others may connect
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return l, nil
}

// serveControl answers requests until l is closed, and returns once
// every connection is: those still open when ctx ends are cut.
func serveControl(ctx context.Context, l *net.UnixListener, handlers map[string]handler, log logger) {
	var conns sync.WaitGroup
	defer conns.Wait()
	slots := make(chan struct{}, maxControlConns)
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer func() { <-slots }()
			defer c.Close()
			if err := serveConn(ctx, c, handlers); err != nil {
				log.Debug("control request", "error", err)
			}
		}()
	}
}

type logger interface {
	Debug(msg string, args ...any)
}

// refused is what a client of another uid than permitted's is told.
const refused = "permission denied: the control socket is for root and the daemon's own user only"

// permitted tells whether a client of uid may use the control socket of
// a daemon running as self: root, or self (root too in service; the
// tests' own user when they run the daemon unprivileged).
func permitted(uid, self uint32) bool { return uid == 0 || uid == self }

func serveConn(ctx context.Context, c *net.UnixConn, handlers map[string]handler) error {
	c.SetDeadline(time.Now().Add(controlTimeout))
	c.SetReadDeadline(time.Now().Add(requestTimeout))
	defer context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })() // Run's end cuts it short
	enc := json.NewEncoder(c)
	fail := func(err error) error {
		enc.Encode(api.Response{Version: api.ProtocolVersion, Error: err.Error()})
		return err
	}
	// Read before refusing, so that a refused client reads the reason
	// instead of a broken pipe; nothing of the request is acted on.
	line, err := bufio.NewReaderSize(io.LimitReader(c, maxRequest), 4096).ReadBytes('\n')
	if uid, err := peerUID(c); err != nil || !permitted(uid, uint32(os.Geteuid())) {
		return fail(errors.New(refused))
	}
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return fail(fmt.Errorf("bad request: %w", err))
	}
	var req api.Request
	if err := json.Unmarshal(line, &req); err != nil {
		return fail(fmt.Errorf("bad request: %w", err))
	}
	if req.Version != api.ProtocolVersion {
		return fail(fmt.Errorf("protocol version %d is not supported (this wgd speaks %d)", req.Version, api.ProtocolVersion))
	}
	h, ok := handlers[req.Command]
	if !ok {
		return fail(fmt.Errorf("unknown command %q", req.Command))
	}
	result, err := h(ctx, req.Args)
	if err != nil {
		return fail(err)
	}
	raw, err := json.Marshal(result)
	if err != nil {
		return fail(err)
	}
	return enc.Encode(api.Response{Version: api.ProtocolVersion, OK: true, Result: raw})
}

func peerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err == nil {
		err = credErr
	}
	if err != nil {
		return 0, err
	}
	return cred.Uid, nil
}
