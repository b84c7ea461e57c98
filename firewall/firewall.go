// Package firewall opens the UDP listen ports of wgd's interfaces in the
// host firewall, and closes them again.
//
// A Backend is told the complete set of openings it should keep (Sync) and
// makes the firewall match it: it adds what is missing and removes what is
// no longer wanted, reading the firewall's current state every time, so a
// restarted daemon (even after kill -9) converges on exactly one rule per
// port instead of adding a second. Every rule wgd adds carries Tag in its
// comment; Flush removes all of them (at start, for leftovers of a crashed
// run, and at stop).
//
// Backends:
//   - nftables: inserts an accept rule at the top of every filter base chain
//     on the input hook (families ip, ip6, inet), so the port is admitted
//     whatever table drops (an accept in a table of its own would not
//     override another table's drop).
//   - iptables: an ACCEPT at the top of INPUT, with iptables and ip6tables
//     (whichever of iptables-legacy or iptables-nft they are).
//   - fw4: OpenWrt's firewall4 (and fw3) render rules published as procd
//     instance data into their own tables; see fw4.go for who publishes.
//   - none: opens nothing.
package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tag starts the comment of every rule wgd adds: "wgd:<interface>:<port>",
// with ":<device>" when the rule is limited to one input device.
const Tag = "wgd"

// Kinds are the backend names New accepts ("auto" detects one of the others).
var Kinds = []string{"auto", "fw4", "nftables", "iptables", "none"}

// Hole is one opening: the UDP listen port of a WireGuard interface,
// reachable over IPv4 and IPv6.
// It crosses the control socket (package api): api's compatibility rule applies to its JSON.
type Hole struct {
	Interface string `json:"interface"`        // the WireGuard interface the port belongs to
	Port      uint16 `json:"port"`             // UDP port, not 0
	Zone      string `json:"zone,omitempty"`   // source zone (fw4 only), "" = any zone
	Device    string `json:"device,omitempty"` // input device to limit the rule to, "" = any
}

// comment is the tag a rule for h carries.
func (h Hole) comment() string {
	c := Tag + ":" + h.Interface + ":" + strconv.Itoa(int(h.Port))
	if h.Device != "" {
		c += ":" + h.Device
	}
	return c
}

// Names of interfaces, devices and zones end up in rule comments and
// command lines: only what Linux and UCI allow, nothing a parser could
// read as syntax.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]+$`)

func (h Hole) validate() error {
	switch {
	case h.Port == 0:
		return fmt.Errorf("firewall: %s: no listen port", h.Interface)
	case len(h.Interface) > 64 || !nameRE.MatchString(h.Interface):
		return fmt.Errorf("firewall: interface name %q not usable in a rule", h.Interface)
	case h.Device != "" && (len(h.Device) > 15 || !nameRE.MatchString(h.Device)):
		return fmt.Errorf("firewall: %s: device name %q not usable in a rule", h.Interface, h.Device)
	case h.Zone != "" && (len(h.Zone) > 64 || !nameRE.MatchString(h.Zone)):
		return fmt.Errorf("firewall: %s: zone name %q not usable in a rule", h.Interface, h.Zone)
	}
	return nil
}

// isOurs reports whether a rule comment carries Tag.
func isOurs(comment string) bool {
	return comment == Tag || strings.HasPrefix(comment, Tag+":")
}

// wanted validates holes and returns the valid ones, without duplicates
// (two holes with the same comment are one rule), and the errors of the rest.
func wanted(holes []Hole) ([]Hole, error) {
	var out []Hole
	var errs []error
	seen := map[string]bool{}
	for _, h := range holes {
		if err := h.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if c := h.comment() + "|" + h.Zone; !seen[c] {
			seen[c] = true
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b Hole) int {
		return strings.Compare(a.comment()+"|"+a.Zone, b.comment()+"|"+b.Zone)
	})
	return out, errors.Join(errs...)
}

// Backend keeps wgd's openings in one kind of firewall. Methods may be
// called from any goroutine; they serialise.
type Backend interface {
	// Name is the backend's kind, as New accepts it.
	Name() string
	// Sync makes wgd's rules exactly holes: it adds missing rules, removes
	// stale ones (also those of an earlier run) and never duplicates one.
	// Invalid holes are reported in the error; the valid ones still apply.
	Sync(holes []Hole) error
	// Flush removes every rule carrying Tag.
	Flush() error
}

// Status is what a daemon reports about its firewall (wgd status).
// It crosses the control socket (package api): api's compatibility rule applies to its JSON.
type Status struct {
	Backend string `json:"backend"`         // kind in use; "none" when disabled or failed
	Holes   []Hole `json:"holes"`           // as last synced
	Error   string `json:"error,omitempty"` // last failure, "" after a successful sync
}

// New returns the backend of this kind: "auto" (or "") detects which
// firewall the host runs. An error names what is missing; the caller can
// go on without a firewall backend (the tunnels do not depend on it).
func New(kind string, log *slog.Logger) (Backend, error) {
	return newOn(thisHost(), kind, log)
}

