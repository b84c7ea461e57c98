package peers

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"wgd/config"
)

// fields splits a list as people type it: commas, spaces or both.
func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// ParseAllowedIPs reads what a client sends into the tunnel (AddRequest's
// AllowedIPs): addresses and networks as the configuration takes them.
func ParseAllowedIPs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range fields(s) {
		p, err := config.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or prefix", f)
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

// ParseDNS reads a client's resolver addresses and search domains, as
// wg-quick's DNS line takes them; "none" is none (empty, not nil).
func ParseDNS(s string) ([]string, error) {
	if s == "none" {
		return []string{}, nil
	}
	var out []string
	for _, f := range fields(s) {
		if f == "none" {
			return nil, errors.New(`"none" stands alone: it means no DNS servers`)
		}
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, a.String())
			continue
		}
		if _, port, err := config.ParseEndpoint(f); err != nil || port != 0 || strings.Contains(f, ":") {
			return nil, fmt.Errorf("%q is neither an IP address nor a search domain", f)
		}
		out = append(out, f)
	}
	return out, nil
}
