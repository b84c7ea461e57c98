// Command ipk builds wgd's OpenWrt packages without the SDK:
//
//	go run ./scripts/ipk -arch mipsel_24kc [-format ipk|apk] [-build N] [-binary FILE] [-out DIR]
//
// (`make ipk ARCH=...` and `make apk ARCH=...` run it). It cross-builds wgd
// for the OpenWrt architecture (or packs -binary) and writes, for
// -format ipk (opkg, OpenWrt 24.10 and older), DIR/wgd_VERSION_ARCH.ipk
// and DIR/luci-proto-wgd_VERSION_all.ipk, laid out as OpenWrt's
// ipkg-build lays them out: a gzip'ed tar of ./debian-binary,
// ./data.tar.gz and ./control.tar.gz, owner root, sorted, with the
// control file, conffiles and the stock postinst/prerm that call
// default_postinst/default_prerm; for -format apk (apk-tools v3, OpenWrt
// 25.12), DIR/wgd-VERSION.apk and DIR/luci-proto-wgd-VERSION.apk as
// `apk mkpkg` writes them for OpenWrt (apk.go).
//
// The feed Makefiles under package/ are the single source of what goes in:
// name, version, licence, maintainer, URL, section, dependencies,
// description, conffiles, the files `define Package/wgd/install` installs
// and its postinst; for LuCI's package, luci.mk's layout (htdocs/ to
// /www, root/ to /).
//
// Building wgd needs the patched data plane that make names in GOWORK
// (`make wireguard`); without it ipk refuses to build rather than pack
// upstream's.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Arch is how one opkg architecture is built.
type Arch struct {
	Opkg    string // opkg's name, e.g. mipsel_24kc
	GOARCH  string
	Variant string // GOMIPS or GOARM, "" for none
}

// Arches are the router architectures wgd is packaged for; the CPUs of
// the MIPS ones have no FPU (softfloat).
var Arches = []Arch{
	{"mipsel_24kc", "mipsle", "softfloat"},
	{"mips_24kc", "mips", "softfloat"},
	{"arm_cortex-a7_neon-vfpv4", "arm", "7"},
	{"aarch64_cortex-a53", "arm64", ""},
	{"x86_64", "amd64", ""},
}

// LookupArch finds an opkg architecture in Arches.
func LookupArch(name string) (Arch, error) {
	var names []string
	for _, a := range Arches {
		if a.Opkg == name {
			return a, nil
		}
		names = append(names, a.Opkg)
	}
	return Arch{}, fmt.Errorf("unknown opkg architecture %q (known: %s)", name, strings.Join(names, ", "))
}

// Env is the go build environment for the architecture.
func (a Arch) Env() []string {
	env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + a.GOARCH, "GOMIPS=", "GOARM="}
	switch a.GOARCH {
	case "mips", "mipsle":
		env[3] = "GOMIPS=" + a.Variant
	case "arm":
		env[4] = "GOARM=" + a.Variant
	}
	return env
}

func main() {
	arch := flag.String("arch", "", "opkg architecture, e.g. mipsel_24kc")
	build := flag.Int("build", -1, "development build counter (git rev-list --count HEAD): version PKG_VERSION_pN; -1 for a release")
	format := flag.String("format", "ipk", "ipk (opkg) or apk (apk-tools v3)")
	binary := flag.String("binary", "", "wgd binary to pack instead of building one")
	out := flag.String("out", "bin/ipk", "output directory")
	pkgDir := flag.String("pkgdir", "package", "directory of the feed packages")
	metrics := flag.Bool("metrics", false, "build with Prometheus metrics (the feed's CONFIG_WGD_METRICS)")
	signKey := flag.String("sign-key", "", "PEM private key (RSA or EC) to sign .apk packages with")
	flag.Parse()
	var key *APKKey
	if *signKey != "" {
		var err error
		if key, err = LoadAPKKey(*signKey); err != nil {
			fmt.Fprintln(os.Stderr, "ipk:", err)
			os.Exit(1)
		}
	}
	if err := run(*arch, *format, *build, *binary, *out, *pkgDir, *metrics, key); err != nil {
		fmt.Fprintln(os.Stderr, "ipk:", err)
		os.Exit(1)
	}
}

