package peers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"wgd/config"
	"wgd/uci"
)

// Manager edits the peers in the network file of a configuration
// directory and has the running wgd apply each change: write the file,
// reload, and check that the peer runs (or no longer does) as asked.
type Manager struct {
	Dir      string   // the UCI configuration directory, /etc/config
	SaveDirs []string // where uncommitted uci changes live (uci.UpdateOptions)
	Daemon   Daemon
}

// stateTimeout bounds a question for live state: what the file alone
// answers does not wait for a daemon that hangs.
const stateTimeout = 10 * time.Second

// File is the network file the peers are in.
func (m *Manager) File() string { return filepath.Join(m.Dir, "network") }

// Network reads the network file.
func (m *Manager) Network() (*uci.Package, error) {
	p, errs := uci.Load(m.Dir, "network")
	if p == nil {
		return nil, errs[0]
	}
	return p, nil
}

// settings reads the wgd file, the daemon's settings; it is optional.
func (m *Manager) settings() *uci.Package {
	if _, err := os.Stat(filepath.Join(m.Dir, "wgd")); err != nil {
		return nil
	}
	p, _ := uci.Load(m.Dir, "wgd")
	return p
}

// List returns the peers of iface (every wgd interface when iface is "").
func (m *Manager) List(iface string) ([]Peer, error) {
	network, err := m.Network()
	if err != nil {
		return nil, err
	}
	if iface != "" {
		if _, err := ChooseInterface(network, iface); err != nil {
			return nil, err
		}
	}
	return List(network, iface), nil
}

// Find returns the peer called name (see Find).
func (m *Manager) Find(iface, name string) (Peer, error) {
	network, err := m.Network()
	if err != nil {
		return Peer{}, err
	}
	return Find(network, iface, name)
}

// Live is what the running wgd reports of the peers it runs; nil and no
// error when no wgd runs.
func (m *Manager) Live(ctx context.Context) (Live, error) {
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	st, err := m.Daemon.Status(ctx)
	if errors.Is(err, ErrNotRunning) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return LiveOf(st), nil
}

// TunnelMTU is the MTU iface runs with (the running daemon's word, else
// the WAN's as it is now), 0 when unknown or set in the file: a client
// of a tunnel below the usual 1420 is told so. iface "" is the only one.
func (m *Manager) TunnelMTU(ctx context.Context, iface string) int {
	cfg, _ := config.Load(m.Dir)
	if iface == "" && len(cfg.Interfaces) == 1 {
		iface = cfg.Interfaces[0].Name
	}
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	st, _ := m.Daemon.Status(ctx)
	return runningMTU(st, cfg, iface)
}

