// Package api holds what crosses wgd's control socket: the request and
// response envelope and every command's arguments and answers (status,
// reload, ifup/ifdown, hotplug, forget). The daemon, the command line,
// metrics, doctor, the tests and, through `wgd status --json`, LuCI's
// rpcd plugin all read these types; nothing else describes the wire.
//
// Compatibility rule. Readers of another release must go on working:
//   - a field is only ever added, never renamed, retyped or given
//     another meaning; a field no longer filled stays, empty;
//   - readers ignore fields they do not know (encoding/json does);
//   - a change that cannot follow these rules is a new ProtocolVersion.
//
// testdata holds a golden answer of each kind; the test decodes them,
// refusing unknown fields, and encodes them back byte for byte, so a
// rename, a removal or a retyping fails it. A new field is added to the
// golden files with the change.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// DefaultSocket is the control socket of the daemon.
const DefaultSocket = "/var/run/wgd.sock"

// ProtocolVersion is the version of the control protocol. A request of
// another version is refused, so an old CLI never misreads a new daemon.
const ProtocolVersion = 1

// Request is one control request: one JSON object per connection.
type Request struct {
	Version int             `json:"version"`
	Command string          `json:"command"`
	Args    json.RawMessage `json:"args,omitempty"`
}

// Response answers a Request.
type Response struct {
	Version int             `json:"version"`
	OK      bool            `json:"ok"`
	Error   string          `json:"error,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
}

// maxAnswer bounds what Call reads of an answer.
const maxAnswer = 16 << 20

// Call sends one request to the daemon at socket and decodes its result
// into result (which may be nil).
func Call(ctx context.Context, socket, command string, args, result any) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("permission denied: the control socket %s is for root and the daemon's own user only", socket)
	}
	if err != nil {
		return fmt.Errorf("wgd is not running (control socket %s): %w", socket, err)
	}
	defer c.Close()
	if deadline, ok := ctx.Deadline(); ok {
		c.SetDeadline(deadline)
	}
	req := Request{Version: ProtocolVersion, Command: command}
	if args != nil {
		if req.Args, err = json.Marshal(args); err != nil {
			return err
		}
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return fmt.Errorf("send to wgd: %w", err)
	}
	var resp Response
	if err := json.NewDecoder(io.LimitReader(c, maxAnswer)).Decode(&resp); err != nil {
		return fmt.Errorf("read answer of wgd: %w", err)
	}
	if !resp.OK {
		return errors.New(resp.Error)
	}
	if result != nil && resp.Result != nil {
		return json.Unmarshal(resp.Result, result)
	}
	return nil
}
