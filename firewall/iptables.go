package firewall

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// iptables keeps one ACCEPT per hole at the top of the filter table's
// INPUT chain, for IPv4 (iptables) and IPv6 (ip6tables). The commands are
// whatever the host's iptables is, iptables-legacy or iptables-nft. Changes
// go through iptables-restore --noflush: one atomic commit per family that
// touches nothing but the lines it names.
//
// fw3 (OpenWrt before 22.03) rebuilds INPUT on every reload and drops the
// rule; under procd use the fw4 backend, which fw3 also reads.
type iptables struct {
	run  runner
	log  *slog.Logger
	bins []string // iptables and, when installed, ip6tables

	mu sync.Mutex
}

func newIptables(h host, v4, v6 string, log *slog.Logger) (Backend, error) {
	if _, err := h.lookPath(v4); err != nil {
		return nil, fmt.Errorf("firewall: iptables: %s not found in PATH: install iptables, or choose another backend with option firewall in /etc/config/wgd", v4)
	}
	if _, err := h.lookPath(v4 + "-restore"); err != nil {
		return nil, fmt.Errorf("firewall: iptables: %s-restore not found in PATH", v4)
	}
	ipt := &iptables{run: h.run, log: log, bins: []string{v4}}
	if _, err := h.lookPath(v6); err == nil {
		if _, err := h.lookPath(v6 + "-restore"); err == nil {
			ipt.bins = append(ipt.bins, v6)
		}
	}
	if len(ipt.bins) == 1 {
		log.Warn("firewall: " + v6 + " not found: IPv6 listen ports are not opened")
	}
	return ipt, nil
}

func (ipt *iptables) Name() string { return "iptables" }

func (ipt *iptables) Sync(holes []Hole) error {
	ipt.mu.Lock()
	defer ipt.mu.Unlock()
	want, invalid := wanted(holes)
	errs := []error{invalid}
	for _, bin := range ipt.bins {
		errs = append(errs, ipt.converge(bin, want))
	}
	return errors.Join(errs...)
}

func (ipt *iptables) Flush() error {
	ipt.mu.Lock()
	defer ipt.mu.Unlock()
	var errs []error
	for _, bin := range ipt.bins {
		errs = append(errs, ipt.converge(bin, nil))
	}
	return errors.Join(errs...)
}

// converge lists INPUT, and commits the inserts and deletes that make the
// tagged rules equal want. If INPUT changed in between (a rule to delete
// is already gone), the commit fails as a whole and is computed again.
func (ipt *iptables) converge(bin string, want []Hole) error {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var out []byte
		out, err = ipt.run.do(nil, bin, "-w", "5", "-S", "INPUT")
		if err != nil {
			return fmt.Errorf("firewall: %w", err)
		}
		script, added, removed := planIptables(string(out), want)
		if script == "" {
			return nil
		}
		if _, err = ipt.run.do([]byte(script), bin+"-restore", "-w", "5", "--noflush"); err == nil {
			ipt.log.Info("firewall: "+bin+" rules changed", "added", added, "removed", removed)
			return nil
		}
	}
	return fmt.Errorf("firewall: %w", err)
}

// planIptables reads `iptables -S INPUT` and returns an iptables-restore
// script (empty when nothing is to change). A rule to delete is named by
// its own listed line, so the delete matches it exactly.
func planIptables(listing string, want []Hole) (script string, added, removed []string) {
	wantByComment := map[string]Hole{}
	for _, h := range want {
		wantByComment[h.comment()] = h
	}
	have := map[string]bool{}
	var b strings.Builder
	for _, line := range strings.Split(listing, "\n") {
		rest, ok := strings.CutPrefix(line, "-A INPUT ")
		if !ok {
			continue
		}
		c, ok := iptablesComment(rest)
		if !ok || !isOurs(c) {
			continue
		}
		if _, w := wantByComment[c]; w && !have[c] {
			have[c] = true
			continue
		}
		b.WriteString("-D INPUT " + rest + "\n")
		removed = append(removed, c)
	}
	for _, h := range want {
		if have[h.comment()] {
			continue
		}
		b.WriteString("-I INPUT 1" + iptablesSpec(h) + "\n")
		added = append(added, h.comment())
	}
	if b.Len() == 0 {
		return "", nil, nil
	}
	return "*filter\n" + b.String() + "COMMIT\n", added, removed
}

// iptablesSpec is the rule for h, as -S lists it (after the chain name).
func iptablesSpec(h Hole) string {
	s := ""
	if h.Device != "" {
		s += " -i " + h.Device
	}
	return s + " -p udp -m udp --dport " + strconv.Itoa(int(h.Port)) +
		" -m comment --comment " + strconv.Quote(h.comment()) + " -j ACCEPT"
}

// iptables -S writes a comment in double quotes, with \" and \\ escaped.
var commentRE = regexp.MustCompile(`(?:^| )--comment ("(?:[^"\\]|\\.)*"|[^ ]+)`)

// iptablesComment returns the comment of a listed rule.
func iptablesComment(rule string) (string, bool) {
	m := commentRE.FindStringSubmatch(rule)
	if m == nil {
		return "", false
	}
	c := m[1]
	if strings.HasPrefix(c, `"`) {
		c = c[1 : len(c)-1]
		c = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(c)
	}
	return c, true
}
