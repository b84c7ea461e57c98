package peers

import (
	"context"
	"errors"
	"fmt"
	"net"

	"wgd/api"
	"wgd/config"
	"wgd/device"
	"wgd/hotplug"
	"wgd/internal/rtnl"
)

// Daemon is what the peer commands ask of the running wgd. Socket asks
// it over its control socket; tests answer for it. This is the one file
// of the package that names the control socket's types (package api).
type Daemon interface {
	// Status is what the daemon runs; ErrNotRunning when no wgd runs.
	Status(ctx context.Context) (*api.Status, error)
	// Reload applies the configuration files again.
	Reload(ctx context.Context) (*api.ReloadResult, error)
	// Forget drops a removed peer's traffic totals and tells whether
	// there were any.
	Forget(ctx context.Context, iface string, key config.Key) (bool, error)
}

// ErrNotRunning says that no wgd answers: the files alone count.
var ErrNotRunning = errors.New("wgd is not running")

// Socket is the running wgd behind the control socket at this path.
type Socket string

func (s Socket) Status(ctx context.Context) (*api.Status, error) {
	var st api.Status
	if err := s.call(ctx, "status", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func (s Socket) Reload(ctx context.Context) (*api.ReloadResult, error) {
	var res api.ReloadResult
	if err := s.call(ctx, "reload", nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

func (s Socket) Forget(ctx context.Context, iface string, key config.Key) (bool, error) {
	var ans api.ForgetAnswer
	err := s.call(ctx, "forget", api.ForgetArgs{Interface: iface, PublicKey: key}, &ans)
	return ans.Forgotten, err
}

// call tells a daemon that is not there (nothing to dial) from one that
// failed.
func (s Socket) call(ctx context.Context, command string, args, result any) error {
	err := api.Call(ctx, string(s), command, args, result)
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("%w (control socket %s): %v", ErrNotRunning, s, op.Err)
	}
	return err
}

// PeerStatus is what the running wgd reports of a peer it runs.
type PeerStatus = api.PeerStatus

// Live are the peers the running wgd runs, by interface and key.
type Live map[liveKey]PeerStatus

type liveKey struct {
	iface string
	key   config.Key
}

// LiveOf reads the peers of the interfaces st has up: the status lists
// the configured peers of an interface that is down too (netifd did not
// ask for it, or it failed), and those do not run.
func LiveOf(st *api.Status) Live {
	out := Live{}
	for _, i := range st.Interfaces {
		if !i.Up {
			continue
		}
		for _, p := range i.Peers {
			out[liveKey{i.Name, p.PublicKey}] = p
		}
	}
	return out
}

// Of is what the running wgd reports of p; false when it does not run p.
func (l Live) Of(p Peer) (PeerStatus, bool) {
	if p.PublicKey.IsZero() {
		return PeerStatus{}, false
	}
	s, ok := l[liveKey{p.Interface, p.PublicKey}]
	return s, ok
}

// verify reads in st how the peer with key runs on iface after a reload
// that wanted it running (want) or not.
func verify(st *api.Status, iface string, key config.Key, want bool) (Outcome, error) {
	running, up := false, false
	for _, i := range st.Interfaces {
		if i.Name != iface {
			continue
		}
		up = i.Up && i.Error == ""
		for _, p := range i.Peers {
			running = running || up && p.PublicKey == key
		}
	}
	switch {
	case running == want && want:
		return PeerLive, nil
	case running == want:
		return PeerOff, nil
	case want && !up:
		return InterfaceDown, nil
	case want:
		return PeerNotRun, nil
	}
	return 0, fmt.Errorf("wgd reloaded, but %s still runs the peer", iface)
}

// runningMTU is the MTU iface runs with in st (0: not running), else
// the automatic MTU of cfg's interfaces for the WAN as it is now.
func runningMTU(st *api.Status, cfg *config.Config, iface string) int {
	if st != nil {
		for _, i := range st.Interfaces {
			if i.Name == iface && i.Up {
				return i.MTU
			}
		}
	}
	if c := cfg.Interface(iface); c == nil || c.MTU != 0 {
		return 0 // an explicit MTU goes to the client as it is
	}
	m, _ := wanAutoMTU(cfg)
	return m
}

// wanAutoMTU is the automatic MTU of cfg's interfaces for the WAN as the
// kernel shows it now, for commands that run without the daemon; false
// when no WAN link is known.
func wanAutoMTU(cfg *config.Config) (int, bool) {
	s, err := rtnl.ReadSnapshot()
	if err != nil {
		return 0, false
	}
	fits, ok := hotplug.TunnelMTU(hotplug.WANLinks(s, hotplug.ConfigWAN(cfg)))
	if !ok {
		return 0, false
	}
	return device.AutoMTU(fits), true
}
