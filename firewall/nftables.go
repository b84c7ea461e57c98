package firewall

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// nftables keeps one accept rule per hole at the top of every filter base
// chain on the input hook of the ip, ip6 and inet families.
//
// Why every such chain: each base chain on a hook sees the packet, and a
// drop in any of them is final, so an accept must be where the drop would
// happen. A rule at the top of the chain also comes before jumps into zone
// chains that end in a reject (fw4's input_wan), and before the policy.
//
// Not covered: drops on other hooks (prerouting, netdev ingress, bridge
// input) and chains of the bridge and netdev families. A table created by
// another program after Sync has no rule until the next Sync; a table that
// is deleted and rebuilt (fw4 reload) loses it the same way: on OpenWrt
// use the fw4 backend.
type nftables struct {
	run runner
	log *slog.Logger

	mu       sync.Mutex
	noChains bool // the last Sync found no input chain (logged once)
}

func (n *nftables) Name() string { return "nftables" }

func (n *nftables) Sync(holes []Hole) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	want, invalid := wanted(holes)
	return errors.Join(n.converge(want), invalid)
}

func (n *nftables) Flush() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.converge(nil)
}

// converge reads the ruleset, computes the commands that turn wgd's rules
// into want (none: remove them all) and applies them in one atomic
// transaction. The ruleset can change between reading and applying (a rule
// deleted by someone else): then the transaction fails as a whole and is
// computed once more.
func (n *nftables) converge(want []Hole) error {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var rs *nftRuleset
		rs, err = listNft(n.run)
		if err != nil {
			return fmt.Errorf("firewall: nftables: %w", err)
		}
		chains := rs.inputChains()
		if len(want) > 0 {
			if len(chains) == 0 && !n.noChains {
				n.log.Info("firewall: no nftables filter chain on the input hook: nothing filters, nothing to open")
			}
			n.noChains = len(chains) == 0
		}
		cmds, added, removed := planNft(rs, chains, want)
		if len(cmds) == 0 {
			return nil
		}
		body, _ := json.Marshal(map[string]any{"nftables": cmds})
		if _, err = n.run.do(body, "nft", "-j", "-f", "-"); err == nil {
			n.log.Info("firewall: nftables rules changed", "added", added, "removed", removed)
			return nil
		}
	}
	return fmt.Errorf("firewall: nftables: %w", err)
}

// planNft returns nft JSON commands that delete every tagged rule not
// wanted (or duplicated) and insert every wanted rule missing from a chain,
// with human-readable lists of both for the log.
func planNft(rs *nftRuleset, chains []nftChain, want []Hole) (cmds []any, added, removed []string) {
	isTarget := map[string]bool{}
	for _, c := range chains {
		isTarget[c.key()] = true
	}
	wantByComment := map[string]bool{}
	for _, h := range want {
		wantByComment[h.comment()] = true
	}
	have := map[string]bool{} // chain key + "\x00" + comment
	for _, r := range rs.rules {
		if !isOurs(r.Comment) {
			continue
		}
		k := r.chainKey() + "\x00" + r.Comment
		if isTarget[r.chainKey()] && wantByComment[r.Comment] && !have[k] {
			have[k] = true
			continue
		}
		cmds = append(cmds, map[string]any{"delete": map[string]any{"rule": map[string]any{
			"family": r.Family, "table": r.Table, "chain": r.Chain, "handle": r.Handle,
		}}})
		removed = append(removed, fmt.Sprintf("%s %s %s: %s", r.Family, r.Table, r.Chain, r.Comment))
	}
	for _, c := range chains {
		for _, h := range want {
			if have[c.key()+"\x00"+h.comment()] {
				continue
			}
			// "insert" without a position puts the rule first in the chain.
			cmds = append(cmds, map[string]any{"insert": map[string]any{"rule": map[string]any{
				"family": c.Family, "table": c.Table, "chain": c.Name,
				"comment": h.comment(), "expr": nftExpr(h),
			}}})
			added = append(added, fmt.Sprintf("%s %s %s: %s", c.Family, c.Table, c.Name, h.comment()))
		}
	}
	return cmds, added, removed
}

// nftExpr is `[iifname "DEV"] udp dport PORT accept`; nft adds the
// protocol dependency (meta l4proto udp) itself, in every family.
func nftExpr(h Hole) []any {
	var expr []any
	if h.Device != "" {
		expr = append(expr, map[string]any{"match": map[string]any{
			"op": "==", "left": map[string]any{"meta": map[string]any{"key": "iifname"}}, "right": h.Device,
		}})
	}
	return append(expr,
		map[string]any{"match": map[string]any{
			"op": "==", "left": map[string]any{"payload": map[string]any{"protocol": "udp", "field": "dport"}}, "right": int(h.Port),
		}},
		map[string]any{"accept": nil},
	)
}

// nftRuleset is the part of `nft --json list ruleset` wgd needs.
type nftRuleset struct {
	chains []nftChain
	rules  []nftRule
}

type nftChain struct {
	Family string `json:"family"`
	Table  string `json:"table"`
	Name   string `json:"name"`
	Type   string `json:"type"` // base chains only
	Hook   string `json:"hook"`
	Policy string `json:"policy"`
}

func (c nftChain) key() string { return c.Family + "\x00" + c.Table + "\x00" + c.Name }

// iptablesCompat reports whether the chain is iptables-nft's INPUT: that
// table belongs to iptables, so its rules are the iptables backend's job
// (though an nft rule there works too and iptables lists it).
func (c nftChain) iptablesCompat() bool {
	return (c.Family == "ip" || c.Family == "ip6") && c.Table == "filter" && c.Name == "INPUT"
}

type nftRule struct {
	Family  string `json:"family"`
	Table   string `json:"table"`
	Chain   string `json:"chain"`
	Handle  int    `json:"handle"`
	Comment string `json:"comment"`
}

func (r nftRule) chainKey() string { return r.Family + "\x00" + r.Table + "\x00" + r.Chain }

// inputChains are the chains that decide whether a packet to this host is
// accepted: filter base chains on the input hook of the IP families.
func (rs *nftRuleset) inputChains() []nftChain {
	var out []nftChain
	for _, c := range rs.chains {
		if c.Type != "filter" || c.Hook != "input" {
			continue
		}
		switch c.Family {
		case "ip", "ip6", "inet":
			out = append(out, c)
		}
	}
	return out
}

// listNft reads the ruleset; --terse leaves out set elements, which can be
// huge (block lists) and are of no interest here.
func listNft(run runner) (*nftRuleset, error) {
	out, err := run.do(nil, "nft", "--terse", "--json", "list", "ruleset")
	if err != nil {
		return nil, err
	}
	return parseNft(out)
}

func parseNft(out []byte) (*nftRuleset, error) {
	var doc struct {
		Nftables []struct {
			Chain *nftChain `json:"chain"`
			Rule  *nftRule  `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("reading nft --json output: %w", err)
	}
	rs := &nftRuleset{}
	for _, item := range doc.Nftables {
		if item.Chain != nil {
			rs.chains = append(rs.chains, *item.Chain)
		}
		if item.Rule != nil {
			rs.rules = append(rs.rules, *item.Rule)
		}
	}
	return rs, nil
}
