package firewall

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Probe is an incoming packet whose fate Admits works out: a new UDP
// flow from the WAN to a port of this host.
type Probe struct {
	IPv6   bool
	Device string // the link it arrives on
	Port   uint16
}

// Admission is what the input-hook chains do with a probe.
type Admission struct {
	Admitted bool
	// Chain names the chain that refused it ("family table chain"), or
	// the one whose rules could not be read exactly.
	Chain string
	// Unsure: some rule on the way matched on something Admits does not
	// evaluate (sets by reference, marks, addresses...) and was taken as
	// not matching.
	Unsure bool
}

// NftAdmits evaluates `nft --json list ruleset` output for p: every
// filter chain on the input hook of p's family must accept it, as the
// kernel runs each of them in turn.
func NftAdmits(listing []byte, p Probe) (Admission, error) {
	var doc struct {
		Nftables []struct {
			Chain *nftChain `json:"chain"`
			Rule  *struct {
				nftRule
				Expr []map[string]any `json:"expr"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(listing, &doc); err != nil {
		return Admission{}, fmt.Errorf("reading nft --json output: %w", err)
	}
	rs := &nftRuleset{}
	rules := map[string][][]map[string]any{}
	for _, item := range doc.Nftables {
		if item.Chain != nil {
			rs.chains = append(rs.chains, *item.Chain)
		}
		if item.Rule != nil {
			k := item.Rule.chainKey()
			rules[k] = append(rules[k], item.Rule.Expr)
		}
	}
	ev := &nftEval{rules: rules, probe: p}
	out := Admission{Admitted: true}
	for _, c := range rs.inputChains() {
		if c.Family == "ip" && p.IPv6 || c.Family == "ip6" && !p.IPv6 {
			continue
		}
		v := ev.chain(c.Family, c.Table, c.Name, 0)
		if v == "" {
			v = c.Policy
		}
		if ev.unsure {
			out.Unsure = true
		}
		if v == "drop" || v == "reject" {
			return Admission{Chain: c.Family + " " + c.Table + " " + c.Name, Unsure: out.Unsure}, nil
		}
	}
	return out, nil
}

type nftEval struct {
	rules  map[string][][]map[string]any
	probe  Probe
	unsure bool
}

// chain runs the rules of one chain: the verdict, or "" when the packet
// falls off its end (or returns).
func (e *nftEval) chain(family, table, name string, depth int) string {
	if depth > 16 {
		e.unsure = true
		return ""
	}
	for _, rule := range e.rules[nftChain{Family: family, Table: table, Name: name}.key()] {
		matched := true
		for _, stmt := range rule {
			for kind, arg := range stmt {
				switch kind {
				case "match":
					m, _ := arg.(map[string]any)
					ok, known := e.match(m)
					if !known {
						e.unsure = true
					}
					if !ok {
						matched = false
					}
				case "accept", "drop", "reject":
					if matched {
						return kind
					}
				case "jump", "goto":
					if !matched {
						break
					}
					target, _ := arg.(map[string]any)["target"].(string)
					if v := e.chain(family, table, target, depth+1); v != "" || kind == "goto" {
						return v
					}
				case "return":
					if matched {
						return ""
					}
				}
			}
			if !matched {
				break
			}
		}
	}
	return ""
}

// match evaluates one match expression for the probe; known is false
// for what it cannot tell, which counts as not matching.
func (e *nftEval) match(m map[string]any) (ok, known bool) {
	op, _ := m["op"].(string)
	var have []string // what the probe has for the left side
	switch left := m["left"].(type) {
	case map[string]any:
		switch {
		case left["meta"] != nil:
			switch key, _ := left["meta"].(map[string]any)["key"].(string); key {
			case "iifname":
				have = []string{e.probe.Device}
			case "l4proto":
				have = []string{"udp", "17"}
			case "nfproto":
				have = []string{map[bool]string{false: "ipv4", true: "ipv6"}[e.probe.IPv6]}
			default:
				return false, false
			}
		case left["payload"] != nil:
			pl, _ := left["payload"].(map[string]any)
			proto, _ := pl["protocol"].(string)
			field, _ := pl["field"].(string)
			switch {
			case field == "dport" && (proto == "udp" || proto == "th"):
				have = []string{strconv.Itoa(int(e.probe.Port))}
			case field == "dport" || field == "sport" || field == "type":
				// Another protocol's header: not a UDP packet's.
				return op == "!=", true
			default:
				return false, false
			}
		case left["ct"] != nil:
			if key, _ := left["ct"].(map[string]any)["key"].(string); key != "state" {
				return false, false
			}
			have = []string{"new"}
		default:
			return false, false
		}
	default:
		return false, false
	}
	in, known := rightHas(m["right"], have)
	switch op {
	case "==", "in", "":
		return in, known
	case "!=":
		return !in, known
	}
	return false, false
}

// rightHas tells whether the right side of a match holds one of have.
func rightHas(right any, have []string) (in, known bool) {
	switch r := right.(type) {
	case string:
		for _, h := range have {
			if r == h || strings.HasSuffix(r, "*") && strings.HasPrefix(h, strings.TrimSuffix(r, "*")) {
				return true, true
			}
		}
		return false, true
	case float64:
		return slices.Contains(have, strconv.Itoa(int(r))), true
	case []any:
		return anyHas(r, have)
	case map[string]any:
		switch {
		case r["set"] != nil:
			items, _ := r["set"].([]any)
			return anyHas(items, have)
		case r["range"] != nil:
			bounds, _ := r["range"].([]any)
			if len(bounds) != 2 {
				return false, false
			}
			lo, ok1 := bounds[0].(float64)
			hi, ok2 := bounds[1].(float64)
			if !ok1 || !ok2 {
				return false, false
			}
			for _, h := range have {
				if n, err := strconv.Atoi(h); err == nil && float64(n) >= lo && float64(n) <= hi {
					return true, true
				}
			}
			return false, true
		}
	}
	return false, false
}

func anyHas(items []any, have []string) (in, known bool) {
	known = true
	for _, it := range items {
		ok, k := rightHas(it, have)
		if ok {
			return true, true
		}
		known = known && k
	}
	return false, known
}