// host is where commands run and what detection looks at. Tests point it
// at another network namespace and at files of their own.
type host struct {
	run      runner
	lookPath func(string) (string, error)
	fwPaths  []string // any of them existing means OpenWrt's firewall (fw4 or fw3)
	pid1Comm string   // file naming process 1 ("procd" on OpenWrt)
}

func thisHost() host {
	return host{
		run:      runCommand(nil),
		lookPath: exec.LookPath,
		fwPaths:  []string{"/sbin/fw4", "/sbin/fw3"},
		pid1Comm: "/proc/1/comm",
	}
}

func newOn(h host, kind string, log *slog.Logger) (Backend, error) {
	if log == nil {
		log = slog.Default()
	}
	switch kind {
	case "", "auto":
		k, why := detect(h)
		log.Info("firewall backend detected", "backend", k, "because", why)
		if k == "none" {
			return none{}, nil
		}
		return newOn(h, k, log)
	case "none":
		return none{}, nil
	case "fw4":
		if _, err := h.lookPath("ubus"); err != nil {
			return nil, errors.New("firewall: fw4: ubus not found in PATH (the fw4 backend works on OpenWrt under procd)")
		}
		return &fw4{run: h.run, log: log, service: "wgd"}, nil
	case "nftables":
		if _, err := h.lookPath("nft"); err != nil {
			return nil, errors.New("firewall: nftables: nft not found in PATH: install nftables, or choose another backend with option firewall in /etc/config/wgd")
		}
		return &nftables{run: h.run, log: log}, nil
	case "iptables":
		return newIptables(h, "iptables", "ip6tables", log)
	default:
		return nil, fmt.Errorf("firewall: unknown backend %q (option firewall in /etc/config/wgd: one of %s)", kind, strings.Join(Kinds, ", "))
	}
}

// detect picks the backend for this host and says why:
//  1. OpenWrt under procd (fw4 or fw3 installed, process 1 is procd): fw4,
//     since anything put into the firewall's own tables directly is lost on
//     its next reload;
//  2. nft works and a table other than iptables-nft's own has a filter
//     chain on the input hook: nftables;
//  3. iptables' INPUT (or ip6tables') has rules or a policy other than
//     ACCEPT: iptables (iptables-nft's tables, or iptables-legacy when that
//     is what iptables runs);
//  4. nothing filters input: nftables if nft works, else iptables, so that
//     Sync finds the firewall a later ruleset is loaded into;
//  5. none.
func detect(h host) (kind, why string) {
	openwrt := ""
	for _, p := range h.fwPaths {
		if _, err := os.Stat(p); err == nil {
			openwrt = p
			break
		}
	}
	if openwrt != "" {
		if b, err := os.ReadFile(h.pid1Comm); err == nil && strings.TrimSpace(string(b)) == "procd" {
			return "fw4", openwrt + " exists and procd is process 1"
		}
	}
	nftOK := false
	if _, err := h.lookPath("nft"); err == nil {
		if rs, err := listNft(h.run); err == nil {
			nftOK = true
			for _, c := range rs.inputChains() {
				if !c.iptablesCompat() {
					return "nftables", fmt.Sprintf("nftables chain %s %s %s filters input", c.Family, c.Table, c.Name)
				}
			}
		}
	}
	iptOK := false
	for _, bin := range []string{"iptables", "ip6tables"} {
		if _, err := h.lookPath(bin); err != nil {
			continue
		}
		out, err := h.run.do(nil, bin, "-w", "5", "-S", "INPUT")
		if err != nil {
			continue
		}
		iptOK = iptOK || bin == "iptables"
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "-A INPUT ") || (strings.HasPrefix(line, "-P INPUT ") && line != "-P INPUT ACCEPT") {
				return "iptables", bin + " INPUT filters"
			}
		}
	}
	switch {
	case nftOK:
		return "nftables", "nothing filters input yet, nft works"
	case iptOK:
		return "iptables", "nothing filters input yet, iptables works"
	}
	return "none", "neither nft nor iptables works"
}

// none opens nothing.
type none struct{}

func (none) Name() string      { return "none" }
func (none) Sync([]Hole) error { return nil }
func (none) Flush() error      { return nil }

// commandTimeout bounds every firewall command: a hung nft or a held
// xtables lock must not stall the daemon.
const commandTimeout = 15 * time.Second

// runner runs one command with stdin and returns its standard output; a
// failure's error carries the command's standard error.
type runner func(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)

// runCommand runs commands directly, or after prefix (tests: "ip netns
// exec NS").
func runCommand(prefix []string) runner {
	return func(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
		argv := append(append(append([]string(nil), prefix...), name), args...)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.WaitDelay = time.Second
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String())
			if msg == "" {
				msg = strings.TrimSpace(stdout.String())
			}
			return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
		}
		return stdout.Bytes(), nil
	}
}

// do runs a command bounded by commandTimeout.
func (r runner) do(stdin []byte, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	return r(ctx, stdin, name, args...)
}
