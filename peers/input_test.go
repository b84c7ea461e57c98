package peers

import (
	"strings"
	"testing"
)

func TestParseDNSNoneAlone(t *testing.T) {
	for _, s := range []string{"none,1.1.1.1", "1.1.1.1 none"} {
		if got, err := ParseDNS(s); err == nil || !strings.Contains(err.Error(), "none") {
			t.Errorf("ParseDNS(%q) = %q, %v; want an error about none", s, got, err)
		}
	}
	if got, err := ParseDNS("none"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("ParseDNS(none) = %q, %v", got, err)
	}
}

// Whatever is typed, the parsers return an error or values that read
// back as themselves: networks without host bits, resolvers and domains
// without separators or ports.
func FuzzParseInput(f *testing.F) {
	for _, s := range []string{"10.0.0.0/24, fd00::/64", "192.168.1.1", "none", "1.1.1.1 lan", "a,,b", "10.0.0.1/33", "[::1]:53", "x:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ps, err := ParseAllowedIPs(s); err == nil {
			for _, p := range ps {
				if !p.IsValid() || p != p.Masked() {
					t.Errorf("%q: %v", s, p)
				}
				if again, err := ParseAllowedIPs(p.String()); err != nil || len(again) != 1 || again[0] != p {
					t.Errorf("%q: %v reads back as %v, %v", s, p, again, err)
				}
			}
		}
		if dns, err := ParseDNS(s); err == nil {
			for _, d := range dns {
				if d == "" || strings.ContainsAny(d, ", ") || d == "none" {
					t.Errorf("%q: resolver %q", s, d)
				}
				if again, err := ParseDNS(d); err != nil || len(again) != 1 || again[0] != d {
					t.Errorf("%q: %q reads back as %q, %v", s, d, again, err)
				}
			}
		}
	})
}
