package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParseEndpoint reads how a client reaches a host: a DNS name or an IP
// address, with an optional port ("vpn.example.com", "192.0.2.1:51820",
// "2001:db8::1", "[2001:db8::1]:51820"). port is 0 when none is given.
func ParseEndpoint(s string) (host string, port uint16, err error) {
	bad := fmt.Errorf("%q is not a host name or IP address with an optional port", s)
	host = s
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", 0, bad
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", 0, bad
			}
			if port, err = parsePort(rest[1:]); err != nil {
				return "", 0, bad
			}
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() || a.Zone() != "" {
			return "", 0, bad
		}
		return host, port, nil
	}
	if strings.Count(s, ":") == 1 {
		h, p, _ := strings.Cut(s, ":")
		if port, err = parsePort(p); err != nil {
			return "", 0, bad
		}
		host = h
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", 0, bad
		}
		return a.String(), port, nil
	}
	if !validHostname(host) {
		return "", 0, bad
	}
	return strings.TrimSuffix(host, "."), port, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return uint16(n), nil
}
