// Package device runs one WireGuard interface on the userspace data plane:
// the TUN link, the wireguard-go engine and the UAPI socket that wg(8)
// talks to. The link's layer 3 (addresses, routes, MTU) is package
// router's.
package device

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
	wgdevice "golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"

	"wgd/config"
	"wgd/internal/rtnl"
)

// DefaultUAPIDir is where wg(8) looks for userspace interfaces.
const DefaultUAPIDir = "/var/run/wireguard"

// DefaultMTU is the link MTU when the configuration sets none.
const DefaultMTU = 1420

// Options are the parts of an interface's setup that do not come from UCI.
type Options struct {
	UAPIDir string // "" means DefaultUAPIDir
	// TUN makes the link (tun.CreateTUN when nil); another one, such as
	// tun/tuntest's, runs the engine on no kernel link.
	TUN func(name string, mtu int) (tun.Device, error)
	// Bind makes the engine's sockets (conn.NewDefaultBind when nil).
	Bind func() conn.Bind
	// Persist keeps the kernel TUN link when the process ends (TUNSETPERSIST):
	// under netifd a restarted daemon re-attaches to the same link, whose
	// index, addresses and routes netifd set up are still there. Open
	// attaches to an existing TUN of the name; Close removes the link,
	// Detach leaves it.
	Persist bool
	Logger  *slog.Logger
	// Died, when set, is called when the engine closes the device by
	// itself, e.g. after its TUN failed; not after Close. It runs on the
	// interface's watcher, which Close waits for: it must not block (nor
	// wait for whoever may be closing the interface).
	Died func(*Interface)
}

// Desired is what an interface should run: its configuration and the
// endpoint addresses resolved so far for its peers.
type Desired struct {
	Config    config.Interface
	Endpoints map[config.Key]netip.AddrPort
	// MTU is the link MTU; 0: the configured one, else DefaultMTU.
	MTU int
}

// Interface is one running WireGuard interface.
type Interface struct {
	name  string
	opts  Options
	log   *slog.Logger
	tun   tun.Device
	dev   *wgdevice.Device
	uapi  net.Listener
	index int // 0: not a kernel link
	// reattached: Open found the link (a persistent TUN left by an
	// earlier process) and attached to it.
	reattached bool
	applied    Desired
	// portLost: the engine has no socket since setting the port failed.
	portLost bool

	mu      sync.Mutex // guards conns
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	closing atomic.Bool   // Close was called: the engine's end is expected
	watched chan struct{} // closed when watch has returned; nil before it starts
}

