// Package device runs one WireGuard interface on the userspace data plane:
// the TUN link, the wireguard-go engine, the UAPI socket that wg(8) talks
// to and, in standalone mode, the link's addresses and routes.
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
	// ManageL3 makes the interface own its addresses, link state and
	// routes (standalone mode). Under netifd, netifd owns them.
	ManageL3 bool
	Logger   *slog.Logger
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
	name    string
	opts    Options
	log     *slog.Logger
	tun     tun.Device
	dev     *wgdevice.Device
	uapi    net.Listener
	netlink *rtnl.Conn
	index   int
	applied Desired
	// hostRoutes pin endpoints outside the tunnel (standalone).
	hostRoutes []hostRoute

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
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
	if i.tun, err = tun.CreateTUN(name, d.linkMTU()); err != nil {
		return nil, fmt.Errorf("create TUN %s: %w", name, err)
	}
	i.dev = wgdevice.NewDevice(i.tun, conn.NewDefaultBind(), engineLogger(i.log))
	if i.netlink, err = rtnl.Open(); err != nil {
		return nil, err
	}
	link, err := i.netlink.LinkByName(name)
	if err != nil {
		return nil, err
	}
	i.index = link.Index
	if err := i.Update(d); err != nil {
		return nil, err
	}
	if err := i.dev.Up(); err != nil {
		return nil, fmt.Errorf("bring up %s: %w", name, err)
	}
	i.wg.Add(1)
	go i.serveUAPI()
	return i, nil
}

// Name is the link name.
func (i *Interface) Name() string { return i.name }

// Index is the kernel's link index.
func (i *Interface) Index() int { return i.index }

// Update moves the running interface from what was applied last to d,
// touching only what differs: peers that did not change keep their
// sessions and traffic.
func (i *Interface) Update(d Desired) error {
	old := i.applied
	fresh := old.Config.Name == "" // nothing applied yet
	if delta := uapiDelta(old, d); delta != "" {
		if err := i.dev.IpcSet(delta); err != nil {
			// The engine's error names the failing line's key, never a secret value.
			return fmt.Errorf("configure %s: %w", i.name, err)
		}
	}
	i.applied = Desired{Config: d.Config, Endpoints: copyEndpoints(d.Endpoints), MTU: d.MTU}
	if d.Config.MTU != old.Config.MTU && mtuOf(d.Config) < d.Config.MTU {
		i.log.Warn("mtu capped: this build's data plane carries no larger packets", "mtu", d.Config.MTU, "capped", mtuOf(d.Config))
	}
	var errs []error
	// netifd leaves the MTU of a protocol handler's device alone, so it
	// is set here in both modes. The link stays (same index, same
	// sessions); the engine follows the TUN's MTU event.
	if !fresh && old.linkMTU() != d.linkMTU() {
		if err := i.netlink.SetMTU(i.index, d.linkMTU()); err != nil {
			errs = append(errs, err)
		} else {
			i.log.Info("mtu changed", "from", old.linkMTU(), "to", d.linkMTU())
		}
	}
	if !i.opts.ManageL3 {
		return errors.Join(errs...)
	}
	errs = append(errs, i.syncAddrs(old.Config.Addresses, d.Config.Addresses))
	if fresh {
		// Routes via a link can only be added once it is up.
		errs = append(errs, i.netlink.SetLinkUp(i.index))
	}
	// Endpoints first: the tunnel's routes may cover them.
	errs = append(errs, i.syncHostRoutes())
	errs = append(errs, i.syncRoutes(linkRoutes(old.Config), linkRoutes(d.Config)))
	return errors.Join(errs...)
}

// MTU is the link MTU applied last.
func (i *Interface) MTU() int { return i.applied.linkMTU() }

func (d Desired) linkMTU() int {
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

func (i *Interface) syncAddrs(old, new []netip.Prefix) error {
	var errs []error
	for _, p := range minus(old, new) {
		errs = append(errs, i.netlink.DelAddr(i.index, p))
	}
	for _, p := range minus(new, old) {
		errs = append(errs, i.netlink.AddAddr(i.index, p))
	}
	return errors.Join(errs...)
}

func (i *Interface) syncRoutes(old, new []netip.Prefix) error {
	var errs []error
	for _, p := range minus(old, new) {
		errs = append(errs, i.netlink.DelRoute(i.index, p))
	}
	for _, p := range minus(new, old) {
		errs = append(errs, i.netlink.AddRoute(i.index, p))
	}
	return errors.Join(errs...)
}

// linkRoutes are the routes standalone mode installs through the link:
// the interface's routed networks, with a default route split in two
// halves, which win over the existing default route by being longer
// instead of replacing it.
func linkRoutes(c config.Interface) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range c.Routes() {
		if p.Bits() != 0 {
			out = append(out, p)
			continue
		}
		low := netip.PrefixFrom(p.Addr(), 1)
		var high netip.Prefix
		if p.Addr().Is4() {
			high = netip.MustParsePrefix("128.0.0.0/1")
		} else {
			high = netip.MustParsePrefix("8000::/1")
		}
		out = append(out, low, high)
	}
	return out
}

// minus returns the prefixes of a that are not in b.
func minus(a, b []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range a {
		found := false
		for _, q := range b {
			if p == q {
				found = true
				break
			}
		}
		if !found {
			out = append(out, p)
		}
	}
	return out
}

// Close removes the interface: routes, the link with its addresses, and
// the UAPI socket.
func (i *Interface) Close() error {
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
	if i.netlink != nil && i.opts.ManageL3 && i.dev != nil {
		errs = append(errs, i.syncRoutes(linkRoutes(i.applied.Config), nil))
		errs = append(errs, i.setHostRoutes(nil))
	}
	if i.dev != nil {
		i.dev.Close() // closes the TUN: the kernel removes the link
	} else if i.tun != nil {
		errs = append(errs, i.tun.Close())
	}
	if i.netlink != nil {
		errs = append(errs, i.netlink.Close())
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
