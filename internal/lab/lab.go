// Package lab builds small networks of hosts in Linux network namespaces for
// integration tests and demos: every namespace, link and file it makes carries
// a run-unique suffix and is removed again by Close.
package lab

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// nsPrefix starts the name of every namespace the lab makes, so leftovers of a
// crashed run are recognisable in `ip netns list`.
const nsPrefix = "wgdlab-"

// stopGrace is how long a started process gets between SIGTERM and SIGKILL.
const stopGrace = 5 * time.Second

// Lab owns a set of hosts, the links between them, the processes started in
// them and a scratch directory for logs and configuration.
type Lab struct {
	// ID is the run-unique suffix of every name the lab makes: lowercase
	// letters and digits only, so it also fits UCI section names.
	ID string
	// Dir is a scratch directory (configs, keys, logs, control sockets),
	// removed by Close. It is short on purpose: unix socket paths are limited.
	Dir string

	mu     sync.Mutex
	hosts  []*Host
	links  int
	procs  []*Proc
	extra  []string // files outside Dir to remove on Close
	closed bool
}

// New makes an empty lab with a fresh ID and scratch directory.
func New() (*Lab, error) {
	id, err := randomID(6)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "wgdlab-"+id+"-")
	if err != nil {
		return nil, err
	}
	return &Lab{ID: id, Dir: dir}, nil
}

// ForTest makes a lab for a test: it skips the test when not running as root
// or when `ip` is missing, and closes the lab when the test ends. If the test
// failed, the tail of every process log is written to the test log first;
// a data race reported by any started process fails the test.
func ForTest(t testing.TB) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, veth links and TUN devices")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (`ip`): run scripts/deps.sh")
	}
	l, err := New()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() {
		l.StopAll()
		for _, p := range l.Procs() {
			out := p.Output()
			if strings.Contains(out, "WARNING: DATA RACE") {
				t.Errorf("lab: %s reported a data race, log:\n%s", p, out)
			} else if t.Failed() {
				t.Logf("lab: log of %s (%s):\n%s", p, p.ExitStatus(), tail(out, 60))
			}
		}
		if err := l.Close(); err != nil {
			t.Errorf("lab: close: %v", err)
		}
	})
	return l
}

// Host makes a host: a namespace named after name and the lab ID, with its
// loopback up.
func (l *Lab) Host(ctx context.Context, name string) (*Host, error) {
	h := &Host{Name: name, NS: nsPrefix + l.ID + "-" + name, lab: l}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errors.New("lab: closed")
	}
	for _, o := range l.hosts {
		if o.Name == name {
			l.mu.Unlock()
			return nil, fmt.Errorf("lab: host %q exists", name)
		}
	}
	l.mu.Unlock()
	if _, err := run(ctx, "ip", "netns", "add", h.NS); err != nil {
		return nil, err
	}
	// Registered before any further step, so Close removes it whatever fails next.
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	if _, err := h.IP(ctx, "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	return h, nil
}

// Link is one veth pair between two hosts.
type Link struct {
	A, B         *Host
	ADev, BDev   string // device names inside A and inside B
	APref, BPref string // addresses with prefix length, "" for none
}

// Connect makes a veth pair between a and b, gives each end its address
// (CIDR notation, e.g. "198.51.100.1/24"; empty for none) and sets both up.
// Each end is named after the host it leads to (see vethName).
func (l *Lab) Connect(ctx context.Context, a, b *Host, aPrefix, bPrefix string) (*Link, error) {
	l.mu.Lock()
	l.links++
	n := l.links
	l.mu.Unlock()
	ln := &Link{A: a, B: b, APref: aPrefix, BPref: bPrefix,
		ADev: vethName(b.Name, n, l.ID), BDev: vethName(a.Name, n, l.ID)}
	// Created directly inside the namespaces: nothing of it ever appears in the
	// caller's namespace, and deleting either namespace deletes the pair.
	if _, err := a.IP(ctx, "link", "add", ln.ADev, "type", "veth", "peer", "name", ln.BDev, "netns", b.NS); err != nil {
		return nil, err
	}
	for _, end := range []struct {
		h      *Host
		dev    string
		prefix string
	}{{a, ln.ADev, aPrefix}, {b, ln.BDev, bPrefix}} {
		if end.prefix != "" {
			if _, err := end.h.IP(ctx, "addr", "add", end.prefix, "dev", end.dev); err != nil {
				return nil, err
			}
		}
		if _, err := end.h.IP(ctx, "link", "set", end.dev, "up"); err != nil {
			return nil, err
		}
	}
	return ln, nil
}

// vethName is e.g. "rout2k3x9q2": up to four letters of the host at the other
// end, the link number and the lab ID, cut to the kernel's 15 characters.
func vethName(peer string, n int, id string) string {
	short := peer
	if len(short) > 4 {
		short = short[:4]
	}
	name := fmt.Sprintf("%s%d%s", short, n, id)
	if len(name) > 15 {
		name = name[:15]
	}
	return name
}

// RemoveOnClose registers a file outside Dir (for instance a UAPI socket under
// /var/run/wireguard) that Close removes if it still exists: a process killed
// with SIGKILL leaves its sockets behind.
func (l *Lab) RemoveOnClose(path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.extra = append(l.extra, path)
}

