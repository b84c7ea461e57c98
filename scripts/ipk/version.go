package main

import (
	"fmt"
	"strconv"
	"strings"
)

// PackageVersion is the version both package managers see:
// PKG_VERSION-rPKG_RELEASE as the SDK writes it, and for a development
// build PKG_VERSION_pBUILD-rPKG_RELEASE, BUILD being a counter that grows
// with every commit (git rev-list --count HEAD). "_p" is apk's "patch
// level" suffix, which sorts after the release it starts from; opkg
// sorts '_' after the end of the string, so both managers order the
// builds the same way (versions_test.go). build < 0: a release.
func PackageVersion(pkgVersion, release string, build int) string {
	v := pkgVersion
	if build >= 0 {
		v += "_p" + strconv.Itoa(build)
	}
	if release != "" {
		v += "-r" + release
	}
	return v
}

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

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

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

// apk version tokens, in the order apk allows them to follow each other.
const (
	apkFirstDigits = iota
	apkDigits
	apkLetter
	apkSuffix
	apkSuffixNumber
	apkHash
	apkRevision
	apkEnd
	apkInvalid
)

// apk's suffixes, lowest first; the ones before "" sort before the
// release they belong to.
var apkSuffixes = []string{"alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"}

const apkNoSuffix = 4

type apkToken struct {
	kind   int
	suffix int
	number uint64
	text   string
}

// apkTokens splits a version as apk reads it:
// DIGITS{.DIGITS}[letter]{_suffix[DIGITS]}[~hexhash][-rDIGITS]; anything
// else ends it with an apkInvalid token.
func apkTokens(v string) []apkToken {
	var out []apkToken
	digits := func(kind int) {
		n := 0
		for n < len(v) && isDigit(v[n]) {
			n++
		}
		if n == 0 {
			out = append(out, apkToken{kind: apkInvalid})
			v = ""
			return
		}
		num, _ := strconv.ParseUint(v[:n], 10, 64)
		out = append(out, apkToken{kind: kind, number: num, text: v[:n]})
		v = v[n:]
	}
	digits(apkFirstDigits)
	for len(out) > 0 && out[len(out)-1].kind != apkInvalid {
		last := out[len(out)-1].kind
		if v == "" {
			out = append(out, apkToken{kind: apkEnd})
			break
		}
		c := v[0]
		switch {
		case c >= 'a' && c <= 'z' && last <= apkDigits:
			out = append(out, apkToken{kind: apkLetter, text: v[:1]})
			v = v[1:]
		case (c == '.' && last <= apkDigits) || (isDigit(c) && last == apkSuffix):
			if c == '.' {
				v = v[1:]
			}
			kind := apkDigits
			if last == apkSuffix {
				kind = apkSuffixNumber
			}
			digits(kind)
		case c == '_' && last <= apkSuffixNumber:
			n := 1
			for n < len(v) && v[n] >= 'a' && v[n] <= 'z' {
				n++
			}
			s := -1
			for i, name := range apkSuffixes {
				if name != "" && name == v[1:n] {
					s = i
				}
			}
			if s < 0 {
				out = append(out, apkToken{kind: apkInvalid})
				break
			}
			out = append(out, apkToken{kind: apkSuffix, suffix: s, text: v[1:n]})
			v = v[n:]
		case c == '~' && last < apkHash:
			n := 1
			for n < len(v) && strings.IndexByte("0123456789abcdefABCDEF", v[n]) >= 0 {
				n++
			}
			if n == 1 {
				out = append(out, apkToken{kind: apkInvalid})
				break
			}
			out = append(out, apkToken{kind: apkHash, text: v[1:n]})
			v = v[n:]
		case c == '-' && last < apkRevision && strings.HasPrefix(v, "-r"):
			v = v[2:]
			digits(apkRevision)
		default:
			out = append(out, apkToken{kind: apkInvalid})
		}
	}
	return out
}

// ApkValid reports whether apk accepts v as a package version
// (apk_version_validate).
func ApkValid(v string) bool {
	t := apkTokens(v)
	return t[len(t)-1].kind == apkEnd
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

// checkVersion refuses a version one of the managers would misread.
func checkVersion(v string) error {
	if !ApkValid(v) {
		return fmt.Errorf("version %q is not valid for apk", v)
	}
	return nil
}