// Add writes a new peer section for req and has the running wgd run it.
// save, when not nil, runs once the section is made and before the file
// is written: an error there (a client file that cannot be written)
// writes nothing. added is nil when nothing was written; applied is what
// the running wgd made of it, and err may then say it failed.
func (m *Manager) Add(ctx context.Context, req AddRequest, save func(*Added) error) (added *Added, applied *Applied, err error) {
	if req.TunnelMTU == 0 {
		req.TunnelMTU = m.TunnelMTU(ctx, req.Interface)
	}
	err = uci.Update(ctx, m.Dir, "network", uci.UpdateOptions{SaveDirs: m.SaveDirs}, func(d *uci.Doc) error {
		var err error
		if added, err = Add(d, m.settings(), req); err != nil {
			return err
		}
		if save != nil {
			return save(added)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	applied, err = m.apply(ctx, added.Interface, added.Client.PrivateKey.PublicKey(), true)
	return added, applied, err
}

// Changed is what Remove or SetDisabled did.
type Changed struct {
	Peer      Peer     // as it was before the change
	Changed   bool     // false: it already was so, and nothing was written
	Applied   *Applied // nil when nothing changed
	Forgotten bool     // a removed peer's traffic totals are dropped
}

// Remove deletes the peer called name and has the running wgd drop it,
// and its traffic totals.
func (m *Manager) Remove(ctx context.Context, iface, name string) (*Changed, error) {
	var c Changed
	err := uci.Update(ctx, m.Dir, "network", uci.UpdateOptions{SaveDirs: m.SaveDirs}, func(d *uci.Doc) error {
		var err error
		c.Peer, err = Remove(d, iface, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	c.Changed = true
	c.Applied, err = m.apply(ctx, c.Peer.Interface, c.Peer.PublicKey, false)
	if err != nil || c.Applied.NotRunning || c.Peer.PublicKey.IsZero() {
		return &c, err // without a valid key the router never ran the peer
	}
	c.Forgotten, _ = m.Daemon.Forget(ctx, c.Peer.Interface, c.Peer.PublicKey)
	return &c, nil
}

// SetDisabled disables or enables the peer called name and has the
// running wgd stop or start it.
func (m *Manager) SetDisabled(ctx context.Context, iface, name string, disabled bool) (*Changed, error) {
	var c Changed
	err := uci.Update(ctx, m.Dir, "network", uci.UpdateOptions{SaveDirs: m.SaveDirs}, func(d *uci.Doc) error {
		var err error
		c.Peer, c.Changed, err = SetDisabled(d, iface, name, disabled)
		return err
	})
	if err != nil || !c.Changed {
		return &c, err
	}
	c.Applied, err = m.apply(ctx, c.Peer.Interface, c.Peer.PublicKey, !disabled)
	return &c, err
}

// Client rebuilds the client config of the peer called name, whose
// private key was kept; endpoint is as Endpoint's given. warning is
// about the endpoint.
func (m *Manager) Client(ctx context.Context, iface, name, endpoint string) (p Peer, c *Client, warning string, err error) {
	network, err := m.Network()
	if err != nil {
		return Peer{}, nil, "", err
	}
	if p, err = Find(network, iface, name); err != nil {
		return Peer{}, nil, "", err
	}
	if c, warning, err = ClientOf(network, m.settings(), p, endpoint); err != nil {
		return Peer{}, nil, "", err
	}
	c.FitMTU(m.TunnelMTU(ctx, p.Interface))
	return p, c, warning, nil
}

// Outcome is how a changed peer runs after the reload.
type Outcome int

const (
	NoPeer        Outcome = iota // the change has no peer to check (no valid key)
	PeerLive                     // it runs, as asked
	PeerOff                      // it no longer runs, as asked
	InterfaceDown                // asked to run, but its interface is not running: it runs once that is up
	PeerNotRun                   // asked to run, its interface runs, it does not (see wgd status)
)

// Applied is what the running wgd made of a written change.
type Applied struct {
	Interface string
	// NotRunning: no wgd answered; the change applies when it starts.
	NotRunning bool
	// RunningDir is the directory the running wgd reads, set only when
	// it is not Dir, the one written (absolute): it does not see the
	// change.
	RunningDir, Dir string
	// Problems and Failed are the reload's report.
	Problems, Failed []string
	Peer             Outcome
}

// apply has the running wgd reload and checks that the peer with key
// runs on iface (want) or does not. A wgd that is not running is not an
// error: the file is written and it starts from there.
func (m *Manager) apply(ctx context.Context, iface string, key config.Key, want bool) (*Applied, error) {
	a := &Applied{Interface: iface}
	st, err := m.Daemon.Status(ctx)
	if errors.Is(err, ErrNotRunning) {
		a.NotRunning = true
		return a, nil
	}
	if err != nil {
		return a, fmt.Errorf("the file is written, but wgd did not answer: %w", err)
	}
	if abs, err := filepath.Abs(m.Dir); err == nil && st.ConfigDir != "" && filepath.Clean(st.ConfigDir) != abs {
		a.Dir, a.RunningDir = abs, st.ConfigDir
	}
	res, err := m.Daemon.Reload(ctx)
	if err != nil {
		return a, fmt.Errorf("the file is written, but wgd's reload failed: %w", err)
	}
	a.Problems, a.Failed = res.Problems, res.Failed
	if key.IsZero() {
		return a, nil
	}
	if st, err = m.Daemon.Status(ctx); err != nil {
		return a, fmt.Errorf("wgd reloaded, but its status is not available: %w", err)
	}
	a.Peer, err = verify(st, iface, key, want)
	return a, err
}

// State is a peer's state: "disabled" in the file, "expired" past its
// option expires, "enabled" when wgd is not running (live is nil),
// "live" when wgd runs it, "not running" when wgd runs but not this peer
// (its interface is down, or the section has errors: see wgd reload).
func (p Peer) State(live Live, now time.Time) string {
	switch {
	case p.Disabled:
		return "disabled"
	case p.Expired(now):
		return "expired"
	case live == nil:
		return "enabled"
	}
	if _, ok := live.Of(p); ok {
		return "live"
	}
	return "not running"
}