// Open creates the interface and applies d to it.
func Open(d Desired, opts Options) (_ *Interface, err error) {
	if opts.UAPIDir == "" {
		opts.UAPIDir = DefaultUAPIDir
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	name := d.Config.Name
	i := &Interface{name: name, opts: opts, log: opts.Logger.With("interface", name), conns: map[net.Conn]struct{}{}}
	defer func() {
		if err != nil {
			i.Close()
		}
	}()

	uapi, err := listenUAPI(opts.UAPIDir, name)
	if err != nil {
		return nil, err
	}
	i.uapi = uapi
	if opts.TUN != nil {
		i.tun, err = opts.TUN(name, d.LinkMTU())
		if err != nil {
			return nil, fmt.Errorf("create TUN %s: %w", name, err)
		}
	} else if err := i.createTUN(d.LinkMTU()); err != nil {
		return nil, err
	}
	bind := conn.NewDefaultBind
	if opts.Bind != nil {
		bind = opts.Bind
	}
	i.dev = wgdevice.NewDevice(i.tun, bind(), engineLogger(i.log))
	if err := i.Update(d); err != nil {
		return nil, err
	}
	if err := i.dev.Up(); err != nil {
		return nil, portError(d.Config.ListenPort, fmt.Errorf("bring up %s: %w", name, err))
	}
	// The engine falls back to no socket, never to another port: check,
	// so that a port nobody meant is never reported or opened.
	if want := d.Config.ListenPort; want != 0 {
		if st, err := i.State(); err != nil || st.ListenPort != want {
			// The engine's own reaction to the link going up may have met
			// the busy port first and left it on none or another: ask the
			// kernel whether the port is held.
			err := fmt.Errorf("bring up %s: not listening on port %d", name, want)
			if c, perr := net.ListenPacket("udp", fmt.Sprintf(":%d", want)); perr != nil {
				err = fmt.Errorf("%w: %w", err, perr)
			} else {
				c.Close()
			}
			return nil, portError(want, err)
		}
	}
	i.wg.Add(1)
	go i.serveUAPI()
	i.watched = make(chan struct{})
	go i.watch()
	return i, nil
}

// createTUN creates the kernel TUN link, or attaches to the persistent
// one of the same name. A link of that name that cannot be attached to
// (another kind of link, other flags) is removed and made anew when
// Persist is set: it is a leftover of wgd's; without Persist it is left
// alone.
func (i *Interface) createTUN(mtu int) error {
	nl, err := rtnl.Open()
	if err != nil {
		return err
	}
	defer nl.Close()
	old, lookupErr := nl.LinkByName(i.name)
	t, err := tun.CreateTUN(i.name, mtu)
	if err != nil && lookupErr == nil && i.opts.Persist && !errors.Is(err, syscall.EBUSY) {
		i.log.Warn("link cannot be attached to: removing it", "error", err)
		if derr := nl.DelLink(old.Index); derr != nil {
			return fmt.Errorf("create TUN %s: %w (and removing the old link: %v)", i.name, err, derr)
		}
		lookupErr = errors.New("removed")
		t, err = tun.CreateTUN(i.name, mtu)
	}
	if err != nil {
		return fmt.Errorf("create TUN %s: %w", i.name, err)
	}
	i.tun = t
	i.reattached = lookupErr == nil
	link, err := nl.LinkByName(i.name)
	if err != nil {
		return err
	}
	i.index = link.Index
	if i.opts.Persist {
		return i.setPersist(true)
	}
	return nil
}

// setPersist sets or clears TUNSETPERSIST on the TUN's descriptor.
func (i *Interface) setPersist(on bool) error {
	f, ok := i.tun.(interface{ File() *os.File })
	if !ok {
		return fmt.Errorf("%s: this TUN cannot persist", i.name)
	}
	raw, err := f.File().SyscallConn() // not Fd(): that would make it blocking
	if err != nil {
		return err
	}
	v := 0
	if on {
		v = 1
	}
	var ioErr error
	if err := raw.Control(func(fd uintptr) { ioErr = unix.IoctlSetInt(int(fd), unix.TUNSETPERSIST, v) }); err != nil {
		return err
	}
	if ioErr != nil {
		return fmt.Errorf("%s: TUNSETPERSIST %d: %w", i.name, v, ioErr)
	}
	return nil
}

// Reattached tells whether Open attached to a link that existed before
// (a persistent TUN an earlier process left) rather than creating it.
func (i *Interface) Reattached() bool { return i.reattached }

// watch tells Options.Died when the engine closes the device unasked.
func (i *Interface) watch() {
	defer close(i.watched)
	<-i.dev.Wait()
	if !i.closing.Load() {
		i.log.Error("the engine closed the device")
		if i.opts.Died != nil {
			i.opts.Died(i)
		}
	}
}

// Name is the link name.
func (i *Interface) Name() string { return i.name }

// Update moves the running interface from what was applied last to d,
// touching only what differs: peers that did not change keep their
// sessions and traffic.
//
// A new listen port that another program holds is not taken: the
// interface stays on the port it has, the rest is applied, and the error
// says so; the next Update tries the port again.
func (i *Interface) Update(d Desired) error {
	old := i.applied
	fresh := old.Config.Name == "" // nothing applied yet
	var portErr error
	if i.portLost && d.Config.ListenPort == old.Config.ListenPort {
		if err := i.setPort(old.Config.ListenPort); err != nil {
			portErr = portError(old.Config.ListenPort, fmt.Errorf("configure %s: %w", i.name, err))
		}
	}
	if !fresh && d.Config.ListenPort != old.Config.ListenPort {
		if err := i.setPort(d.Config.ListenPort); err != nil {
			portErr = portError(d.Config.ListenPort, fmt.Errorf("configure %s: %w", i.name, err))
			if err := i.setPort(old.Config.ListenPort); err != nil {
				portErr = errors.Join(portErr, fmt.Errorf("%s: back to port %d: %w", i.name, old.Config.ListenPort, err))
			} else {
				portErr = fmt.Errorf("%w; still listening on %d", portErr, old.Config.ListenPort)
			}
			d.Config.ListenPort = old.Config.ListenPort
		}
		old.Config.ListenPort = d.Config.ListenPort
	}
	if delta := uapiDelta(old, d); delta != "" {
		if err := i.dev.IpcSet(delta); err != nil {
			// The engine's error names the failing line's key, never a secret value.
			return errors.Join(portErr, portError(d.Config.ListenPort, fmt.Errorf("configure %s: %w", i.name, err)))
		}
	}
	i.applied = Desired{Config: d.Config, Endpoints: copyEndpoints(d.Endpoints), MTU: d.MTU}
	if d.Config.MTU != old.Config.MTU && mtuOf(d.Config) < d.Config.MTU {
		i.log.Warn("mtu capped: this build's data plane carries no larger packets", "mtu", d.Config.MTU, "capped", mtuOf(d.Config))
	}
	return portErr
}

// ErrPortInUse marks an error of a listen port another program holds.
var ErrPortInUse = errors.New("listen port in use")

// portError names port when err is about it being taken.
func portError(port uint16, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: %d is held by another program: %w", ErrPortInUse, port, err)
	}
	return err
}

