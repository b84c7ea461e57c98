package peers

import (
	"net/netip"
	"strings"
	"testing"
)

// prefixList reads addresses with prefix lengths, host bits kept; an
// address alone is a host.
func prefixList(s string) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range strings.Fields(s) {
		if !strings.Contains(f, "/") {
			f += "/" + map[bool]string{true: "32", false: "128"}[strings.Contains(f, ".")]
		}
		out = append(out, netip.MustParsePrefix(f))
	}
	return out
}

func TestAllocate(t *testing.T) {
	for _, c := range []struct {
		name, iface, used, want string
	}{
		{"empty", "10.0.0.1/24", "", "10.0.0.2/32"},
		{"router not first", "10.0.0.5/24", "", "10.0.0.1/32"},
		{"next", "10.0.0.1/24", "10.0.0.2/32 10.0.0.3/32", "10.0.0.4/32"},
		{"gap", "10.0.0.1/24", "10.0.0.2/32 10.0.0.4/32", "10.0.0.3/32"},
		{"unsorted", "10.0.0.1/24", "10.0.0.4 10.0.0.3/32 10.0.0.2", "10.0.0.5/32"},
		{"routed range", "10.0.0.1/24", "10.0.0.2/32 10.0.0.4/30", "10.0.0.3/32"},
		{"range covers next", "10.0.0.1/24", "10.0.0.0/29", "10.0.0.8/32"},
		{"wide prefixes do not count", "10.0.0.1/24", "0.0.0.0/0 10.0.0.0/24 10.0.0.0/16", "10.0.0.2/32"},
		{"other subnets do not count", "10.0.0.1/24", "10.0.1.2/32 192.168.1.0/24 fd00::2/128", "10.0.0.2/32"},
		{"last before broadcast", "10.0.0.1/29", "10.0.0.2/31 10.0.0.4/31", "10.0.0.6/32"},
		{"slash 31", "10.0.0.0/31", "", "10.0.0.1/32"},
		{"slash 31 upper", "10.0.0.1/31", "", "10.0.0.0/32"},
		{"ipv6", "fd00:10::1/64", "", "fd00:10::2/128"},
		{"ipv6 crowded", "fd00:10::1/64", "fd00:10::2/127 fd00:10::4/126 fd00:10::9/128", "fd00:10::8/128"},
		{"ipv6 last", "fd00::1/126", "fd00::2", "fd00::3/128"},
		{"both", "10.0.0.1/24 fd00:10::1/64", "10.0.0.2/32 fd00:10::2/128 fd00:10::3/128", "10.0.0.3/32 fd00:10::4/128"},
		{"host address skipped", "10.0.0.1/32 fd00:10::1/64", "", "fd00:10::2/128"},
		{"one address per subnet", "10.0.0.1/24 10.0.0.7/24 10.1.0.1/16", "", "10.0.0.2/32 10.1.0.2/32"},
	} {
		got, err := Allocate(prefixList(c.iface), prefixList(c.used))
		if err != nil || join(got) != strings.ReplaceAll(c.want, " ", ", ") {
			t.Errorf("%s: %v %v, want %s", c.name, got, err, c.want)
		}
	}
}

func TestAllocateFull(t *testing.T) {
	for _, c := range []struct{ name, iface, used, want string }{
		{"ipv4", "10.0.0.1/29", "10.0.0.2 10.0.0.3 10.0.0.4/31 10.0.0.6", "10.0.0.0/29 is full"},
		{"ipv4 slash 30", "10.0.0.1/30", "10.0.0.2", "10.0.0.0/30 is full"},
		{"ipv6", "fd00::1/126", "fd00::2/127", "fd00::/126 is full"},
		{"one family full fails all", "10.0.0.1/30 fd00::1/64", "10.0.0.2", "10.0.0.0/30 is full"},
		{"end of the address space", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd/126", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", "is full"},
		{"no subnet", "10.0.0.1/32", "", "no subnet"},
		{"no address", "", "", "no subnet"},
	} {
		got, err := Allocate(prefixList(c.iface), prefixList(c.used))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v %v, want an error with %q", c.name, got, err, c.want)
		}
	}
}

// Filling a whole subnet gives every host address once, then fails.
func TestAllocateUntilFull(t *testing.T) {
	for _, c := range []struct {
		iface string
		hosts int // usable addresses besides the interface's
	}{{"10.0.0.1/24", 253}, {"10.9.8.77/26", 61}, {"fd00:10::1/120", 254}} {
		iface := prefixList(c.iface)
		var used []netip.Prefix
		seen := map[netip.Prefix]bool{}
		for range c.hosts {
			got, err := Allocate(iface, used)
			if err != nil {
				t.Fatalf("%s after %d: %v", c.iface, len(used), err)
			}
			p := got[0]
			if seen[p] || p.Addr() == iface[0].Addr() || !iface[0].Masked().Contains(p.Addr()) {
				t.Fatalf("%s: bad or repeated address %s", c.iface, p)
			}
			seen[p] = true
			used = append(used, p)
		}
		if got, err := Allocate(iface, used); err == nil {
			t.Errorf("%s: %s given out after all %d were taken", c.iface, got, c.hosts)
		}
	}
}
