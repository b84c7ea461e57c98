package firewall

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Fw4Rule is one entry of a "firewall" array in procd service data or in
// netifd interface data: the same options as a `config rule` section of
// /etc/config/firewall. firewall4 and fw3 read both through ubus on every
// start and reload and render the rules into their own tables, so they
// survive `fw4 reload`.
//
// fw4 replaces name with "ubus:<service>[<instance>] rule <n>"; it is kept
// for people reading the data. In netifd interface data a rule without
// device is bound to the interface's own device (the tunnel, not the WAN),
// so a listen-port rule published there needs Device set to the WAN
// device; procd data has no such binding.
// It crosses the control socket (package api): api's compatibility rule applies to its JSON.
type Fw4Rule struct {
	Type     string `json:"type"` // "rule"
	Name     string `json:"name"`
	Src      string `json:"src"`              // source zone, "*" for any
	Device   string `json:"device,omitempty"` // input device
	Family   string `json:"family,omitempty"` // "": IPv4 and IPv6 in one rule
	Proto    string `json:"proto"`            // "udp"
	DestPort string `json:"dest_port"`
	Target   string `json:"target"` // "ACCEPT"
}

// Fw4Rules renders the rules for holes, sorted; invalid holes are left out
// and reported in the error. This is the one rendering of the rule: the
// OpenWrt package's scripts forward its fields to procd as they are, so
// what fw4 gets and what Sync compares are the same value.
func Fw4Rules(holes []Hole) ([]Fw4Rule, error) {
	want, err := wanted(holes)
	rules := make([]Fw4Rule, 0, len(want))
	for _, h := range want {
		src := h.Zone
		if src == "" {
			src = "*"
		}
		rules = append(rules, Fw4Rule{
			Type:     "rule",
			Name:     "Allow-wgd-" + h.Interface,
			Src:      src,
			Device:   h.Device,
			Proto:    "udp",
			DestPort: strconv.Itoa(int(h.Port)),
			Target:   "ACCEPT",
		})
	}
	return rules, err
}

// key identifies what a rule does (name aside).
func (r Fw4Rule) key() string {
	return strings.Join([]string{r.Type, r.Src, r.Device, r.Family, strings.ToLower(r.Proto), r.DestPort, strings.ToUpper(r.Target)}, "|")
}

// fw4 checks that the rules for the holes are published as procd data of
// the wgd service, at service or instance level. It publishes nothing
// itself: procd's service object has no set_data method, and `service
// set` with data alone drops the service's triggers. An init script
// publishes them from its service_data hook, as the OpenWrt package's
// does (package/wgd/files/wgd.init):
//
//	service_data() {
//		json_add_array firewall
//		  (one object per Fw4Rules entry)
//		json_close_array
//	}
//
// Service data, not instance data: procd before 2025 restarts an instance
// whose data changed. procd announces data changes (service.data.update)
// only from 2025 on; with an older procd the init script tells the
// firewall itself (procd_set_config_changed firewall), also when the
// service stops and procd drops its data silently. A listen_port left to
// the kernel cannot be published in advance.
type fw4 struct {
	run     runner
	log     *slog.Logger
	service string

	mu sync.Mutex
}

func (f *fw4) Name() string { return "fw4" }

// Sync compares the published rules with holes and says what differs.
func (f *fw4) Sync(holes []Hole) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	want, invalid := Fw4Rules(holes)
	if invalid != nil {
		return invalid
	}
	arg, _ := json.Marshal(map[string]string{"name": f.service, "type": "firewall"})
	out, err := f.run.do(nil, "ubus", "call", "service", "get_data", string(arg))
	if err != nil {
		return fmt.Errorf("firewall: fw4: reading procd data of service %s: %w", f.service, err)
	}
	have, err := parseProcdFirewall(out, f.service)
	if err != nil {
		return fmt.Errorf("firewall: fw4: %w", err)
	}
	missing, extra := diffFw4(want, have)
	if len(missing) == 0 && len(extra) == 0 {
		f.log.Debug("firewall: fw4 rules published by procd match", "rules", len(want))
		return nil
	}
	var msg []string
	if len(missing) > 0 {
		msg = append(msg, "not published: udp "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		msg = append(msg, "published but not listening: udp "+strings.Join(extra, ", "))
	}
	return fmt.Errorf("firewall: fw4: procd data of service %s does not match the listen ports (%s): /etc/init.d/%s publishes them at start and reload, from a fixed listen_port",
		f.service, strings.Join(msg, "; "), f.service)
}

// Flush: the data goes away with wgd's procd instance.
func (f *fw4) Flush() error { return nil }

// parseProcdFirewall collects the firewall rules of one service from
// `ubus call service get_data`: {"wgd": {"firewall": [...]}} for service
// data, {"wgd": {"<instance>": {"firewall": [...]}}} for instance data.
func parseProcdFirewall(out []byte, service string) ([]Fw4Rule, error) {
	var all map[string]map[string]json.RawMessage
	if err := json.Unmarshal(out, &all); err != nil {
		return nil, fmt.Errorf("reading ubus output: %w", err)
	}
	var rules []Fw4Rule
	for name, raw := range all[service] {
		var list []Fw4Rule
		if name == "firewall" {
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, fmt.Errorf("service data firewall: %w", err)
			}
		} else {
			var inst struct {
				Firewall []Fw4Rule `json:"firewall"`
			}
			if err := json.Unmarshal(raw, &inst); err != nil {
				return nil, fmt.Errorf("instance %s data: %w", name, err)
			}
			list = inst.Firewall
		}
		rules = append(rules, list...)
	}
	return rules, nil
}

// diffFw4 returns the ports of wanted rules that are not published and of
// published rules that are not wanted.
func diffFw4(want, have []Fw4Rule) (missing, extra []string) {
	haveKeys := map[string]bool{}
	for _, r := range have {
		haveKeys[r.key()] = true
	}
	wantKeys := map[string]bool{}
	for _, r := range want {
		wantKeys[r.key()] = true
		if !haveKeys[r.key()] {
			missing = append(missing, r.DestPort)
		}
	}
	for _, r := range have {
		if !wantKeys[r.key()] {
			extra = append(extra, r.DestPort)
		}
	}
	slices.Sort(extra)
	return missing, slices.Compact(extra)
}
