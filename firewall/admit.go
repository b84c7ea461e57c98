package firewall

import (
	"encoding/json"
	"errors"
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
		if !e.matches(rule) {
			continue
		}
		for _, stmt := range rule {
			for kind, arg := range stmt {
				switch kind {
				case "accept", "drop", "reject":
					return kind
				case "jump", "goto":
					target, _ := arg.(map[string]any)["target"].(string)
					if v := e.chain(family, table, target, depth+1); v != "" || kind == "goto" {
						return v
					}
				case "return":
					return ""
				}
			}
		}
	}
	return ""
}

// matches tells whether every match of a rule holds for the probe. A
// match it cannot evaluate makes the answer unsure, unless another match
// of the rule already fails.
func (e *nftEval) matches(rule []map[string]any) bool {
	unknown := false
	for _, stmt := range rule {
		m, ok := stmt["match"].(map[string]any)
		if !ok {
			continue
		}
		holds, known := e.match(m)
		switch {
		case !known:
			unknown = true
		case !holds:
			return false
		}
	}
	if unknown {
		e.unsure = true
		return false
	}
	return true
}

// match evaluates one match expression for the probe; known is false
// for what it cannot tell, which counts as not matching.
func (e *nftEval) match(m map[string]any) (ok, known bool) {
	op, _ := m["op"].(string)
	if otherProtocol(m["left"]) {
		// A header the probe, a UDP packet, does not have.
		return op == "!=", true
	}
	var have []string // what the probe has for the left side
	switch left := m["left"].(type) {
	case map[string]any:
		switch {
		case left["meta"] != nil:
			switch key, _ := left["meta"].(map[string]any)["key"].(string); key {
			case "iifname", "iif":
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
			default:
				return false, false
			}
		case left["ct"] != nil:
			switch key, _ := left["ct"].(map[string]any)["key"].(string); key {
			case "state":
				have = []string{"new"}
			case "status":
				have = []string{} // a new flow from the WAN: not dnat, not confirmed
			default:
				return false, false
			}
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

// otherProtocol tells whether an expression reads the header of a
// protocol other than UDP (tcp flags, icmp type...).
func otherProtocol(x any) bool {
	switch v := x.(type) {
	case map[string]any:
		if pl, ok := v["payload"].(map[string]any); ok {
			switch proto, _ := pl["protocol"].(string); proto {
			case "udp", "th", "ip", "ip6", "":
			default:
				return true
			}
		}
		for _, y := range v {
			if otherProtocol(y) {
				return true
			}
		}
	case []any:
		for _, y := range v {
			if otherProtocol(y) {
				return true
			}
		}
	}
	return false
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

// IptablesAdmits evaluates `iptables -S` output (the filter table of
// iptables-legacy, which nft does not show) for p: INPUT's rules, the
// chains they jump to, and INPUT's policy.
func IptablesAdmits(listing string, p Probe) (Admission, error) {
	policy := map[string]string{}
	rules := map[string][][]string{}
	for _, line := range strings.Split(listing, "\n") {
		f, err := shellFields(line)
		if err != nil {
			return Admission{}, fmt.Errorf("reading iptables -S output: %w", err)
		}
		switch {
		case len(f) == 3 && f[0] == "-P":
			policy[f[1]] = f[2]
		case len(f) >= 2 && f[0] == "-A":
			rules[f[1]] = append(rules[f[1]], f[2:])
		}
	}
	if _, ok := policy["INPUT"]; !ok {
		return Admission{}, errors.New("reading iptables -S output: no INPUT chain")
	}
	e := &iptEval{rules: rules, probe: p}
	v := e.chain("INPUT", 0)
	if v == "" {
		v = strings.ToLower(policy["INPUT"])
	}
	if v == "drop" || v == "reject" {
		return Admission{Chain: "filter INPUT", Unsure: e.unsure}, nil
	}
	return Admission{Admitted: true, Unsure: e.unsure}, nil
}

type iptEval struct {
	rules  map[string][][]string
	probe  Probe
	unsure bool
}

func (e *iptEval) chain(name string, depth int) string {
	if depth > 16 {
		e.unsure = true
		return ""
	}
	for _, r := range e.rules[name] {
		target, jump, ok := e.match(r)
		if !ok {
			continue
		}
		switch target {
		case "ACCEPT":
			return "accept"
		case "DROP":
			return "drop"
		case "REJECT":
			return "reject"
		case "RETURN":
			return ""
		case "":
			continue // no target: a counting rule
		}
		if _, known := e.rules[target]; !known {
			e.unsure = true // a target of an extension (LOG, MARK...)
			continue
		}
		if v := e.chain(target, depth+1); v != "" || !jump {
			return v
		}
	}
	return ""
}

// match evaluates one rule's options for the probe: its target, whether
// it jumps (-j) rather than goes (-g), and whether it matches. What it
// cannot evaluate counts as not matching.
func (e *iptEval) match(r []string) (target string, jump, ok bool) {
	ok = true
	jump = true
	neg := false
	for i := 0; i < len(r); i++ {
		opt := r[i]
		arg := ""
		if i+1 < len(r) {
			arg = r[i+1]
		}
		res := true
		switch opt {
		case "!":
			neg = true
			continue
		case "-j", "-g":
			target, jump = arg, opt == "-j"
			i++
			for i+1 < len(r) && strings.HasPrefix(r[i+1], "--") { // the target's own options
				i += 2
			}
			continue
		case "-m":
			i++
			continue
		case "--comment":
			i++
			continue
		case "-i":
			res = arg == e.probe.Device || strings.HasSuffix(arg, "+") && strings.HasPrefix(e.probe.Device, strings.TrimSuffix(arg, "+"))
			i++
		case "-p":
			res = arg == "udp" || arg == "17" || arg == "all"
			i++
		case "--dport", "--dports", "--destination-port", "--destination-ports":
			res = portIn(arg, e.probe.Port)
			i++
		case "--ctstate", "--state":
			res = slices.Contains(strings.Split(arg, ","), "NEW")
			i++
		default:
			e.unsure = true
			return target, jump, false
		}
		if res == neg {
			ok = false
		}
		neg = false
	}
	return target, jump, ok
}

// portIn tells whether port is in an iptables port list: "N", "N:M",
// "A,B:C".
func portIn(list string, port uint16) bool {
	for _, item := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(item, ":")
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if !isRange {
			b, err2 = a, err1
		}
		if err1 == nil && err2 == nil && int(port) >= a && int(port) <= b {
			return true
		}
	}
	return false
}

// shellFields splits a line as iptables -S quotes it (double quotes
// around values with spaces).
func shellFields(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			quoted, in = !quoted, true
		case !quoted && (c == ' ' || c == '\t'):
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quoted {
		return nil, errors.New("unterminated quote")
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}