// setPort moves the engine's sockets to port. On failure the engine has
// no socket at all: the caller puts one back.
func (i *Interface) setPort(port uint16) error {
	err := i.dev.IpcSet(fmt.Sprintf("listen_port=%d\n", port))
	i.portLost = err != nil
	return err
}

// ListenPort is the port the interface was configured to listen on and
// does (0: one chosen by the kernel).
func (i *Interface) ListenPort() uint16 { return i.applied.Config.ListenPort }

// MTU is the link MTU given last (the router sets it on the link; the
// engine follows the TUN's MTU event).
func (i *Interface) MTU() int { return i.applied.LinkMTU() }

// LinkMTU is the link MTU d asks for.
func (d Desired) LinkMTU() int {
	if d.MTU > 0 {
		return d.MTU
	}
	return mtuOf(d.Config)
}

// mtuOf is the link MTU for c: the configured one, capped at what this
// build's data plane carries (the lean profile's buffers are small).
func mtuOf(c config.Interface) int {
	if c.MTU == 0 {
		return min(DefaultMTU, wgdevice.MaxContentSize)
	}
	return min(c.MTU, wgdevice.MaxContentSize)
}

// Close removes the interface: the link (with what is set on it) and the
// UAPI socket.
func (i *Interface) Close() error {
	if i.index != 0 && i.opts.Persist {
		if err := i.setPersist(false); err != nil {
			i.log.Warn("link may outlive the interface", "error", err)
		}
	}
	return i.close()
}

// Detach stops the interface but leaves a persistent link (Persist) with
// its addresses and routes, for the next process to attach to; without
// Persist it is Close.
func (i *Interface) Detach() error { return i.close() }

func (i *Interface) close() error {
	i.closing.Store(true)
	var errs []error
	if i.uapi != nil {
		errs = append(errs, i.uapi.Close())
		os.Remove(uapiPath(i.opts.UAPIDir, i.name))
	}
	i.mu.Lock()
	for c := range i.conns {
		c.Close()
	}
	i.mu.Unlock()
	i.wg.Wait()
	if i.dev != nil {
		i.dev.Close() // closes the TUN: the kernel removes the link
	} else if i.tun != nil {
		errs = append(errs, i.tun.Close())
	}
	if i.watched != nil {
		<-i.watched // nothing of the interface runs on after Close
	}
	return errors.Join(errs...)
}

func uapiPath(dir, name string) string { return filepath.Join(dir, name+".sock") }

// listenUAPI opens dir/name.sock for wg(8), root-only. A socket left by a
// crashed process is replaced; one that still answers is not.
func listenUAPI(dir, name string) (net.Listener, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("UAPI directory: %w", err)
	}
	path := uapiPath(dir, name)
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s is served by another process: is %s already running?", path, name)
	}
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("UAPI socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("UAPI socket: %w", err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	return l, nil
}

func (i *Interface) serveUAPI() {
	defer i.wg.Done()
	for {
		c, err := i.uapi.Accept()
		if err != nil {
			return
		}
		i.mu.Lock()
		i.conns[c] = struct{}{}
		i.mu.Unlock()
		i.wg.Add(1)
		go func() {
			defer i.wg.Done()
			i.dev.IpcHandle(c) // closes c
			i.mu.Lock()
			delete(i.conns, c)
			i.mu.Unlock()
		}()
	}
}

func engineLogger(l *slog.Logger) *wgdevice.Logger {
	return &wgdevice.Logger{
		Verbosef: func(format string, args ...any) { l.Debug(fmt.Sprintf(format, args...)) },
		Errorf:   func(format string, args ...any) { l.Error(fmt.Sprintf(format, args...)) },
	}
}

func copyEndpoints(m map[config.Key]netip.AddrPort) map[config.Key]netip.AddrPort {
	out := make(map[config.Key]netip.AddrPort, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
