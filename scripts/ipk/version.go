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
// builds the same way (version_test.go). build < 0: a release.
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

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

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

// checkVersion refuses a version one of the managers would misread.
func checkVersion(v string) error {
	if !ApkValid(v) {
		return fmt.Errorf("version %q is not valid for apk", v)
	}
	return nil
}