// Procs lists the processes started in the lab's hosts, oldest first.
func (l *Lab) Procs() []*Proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Proc(nil), l.procs...)
}

// StopAll stops every process started in the lab, newest first (clients
// before the servers they use), each with SIGTERM then SIGKILL after a bound.
func (l *Lab) StopAll() {
	procs := l.Procs()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(stopGrace)
	}
}

// Close stops all processes, deletes all namespaces (and so every link and
// TUN device in them), removes registered files and the scratch directory.
// It is safe after a partial setup, after failures and more than once.
func (l *Lab) Close() error {
	l.StopAll()
	l.mu.Lock()
	l.closed = true
	hosts, extra := l.hosts, l.extra
	l.hosts, l.extra = nil, nil
	l.mu.Unlock()

	// Bounded by a fresh context: Close often runs because the caller's
	// context was cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for i := len(hosts) - 1; i >= 0; i-- {
		if _, err := run(ctx, "ip", "netns", "del", hosts[i].NS); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range extra {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if l.Dir != "" {
		if err := os.RemoveAll(l.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Host is one network namespace.
type Host struct {
	Name string // short name given by the caller, e.g. "router"
	NS   string // namespace name, unique to the run
	lab  *Lab
}

func (h *Host) String() string { return h.Name }

// Run runs argv inside the host's namespace and returns its combined output.
// A failure's error includes the command and its output.
func (h *Host) Run(ctx context.Context, argv ...string) (string, error) {
	return run(ctx, "ip", append([]string{"netns", "exec", h.NS}, argv...)...)
}

// IP runs `ip -n NS args...`: iproute2 enters the namespace by itself.
func (h *Host) IP(ctx context.Context, args ...string) (string, error) {
	return run(ctx, "ip", append([]string{"-n", h.NS}, args...)...)
}

// Route adds (or replaces) a route to dst (a prefix or "default") via a
// gateway address.
func (h *Host) Route(ctx context.Context, dst, via string) error {
	_, err := h.IP(ctx, "route", "replace", dst, "via", via)
	return err
}

// Forward turns IPv4 and IPv6 forwarding on in the host (a router).
func (h *Host) Forward(ctx context.Context) error {
	// /proc/sys/net is per namespace: the writer's namespace decides, so the
	// write must happen inside the host.
	_, err := h.Run(ctx, "sh", "-c",
		"echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/ipv6/conf/all/forwarding")
	return err
}

// Start starts a long-running process (a daemon) in the host. Its stdout and
// stderr go to a log file in the lab directory; Close stops it.
func (h *Host) Start(argv ...string) (*Proc, error) {
	return h.StartEnv(nil, argv...)
}

// StartEnv is Start with extra environment variables ("KEY=value").
func (h *Host) StartEnv(env []string, argv ...string) (*Proc, error) {
	if len(argv) == 0 {
		return nil, errors.New("lab: Start without a command")
	}
	l := h.lab
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errors.New("lab: closed")
	}
	n := len(l.procs) + 1
	l.mu.Unlock()

	logPath := filepath.Join(l.Dir, fmt.Sprintf("%02d-%s-%s.log", n, h.Name, filepath.Base(argv[0])))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor

	// `ip netns exec` execs the command after entering the namespace, so the
	// started pid is the daemon itself and signals reach it directly.
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.NS}, argv...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: a Ctrl-C in the terminal reaches only the
		// controlling program, which then stops its daemons in order.
		Setpgid: true,
		// If the controlling program dies without cleaning up, its
		// daemons still stop (and remove their devices and sockets).
		Pdeathsig: syscall.SIGTERM,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: start %s in %s: %w", strings.Join(argv, " "), h.Name, err)
	}
	p := &Proc{Host: h, Argv: argv, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p, nil
}

// Proc is a process started by Host.Start.
type Proc struct {
	Host    *Host
	Argv    []string
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, valid once done is closed
}

func (p *Proc) String() string {
	return fmt.Sprintf("%q in %s", strings.Join(p.Argv, " "), p.Host.Name)
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process (no-op once it has exited).
func (p *Proc) Signal(sig os.Signal) error {
	if p.Exited() {
		return nil
	}
	return p.cmd.Process.Signal(sig)
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to end or ctx to be done; it returns the exit
// error (nil for a zero exit status).
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("lab: waiting for %s: %w", p, ctx.Err())
	}
}

// ExitStatus describes how the process ended, or "running".
func (p *Proc) ExitStatus() string {
	if !p.Exited() {
		return "running"
	}
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

// Stop sends SIGTERM, waits up to grace, then SIGKILLs the process group.
// It returns the exit error.
func (p *Proc) Stop(grace time.Duration) error {
	if !p.Exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			// The whole group: helpers the daemon started go too.
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	return p.err
}

// Output is everything the process wrote so far.
func (p *Proc) Output() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	return string(b)
}

// run runs a command in the caller's namespace; errors carry the output.
func run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	// A command that forks a daemon keeping the pipe open must not hang us
	// past the context.
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// randomID returns n characters from [a-z0-9].
func randomID(n int) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
