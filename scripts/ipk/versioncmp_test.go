package main

import (
	"strconv"
	"strings"
)

// The managers' orderings, restated for the tests: the version scheme
// (PackageVersion) and the rows of version_test.go are checked against
// them.

// OpkgCompare compares two versions as opkg-lede does (pkg_compare_versions):
// an optional "EPOCH:" first, then the part before the last '-', then the
// part after it (the revision). Each part is compared in runs: a run of
// non-digits character by character, where '~' sorts before everything
// (even the end), letters by their code, the end and digits as 0, and
// other characters after all letters; then a run of digits as a number.
// The result is <0, 0 or >0.
func OpkgCompare(a, b string) int {
	ea, va, ra := opkgSplit(a)
	eb, vb, rb := opkgSplit(b)
	if ea != eb {
		if ea < eb {
			return -1
		}
		return 1
	}
	if c := opkgRuns(va, vb); c != 0 {
		return c
	}
	return opkgRuns(ra, rb)
}

func opkgSplit(v string) (epoch uint64, version, revision string) {
	v = strings.TrimLeft(v, " \t")
	if e, rest, ok := strings.Cut(v, ":"); ok {
		epoch, _ = strconv.ParseUint(e, 10, 64)
		v = rest
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

func opkgOrder(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	switch c := s[i]; {
	case c == '~':
		return -1
	case isDigit(c):
		return 0
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return int(c)
	default:
		return int(c) + 256
	}
}

func opkgRuns(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			if d := opkgOrder(a, i) - opkgOrder(b, j); d != 0 {
				return d
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		first := 0
		for i < len(a) && j < len(b) && isDigit(a[i]) && isDigit(b[j]) {
			if first == 0 {
				first = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if first != 0 {
			return first
		}
	}
	return 0
}

// ApkCompare compares two versions as apk does (apk_version_compare):
// token by token while both have the same kind of token; digits as
// numbers unless one has a leading zero (then as text), suffixes by
// their rank. When one version goes on where the other stopped, the
// longer one is newer, unless what follows is a pre-release suffix
// (_alpha, _beta, _pre, _rc).
func ApkCompare(a, b string) int {
	ta, tb := apkTokens(a), apkTokens(b)
	i := 0
	for ; i < len(ta) && i < len(tb) && ta[i].kind == tb[i].kind && ta[i].kind < apkEnd; i++ {
		if c := apkTokenCompare(ta[i], tb[i]); c != 0 {
			return c
		}
	}
	x, y := ta[i], tb[i]
	switch {
	case x.kind == y.kind:
		return 0
	case x.kind == apkSuffix && x.suffix < apkNoSuffix:
		return -1
	case y.kind == apkSuffix && y.suffix < apkNoSuffix:
		return 1
	case x.kind > y.kind:
		return -1
	default:
		return 1
	}
}

func apkTokenCompare(a, b apkToken) int {
	var x, y uint64
	switch a.kind {
	case apkDigits:
		if a.text[0] == '0' || b.text[0] == '0' {
			return strings.Compare(a.text, b.text)
		}
		x, y = a.number, b.number
	case apkFirstDigits, apkSuffixNumber, apkRevision:
		x, y = a.number, b.number
	case apkLetter:
		x, y = uint64(a.text[0]), uint64(b.text[0])
	case apkSuffix:
		x, y = uint64(a.suffix), uint64(b.suffix)
	default:
		return strings.Compare(a.text, b.text)
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