func run(archName, format string, build int, binary, out, pkgDir string, metrics bool, key *APKKey) error {
	arch, err := LookupArch(archName)
	if err != nil {
		return err
	}
	if format != "ipk" && format != "apk" {
		return fmt.Errorf("unknown -format %q (ipk or apk)", format)
	}
	if binary == "" {
		if err := checkDataPlane(os.Getenv("GOWORK")); err != nil {
			return err
		}
	}
	wgd, err := ReadMakefile(filepath.Join(pkgDir, "wgd", "Makefile"))
	if err != nil {
		return err
	}
	luci, err := ReadMakefile(filepath.Join(pkgDir, "luci-proto-wgd", "Makefile"))
	if err != nil {
		return err
	}
	version := PackageVersion(wgd.Var("PKG_VERSION"), wgd.Var("PKG_RELEASE"), build)
	luciVersion := PackageVersion(luci.Var("PKG_VERSION"), luci.Var("PKG_RELEASE"), build)
	for _, v := range []string{version, luciVersion} {
		if err := checkVersion(v); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if binary == "" {
		binary = filepath.Join(out, arch.Opkg, "wgd")
		if err := Build(arch, version, binary, metrics); err != nil {
			return err
		}
	}
	mtime := buildTime()

	p, err := WGDPackage(wgd, filepath.Join(pkgDir, "wgd"), binary, arch.Opkg, version)
	if err != nil {
		return err
	}
	lp, err := LuciPackage(luci, filepath.Join(pkgDir, "luci-proto-wgd"), luciVersion)
	if err != nil {
		return err
	}
	for _, pkg := range []*Package{p, lp} {
		var data []byte
		var file string
		if format == "apk" {
			data, err = pkg.APK(pkg.APKMeta(), StockAPKScripts(pkg.Name, pkg.PostinstPkg, pkg.PrermPkg), mtime, key)
			file = filepath.Join(out, pkg.APKFileName())
		} else {
			data, err = pkg.IPK(mtime)
			file = filepath.Join(out, pkg.FileName())
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			return err
		}
		fmt.Printf("%s (%d bytes)\n", file, len(data))
	}
	return nil
}

// buildTime is SOURCE_DATE_EPOCH when set (reproducible packages), else now.
func buildTime() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Now().UTC().Truncate(time.Second)
}

// checkDataPlane refuses to build without the patched data plane: a
// GOWORK naming the overlay's go.work (make sets it), as scripts/cross.sh
// refuses.
func checkDataPlane(gowork string) error {
	if gowork == "" || gowork == "off" {
		return fmt.Errorf("GOWORK does not name the patched data plane: run through `make ipk`/`make apk`, " +
			"or `make wireguard` and export GOWORK=$PWD/bin/.wireguard-lean/go.work")
	}
	if _, err := os.Stat(gowork); err != nil {
		return fmt.Errorf("GOWORK %s: %v (run `make wireguard`)", gowork, err)
	}
	return nil
}

// Build cross-builds wgd: static, stripped, -trimpath, version stamped,
// with the data plane GOWORK names (make passes the profile's), without
// metrics unless asked, as the feed builds it by default.
func Build(a Arch, version, out string, metrics bool) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	args := []string{"build", "-trimpath", "-ldflags", "-s -w -X main.version=" + version, "-o", out}
	if !metrics {
		args = append(args, "-tags", "nometrics")
	}
	cmd := exec.Command("go", append(args, "./cmd/wgd")...)
	cmd.Env = append(os.Environ(), a.Env()...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s: %w", a.Opkg, err)
	}
	return nil
}

// Makefile is what ReadMakefile takes from a feed Makefile: top-level
// `NAME:=value` variables and the bodies of `define` blocks.
type Makefile struct {
	Path    string
	vars    map[string]string
	defines map[string][]string
}

// ReadMakefile reads the parts of a feed Makefile the packages need.
func ReadMakefile(file string) (*Makefile, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := &Makefile{Path: file, vars: map[string]string{}, defines: map[string][]string{}}
	var name string
	var body []string
	inDefine := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case inDefine && strings.TrimSpace(line) == "endef":
			m.defines[name], inDefine = body, false
		case inDefine:
			body = append(body, line)
		case strings.HasPrefix(line, "define "):
			name, body, inDefine = strings.TrimSpace(strings.TrimPrefix(line, "define ")), nil, true
		case !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, " ") && strings.Contains(line, ":="):
			k, v, _ := strings.Cut(line, ":=")
			m.vars[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if inDefine {
		return nil, fmt.Errorf("%s: define %s has no endef", file, name)
	}
	return m, nil
}

// Var is a top-level variable, "" when unset.
func (m *Makefile) Var(name string) string { return m.vars[name] }

