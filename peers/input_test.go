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
