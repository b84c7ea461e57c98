package main

import "testing"

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// The versions the packages carry order the same way under opkg's rules
// and apk's, restated in versioncmp_test.go. Each row was also checked by hand
// with the real tools (`opkg compare-versions A '<<' B` of opkg-lede and
// `apk version -t A B` of apk-tools 3.0.6).
func TestVersionOrder(t *testing.T) {
	for _, c := range []struct {
		a, b       string
		opkg, apk  int // sign of the comparison of a with b
		sameInBoth bool
	}{
		// Development builds: the counter orders them, a release is
		// older than every build after it, the next release newer.
		{"0.1.0_p7-r1", "0.1.0_p12-r1", -1, -1, true},
		{"0.1.0_p12-r1", "0.1.0_p12-r1", 0, 0, true},
		{"0.1.0-r1", "0.1.0_p1-r1", -1, -1, true},
		{"0.1.0_p0-r1", "0.1.0-r1", 1, 1, true},
		{"0.1.0_p999-r1", "0.1.1-r1", -1, -1, true},
		{"0.1.0_p7-r1", "0.1.0_p7-r2", -1, -1, true},
		{"0.1.0_p7-r9", "0.1.0_p7-r10", -1, -1, true},
		{"0.1.9-r1", "0.1.10-r1", -1, -1, true},
		{"0.2.0_p1-r1", "0.1.0_p500-r1", 1, 1, true},
		// Why not a pre-release suffix: opkg sorts 1.0_rc1 after 1.0,
		// apk before it.
		{"1.0_rc1", "1.0", 1, -1, false},
	} {
		if got := sign(OpkgCompare(c.a, c.b)); got != c.opkg {
			t.Errorf("opkg: %s vs %s: %d, want %d", c.a, c.b, got, c.opkg)
		}
		if got := sign(OpkgCompare(c.b, c.a)); got != -c.opkg {
			t.Errorf("opkg: %s vs %s: %d, want %d", c.b, c.a, got, -c.opkg)
		}
		if got := sign(ApkCompare(c.a, c.b)); got != c.apk {
			t.Errorf("apk: %s vs %s: %d, want %d", c.a, c.b, got, c.apk)
		}
		if got := sign(ApkCompare(c.b, c.a)); got != -c.apk {
			t.Errorf("apk: %s vs %s: %d, want %d", c.b, c.a, got, -c.apk)
		}
		if (c.opkg == c.apk) != c.sameInBoth {
			t.Errorf("%s vs %s: table row inconsistent", c.a, c.b)
		}
	}
}

// The rules themselves, on cases whose answer is known from the tools.
func TestVersionRules(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0~rc1", "1.0", -1}, // '~' before the end
		{"1.0a", "1.0", 1},
		{"1.0", "1.0.0", -1},
		{"1:0.1", "2.0", 1}, // epoch
		{"1.0-r1", "1.0-r01", 0},
		{"a871808", "1d2c3f4", 1}, // a git hash: letters after digits
	} {
		if got := sign(OpkgCompare(c.a, c.b)); got != c.want {
			t.Errorf("opkg: %s vs %s: %d, want %d", c.a, c.b, got, c.want)
		}
	}
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0_alpha", "1.0_beta", -1},
		{"1.0_pre1", "1.0_rc1", -1},
		{"1.0_rc1", "1.0", -1},
		{"1.0", "1.0_p1", -1},
		{"1.0_git1", "1.0_p1", -1},
		{"1.0a", "1.0b", -1},
		{"1.0", "1.0a", -1},
		{"1.01", "1.1", -1}, // a leading zero compares as text
		{"1.0-r1", "1.0-r2", -1},
		{"1.0", "1.0-r0", -1},
		{"2", "10", -1},
	} {
		if got := sign(ApkCompare(c.a, c.b)); got != c.want {
			t.Errorf("apk: %s vs %s: %d, want %d", c.a, c.b, got, c.want)
		}
	}
	for v, ok := range map[string]bool{
		"0.1.0_p12-r1": true, "0.1.0-r1": true, "1.0_rc1": true, "1.2.3a_p1~abc-r2": true,
		"0.1.0+git.a871808-r1": false, // the old development versions
		"0.1.0-1":              false, "1:0.1": false, "": false, "v0.1.0": false, "1.0_foo": false, "1.0-r": false,
	} {
		if got := ApkValid(v); got != ok {
			t.Errorf("ApkValid(%q) = %v, want %v", v, got, ok)
		}
	}
}