// Define is the body of a define block; ok is false when there is none.
func (m *Makefile) Define(name string) ([]string, bool) {
	b, ok := m.defines[name]
	return b, ok
}

// Field is `FIELD:=value` inside a define block (e.g. SECTION in
// `define Package/wgd`).
func (m *Makefile) Field(define, field string) string {
	lines, _ := m.Define(define)
	for _, l := range lines {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":="); ok && strings.TrimSpace(k) == field {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Script is a define block holding a shell script, with make's $$ turned
// back into $. A make expansion left in it would mean something only the
// build system can expand, and is refused.
func (m *Makefile) Script(define string) (string, bool, error) {
	lines, ok := m.Define(define)
	if !ok {
		return "", false, nil
	}
	s := strings.Join(lines, "\n") + "\n"
	if i := strings.Index(strings.ReplaceAll(s, "$$", ""), "$"); i >= 0 {
		return "", true, fmt.Errorf("%s: define %s: make expansion in a script", m.Path, define)
	}
	return strings.ReplaceAll(s, "$$", "$"), true, nil
}

// Depends turns a DEPENDS value into the control field: build conditions
// ($(...), @...) dropped, + removed, libc first as the SDK adds it.
func Depends(value string) string { return strings.Join(DependsList(value), ", ") }

// DependsList is Depends as a list of names.
func DependsList(value string) []string {
	deps := []string{"libc"}
	for _, w := range strings.Fields(value) {
		if strings.HasPrefix(w, "$(") || strings.HasPrefix(w, "@") {
			continue
		}
		w = strings.TrimPrefix(w, "+")
		if w != "" && w != "libc" {
			deps = append(deps, w)
		}
	}
	return deps
}

// File is one file in a package's data.
type File struct {
	Path string // absolute path on the router, e.g. /usr/sbin/wgd
	Mode int64
	Data []byte
}

// Package is one .ipk.
type Package struct {
	Name, Version, Arch string
	Fields              [][2]string // control fields after Version, before Architecture
	Description         string
	Conffiles           []string
	PostinstPkg         string // package-specific part of the postinst, "" for none
	PrermPkg            string // package-specific part of the prerm, "" for none
	Files               []File
	Meta                APKMeta // what the .apk's info says beyond name, version and description
}

// APKMeta is the package's apk info: as package-pack.mk passes it to
// `apk mkpkg` (OpenWrt's arch "all" is apk's "noarch"; every package
// provides NAME-any).
func (p *Package) APKMeta() APKMeta {
	m := p.Meta
	m.Arch = p.Arch
	if m.Arch == "all" {
		m.Arch = "noarch"
	}
	m.Provides = append([]string{p.Name + "-any"}, m.Provides...)
	return m
}

// feedMeta is what every feed package declares about its origin.
func feedMeta(m *Makefile, depends, url string) APKMeta {
	return APKMeta{
		License: m.Var("PKG_LICENSE"), Origin: "package/" + m.Var("PKG_NAME"),
		URL: url, Maintainer: m.Var("PKG_MAINTAINER"), Depends: DependsList(depends),
	}
}

// FileName is NAME_VERSION_ARCH.ipk, as opkg names packages.
func (p *Package) FileName() string {
	return p.Name + "_" + p.Version + "_" + p.Arch + ".ipk"
}

var installLine = regexp.MustCompile(`^\$\((INSTALL_BIN|INSTALL_DATA|INSTALL_CONF)\) (\S+) \$\(1\)(/\S+)$`)

// installModes are the modes of OpenWrt's install macros.
var installModes = map[string]int64{"INSTALL_BIN": 0o755, "INSTALL_DATA": 0o644, "INSTALL_CONF": 0o600}

// WGDPackage is the wgd package for one architecture: the files
// `define Package/wgd/install` installs, ./files/* from dir and the
// built binary for $(GO_PKG_BUILD_BIN_DIR)/wgd.
func WGDPackage(m *Makefile, dir, binary, arch, version string) (*Package, error) {
	name := m.Var("PKG_NAME")
	p := &Package{
		Name: name, Version: version, Arch: arch,
		Fields: [][2]string{
			{"Depends", Depends(m.Field("Package/"+name, "DEPENDS"))},
			{"Source", "package/" + name},
			{"SourceName", name},
			{"License", m.Var("PKG_LICENSE")},
			{"LicenseFiles", m.Var("PKG_LICENSE_FILES")},
			{"Section", m.Field("Package/"+name, "SECTION")},
			{"URL", m.Field("Package/"+name, "URL")},
			{"Maintainer", m.Var("PKG_MAINTAINER")},
		},
		Meta: feedMeta(m, m.Field("Package/"+name, "DEPENDS"), m.Field("Package/"+name, "URL")),
	}
	desc, _ := m.Define("Package/" + name + "/description")
	p.Description = strings.Join(desc, "\n")
	if c, ok := m.Define("Package/" + name + "/conffiles"); ok {
		for _, l := range c {
			if l = strings.TrimSpace(l); l != "" {
				p.Conffiles = append(p.Conffiles, l)
			}
		}
	}
	post, _, err := m.Script("Package/" + name + "/postinst")
	if err != nil {
		return nil, err
	}
	p.PostinstPkg = post
	if p.PrermPkg, _, err = m.Script("Package/" + name + "/prerm"); err != nil {
		return nil, err
	}
	install, ok := m.Define("Package/" + name + "/install")
	if !ok {
		return nil, fmt.Errorf("%s: no define Package/%s/install", m.Path, name)
	}
	for _, l := range install {
		match := installLine.FindStringSubmatch(strings.TrimSpace(l))
		if match == nil {
			continue
		}
		src := match[2]
		switch {
		case src == "$(GO_PKG_BUILD_BIN_DIR)/"+name:
			src = binary
		case strings.HasPrefix(src, "./"):
			src = filepath.Join(dir, src)
		default:
			return nil, fmt.Errorf("%s: cannot install %s", m.Path, src)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		p.Files = append(p.Files, File{Path: match[3], Mode: installModes[match[1]], Data: data})
	}
	if len(p.Files) == 0 {
		return nil, fmt.Errorf("%s: Package/%s/install installs nothing", m.Path, name)
	}
	return p, nil
}

// luciPostinst is what luci.mk adds to every LuCI package: on a running
// system, drop LuCI's caches and have rpcd load new plugins and ACLs.
const luciPostinst = `#!/bin/sh
# Only on the running system, not in an image being built.
if [ -z "${IPKG_INSTROOT}" ]; then
	rm -rf /tmp/luci-modulecache/ /tmp/luci-indexcache.*
	killall -HUP rpcd 2>/dev/null
fi
exit 0
`

// LuciPackage is the LuCI package, laid out as luci.mk lays it out.
func LuciPackage(m *Makefile, dir, version string) (*Package, error) {
	arch := m.Var("LUCI_PKGARCH")
	if arch == "" {
		return nil, fmt.Errorf("%s: LUCI_PKGARCH is not set", m.Path)
	}
	p := &Package{
		Name: m.Var("PKG_NAME"), Version: version, Arch: arch,
		Fields: [][2]string{
			{"Depends", Depends(m.Var("LUCI_DEPENDS"))},
			{"Source", "package/" + m.Var("PKG_NAME")},
			{"SourceName", m.Var("PKG_NAME")},
			{"License", m.Var("PKG_LICENSE")},
			{"LicenseFiles", m.Var("PKG_LICENSE_FILES")},
			{"Section", "luci"},
			{"URL", m.Var("LUCI_URL")},
			{"Maintainer", m.Var("PKG_MAINTAINER")},
		},
		Meta:        feedMeta(m, m.Var("LUCI_DEPENDS"), m.Var("LUCI_URL")),
		Description: m.Var("LUCI_TITLE"),
		PostinstPkg: luciPostinst,
	}
	for _, tree := range []struct{ src, dst string }{{"htdocs", "/www"}, {"root", "/"}} {
		base := filepath.Join(dir, tree.src)
		err := filepath.WalkDir(base, func(file string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(base, file)
			mode := int64(0o644)
			if info.Mode()&0o111 != 0 {
				mode = 0o755
			}
			p.Files = append(p.Files, File{Path: path.Join(tree.dst, filepath.ToSlash(rel)), Mode: mode, Data: data})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Control is the control file.
func (p *Package) Control(installedSize int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Package: %s\nVersion: %s\n", p.Name, p.Version)
	for _, f := range p.Fields {
		if f[1] != "" {
			fmt.Fprintf(&b, "%s: %s\n", f[0], f[1])
		}
	}
	fmt.Fprintf(&b, "Architecture: %s\nInstalled-Size: %d\n", p.Arch, installedSize)
	lines := strings.Split(strings.TrimSpace(p.Description), "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		switch {
		case i == 0:
			fmt.Fprintf(&b, "Description: %s\n", l)
		case l == "":
			b.WriteString(" .\n")
		default:
			fmt.Fprintf(&b, " %s\n", l)
		}
	}
	return b.String()
}

// The stock scripts of OpenWrt's package-ipkg.mk (quoted here): the work
// is in /lib/functions.sh, which also runs NAME.postinst-pkg and
// NAME.prerm-pkg.
const (
	stockPostinst = `#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0
. "${IPKG_INSTROOT}/lib/functions.sh"
default_postinst "$0" "$@"
`
	stockPrerm = `#!/bin/sh
[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0
. "${IPKG_INSTROOT}/lib/functions.sh"
default_prerm "$0" "$@"
`
)

type entry struct {
	name string // ./path, with a trailing / for directories
	mode int64
	data []byte
}

// tarGz writes entries (sorted by name, parent directories added) as a
// GNU tar owned by root, gzip'ed without a name or time stamp. It also
// returns the size of the uncompressed tar (ipkg-build's Installed-Size).
func tarGz(entries []entry, mtime time.Time) ([]byte, int, error) {
	dirs := map[string]bool{"./": true}
	for _, e := range entries {
		rel := strings.TrimPrefix(strings.TrimSuffix(e.name, "/"), "./")
		for d := path.Dir(rel); d != "." && d != "/"; d = path.Dir(d) {
			dirs["./"+d+"/"] = true
		}
	}
	all := append([]entry(nil), entries...)
	for d := range dirs {
		if !hasName(entries, d) {
			all = append(all, entry{name: d, mode: 0o755})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })

	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range all {
		h := &tar.Header{
			Name: e.name, Mode: e.mode, ModTime: mtime, Format: tar.FormatGNU,
			Uname: "root", Gname: "root", Typeflag: tar.TypeReg, Size: int64(len(e.data)),
		}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, 0, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, 0, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, 0, err
	}
	if err := zw.Close(); err != nil {
		return nil, 0, err
	}
	return gz.Bytes(), raw.Len(), nil
}

func hasName(entries []entry, name string) bool {
	for _, e := range entries {
		if e.name == name {
			return true
		}
	}
	return false
}

// IPK is the package file.
func (p *Package) IPK(mtime time.Time) ([]byte, error) {
	var data []entry
	seen := map[string]bool{}
	for _, f := range p.Files {
		if !strings.HasPrefix(f.Path, "/") || seen[f.Path] {
			return nil, fmt.Errorf("%s: bad or repeated path %q", p.Name, f.Path)
		}
		seen[f.Path] = true
		data = append(data, entry{name: "." + f.Path, mode: f.Mode, data: f.Data})
	}
	for _, c := range p.Conffiles {
		if !seen[c] {
			return nil, fmt.Errorf("%s: conffile %s is not in the package", p.Name, c)
		}
	}
	dataTar, size, err := tarGz(data, mtime)
	if err != nil {
		return nil, err
	}
	control := []entry{
		{name: "./control", mode: 0o644, data: []byte(p.Control(size))},
		{name: "./postinst", mode: 0o755, data: []byte(stockPostinst)},
		{name: "./prerm", mode: 0o755, data: []byte(stockPrerm)},
	}
	if len(p.Conffiles) > 0 {
		cf := append([]string(nil), p.Conffiles...)
		sort.Strings(cf)
		control = append(control, entry{name: "./conffiles", mode: 0o644, data: []byte(strings.Join(cf, "\n") + "\n")})
	}
	if p.PostinstPkg != "" {
		control = append(control, entry{name: "./postinst-pkg", mode: 0o755, data: []byte(p.PostinstPkg)})
	}
	if p.PrermPkg != "" {
		control = append(control, entry{name: "./prerm-pkg", mode: 0o755, data: []byte(p.PrermPkg)})
	}
	controlTar, _, err := tarGz(control, mtime)
	if err != nil {
		return nil, err
	}
	var outer bytes.Buffer
	tw := tar.NewWriter(&outer)
	for _, f := range []entry{
		{name: "./debian-binary", data: []byte("2.0\n")},
		{name: "./data.tar.gz", data: dataTar},
		{name: "./control.tar.gz", data: controlTar},
	} {
		h := &tar.Header{Name: f.name, Mode: 0o644, ModTime: mtime, Format: tar.FormatGNU,
			Uname: "root", Gname: "root", Typeflag: tar.TypeReg, Size: int64(len(f.data))}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(outer.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return gz.Bytes(), nil
}
