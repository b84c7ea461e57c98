package pkgtest

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"testing"
)

// An apk-tools v3 package read back, by a reader written from the
// format's description (apk-tools' adb.h, apk_adb.h), independent of
// the writer in scripts/ipk.

// adbDB is the database block of a package.
type adbDB []byte

type adbVal uint32

func (v adbVal) typ() uint32 { return uint32(v) & 0xf0000000 }
func (v adbVal) off() int    { return int(uint32(v) & 0x0fffffff) }

func (db adbDB) need(off, n int) error {
	if off < 0 || n < 0 || off+n > len(db) {
		return fmt.Errorf("value at %d+%d outside the database (%d bytes)", off, n, len(db))
	}
	return nil
}

func (db adbDB) blob(v adbVal) ([]byte, error) {
	if v == 0 {
		return nil, nil
	}
	var size, n int
	switch v.typ() {
	case 0x80000000:
		size = 1
	case 0x90000000:
		size = 2
	case 0xa0000000:
		size = 4
	default:
		return nil, fmt.Errorf("value %#x is not a blob", uint32(v))
	}
	if v.off()%size != 0 {
		return nil, fmt.Errorf("blob at %d not aligned to %d", v.off(), size)
	}
	if err := db.need(v.off(), size); err != nil {
		return nil, err
	}
	switch size {
	case 1:
		n = int(db[v.off()])
	case 2:
		n = int(binary.LittleEndian.Uint16(db[v.off():]))
	case 4:
		n = int(binary.LittleEndian.Uint32(db[v.off():]))
	}
	if err := db.need(v.off()+size, n); err != nil {
		return nil, err
	}
	return db[v.off()+size : v.off()+size+n], nil
}

func (db adbDB) int(v adbVal) (uint64, error) {
	switch v.typ() {
	case 0:
		if v == 0 {
			return 0, nil
		}
	case 0x10000000:
		return uint64(v.off()), nil
	case 0x20000000:
		if err := db.need(v.off(), 4); err != nil {
			return 0, err
		}
		return uint64(binary.LittleEndian.Uint32(db[v.off():])), nil
	case 0x30000000:
		if err := db.need(v.off(), 8); err != nil {
			return 0, err
		}
		return binary.LittleEndian.Uint64(db[v.off():]), nil
	}
	return 0, fmt.Errorf("value %#x is not an integer", uint32(v))
}

// list is an object's fields (index 1 on) or an array's items.
func (db adbDB) list(v adbVal, typ uint32) ([]adbVal, error) {
	if v == 0 {
		return nil, nil
	}
	if v.typ() != typ {
		return nil, fmt.Errorf("value %#x: type %#x, want %#x", uint32(v), v.typ(), typ)
	}
	if v.off()%4 != 0 {
		return nil, fmt.Errorf("list at %d not aligned", v.off())
	}
	if err := db.need(v.off(), 4); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(db[v.off():]))
	if n < 2 {
		return nil, fmt.Errorf("list at %d holds %d slots: an empty list is written as null", v.off(), n)
	}
	if err := db.need(v.off(), 4*n); err != nil {
		return nil, err
	}
	out := make([]adbVal, n)
	for i := 1; i < n; i++ {
		out[i] = adbVal(binary.LittleEndian.Uint32(db[v.off()+4*i:]))
	}
	return out, nil
}

func field(o []adbVal, i int) adbVal {
	if i < len(o) {
		return o[i]
	}
	return 0
}

// APKFile is one file of the payload.
type APKFile struct {
	Path              string
	Mode              uint64
	User, Group       string
	Size, Mtime       uint64
	Hash              []byte
	Data              []byte
	dirIndex, fileIdx int
}

// APKPackage is an .apk read back.
type APKPackage struct {
	Info     map[string]string // name, version, description, arch, license, origin, maintainer, url
	Size     uint64            // installed-size
	ID       []byte            // the package's 20-byte id
	Depends  []string
	Provides []string
	Dirs     []APKFile // mode, owner of each directory ("" is the root)
	Files    map[string]*APKFile
	Order    []string // file paths in the database's order
	Scripts  map[string]string
	DB       []byte
	Blocks   []int // block types after the database
}

func (p *APKPackage) decode(db adbDB) error {
	if len(db) < 8 || db[0] != 0 || db[1] != 0 {
		return fmt.Errorf("database header % x", db[:min(8, len(db))])
	}
	root, err := db.list(adbVal(binary.LittleEndian.Uint32(db[4:])), 0xe0000000)
	if err != nil {
		return fmt.Errorf("root: %v", err)
	}
	info, err := db.list(field(root, 1), 0xe0000000)
	if err != nil {
		return fmt.Errorf("info: %v", err)
	}
	p.Info = map[string]string{}
	for i, name := range map[int]string{1: "name", 2: "version", 4: "description", 5: "arch",
		6: "license", 7: "origin", 8: "maintainer", 9: "url"} {
		b, err := db.blob(field(info, i))
		if err != nil {
			return fmt.Errorf("info %s: %v", name, err)
		}
		if b != nil {
			p.Info[name] = string(b)
		}
	}
	if p.ID, err = db.blob(field(info, 3)); err != nil {
		return err
	}
	if p.Size, err = db.int(field(info, 12)); err != nil {
		return err
	}
	deps := func(v adbVal) ([]string, error) {
		items, err := db.list(v, 0xd0000000)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, it := range items[min(1, len(items)):] {
			d, err := db.list(it, 0xe0000000)
			if err != nil {
				return nil, err
			}
			name, err := db.blob(field(d, 1))
			if err != nil {
				return nil, err
			}
			out = append(out, string(name))
		}
		return out, nil
	}
	if p.Depends, err = deps(field(info, 15)); err != nil {
		return fmt.Errorf("depends: %v", err)
	}
	if p.Provides, err = deps(field(info, 16)); err != nil {
		return fmt.Errorf("provides: %v", err)
	}
	acl := func(v adbVal) (mode uint64, user, group string, err error) {
		a, err := db.list(v, 0xe0000000)
		if err != nil {
			return 0, "", "", err
		}
		mode, err = db.int(field(a, 1))
		u, err2 := db.blob(field(a, 2))
		g, err3 := db.blob(field(a, 3))
		return mode, string(u), string(g), errorsJoin(err, err2, err3)
	}
	paths, err := db.list(field(root, 2), 0xd0000000)
	if err != nil {
		return fmt.Errorf("paths: %v", err)
	}
	p.Files = map[string]*APKFile{}
	for i := 1; i < len(paths); i++ {
		dir, err := db.list(paths[i], 0xe0000000)
		if err != nil {
			return err
		}
		name, err := db.blob(field(dir, 1))
		if err != nil {
			return err
		}
		d := APKFile{Path: string(name)}
		if d.Mode, d.User, d.Group, err = acl(field(dir, 2)); err != nil {
			return fmt.Errorf("dir %q acl: %v", name, err)
		}
		p.Dirs = append(p.Dirs, d)
		files, err := db.list(field(dir, 3), 0xd0000000)
		if err != nil {
			return err
		}
		for j := 1; j < len(files); j++ {
			fo, err := db.list(files[j], 0xe0000000)
			if err != nil {
				return err
			}
			fname, err := db.blob(field(fo, 1))
			if err != nil {
				return err
			}
			f := &APKFile{Path: "/" + path.Join(string(name), string(fname)), dirIndex: i, fileIdx: j}
			if f.Mode, f.User, f.Group, err = acl(field(fo, 2)); err != nil {
				return err
			}
			if f.Size, err = db.int(field(fo, 3)); err != nil {
				return err
			}
			if f.Mtime, err = db.int(field(fo, 4)); err != nil {
				return err
			}
			if f.Hash, err = db.blob(field(fo, 5)); err != nil {
				return err
			}
			if field(fo, 6) != 0 {
				return fmt.Errorf("%s: not a regular file", f.Path)
			}
			p.Files[f.Path] = f
			p.Order = append(p.Order, f.Path)
		}
	}
	scripts, err := db.list(field(root, 3), 0xe0000000)
	if err != nil {
		return fmt.Errorf("scripts: %v", err)
	}
	p.Scripts = map[string]string{}
	for i, name := range []string{"", "trigger", "pre-install", "post-install", "pre-deinstall",
		"post-deinstall", "pre-upgrade", "post-upgrade"} {
		if i == 0 {
			continue
		}
		b, err := db.blob(field(scripts, i))
		if err != nil {
			return err
		}
		if b != nil {
			p.Scripts[name] = string(b)
		}
	}
	return nil
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// ReadAPK opens an .apk: "ADBd" and a raw deflate stream of "ADB.pckg"
// and 8-byte-aligned blocks (database, signatures, file data).
func ReadAPK(t testing.TB, file string) *APKPackage {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseAPK(b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return p
}

func parseAPK(b []byte) (*APKPackage, error) {
	if !bytes.HasPrefix(b, []byte("ADBd")) {
		return nil, fmt.Errorf("no ADBd magic: % x", b[:min(4, len(b))])
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(b[4:])))
	if err != nil {
		return nil, fmt.Errorf("deflate: %v", err)
	}
	if !bytes.HasPrefix(raw, []byte("ADB.pckg")) {
		return nil, fmt.Errorf("header % x, want ADB.pckg", raw[:min(8, len(raw))])
	}
	p := &APKPackage{}
	rest := raw[8:]
	var data [][]byte
	for first := true; len(rest) > 0; first = false {
		if len(rest) < 4 {
			return nil, fmt.Errorf("%d stray bytes at the end", len(rest))
		}
		word := binary.LittleEndian.Uint32(rest)
		typ, size := int(word>>30), int(word&0x3fffffff)
		if typ == 3 || size < 4 || size > len(rest) {
			return nil, fmt.Errorf("block header %#x with %d bytes left", word, len(rest))
		}
		padded := (size + 7) &^ 7
		if padded > len(rest) {
			return nil, fmt.Errorf("block of %d bytes is not padded", size)
		}
		for _, z := range rest[size:padded] {
			if z != 0 {
				return nil, fmt.Errorf("padding not zero")
			}
		}
		payload := rest[4:size]
		switch {
		case first && typ != 0:
			return nil, fmt.Errorf("first block has type %d, want the database", typ)
		case first:
			p.DB = payload
		case typ == 0:
			return nil, fmt.Errorf("a second database block")
		default:
			p.Blocks = append(p.Blocks, typ)
			if typ == 2 {
				data = append(data, payload)
			}
		}
		rest = rest[padded:]
	}
	if err := p.decode(adbDB(p.DB)); err != nil {
		return nil, err
	}
	// Data blocks: one per non-empty file, in the database's order.
	k := 0
	for _, name := range p.Order {
		f := p.Files[name]
		if f.Size == 0 {
			continue
		}
		if k >= len(data) {
			return nil, fmt.Errorf("no data block for %s", name)
		}
		d := data[k]
		k++
		if len(d) < 8 || int(binary.LittleEndian.Uint32(d)) != f.dirIndex || int(binary.LittleEndian.Uint32(d[4:])) != f.fileIdx {
			return nil, fmt.Errorf("data block %d is not for %s (%d/%d)", k, name, f.dirIndex, f.fileIdx)
		}
		f.Data = d[8:]
	}
	if k != len(data) {
		return nil, fmt.Errorf("%d data blocks for %d non-empty files", len(data), k)
	}
	return p, nil
}

// InstallAPK unpacks an .apk into the root as apk does (files at /, the
// scripts kept as /lib/apk/exec/NAME.SCRIPT to run by hand).
func (r *Root) InstallAPK(file string) *APKPackage {
	r.t.Helper()
	p := ReadAPK(r.t, file)
	for _, name := range p.Order {
		f := p.Files[name]
		if err := copyBytes(r.Path(name), f.Data, fs.FileMode(f.Mode)); err != nil {
			r.t.Fatal(err)
		}
	}
	for s, body := range p.Scripts {
		r.WriteFile("lib/apk/exec/"+p.Info["name"]+"."+s, body, 0o755)
	}
	return p
}

func TestWGDAPKLayout(t *testing.T) {
	tl := getTools(t)
	p := ReadAPK(t, tl.wgdAPK)
	for k, want := range map[string]string{
		"name": "wgd", "version": testVersion, "arch": "x86_64", "license": "MIT",
		"origin": "package/wgd", "url": "https://wgd.invalid/", "maintainer": "The wgd authors",
	} {
		if p.Info[k] != want {
			t.Errorf("info %s: %q, want %q", k, p.Info[k], want)
		}
	}
	if d := p.Info["description"]; !strings.Contains(d, "WireGuard") || strings.Contains(d, "\n") {
		t.Errorf("description %q", d)
	}
	if strings.Join(p.Depends, " ") != "kmod-tun libc" || strings.Join(p.Provides, " ") != "wgd-any" {
		t.Errorf("depends %v, provides %v", p.Depends, p.Provides)
	}
	// The id: the start of the SHA-256 of the database with zeroes in
	// its place.
	zeroed := bytes.Replace(p.DB, p.ID, make([]byte, len(p.ID)), 1)
	if sum := sha256.Sum256(zeroed); len(p.ID) != 20 || !bytes.Equal(p.ID, sum[:20]) {
		t.Errorf("id %x, want %x", p.ID, sum[:20])
	}

	want := tl.wgdPayload()
	var list []string
	var size uint64
	for name, w := range want {
		list = append(list, name)
		f := p.Files[name]
		if f == nil {
			t.Errorf("missing %s", name)
			continue
		}
		src, err := os.ReadFile(w.src)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Data, src) || f.Size != uint64(len(src)) {
			t.Errorf("%s differs from %s", name, w.src)
		}
		if int64(f.Mode) != w.mode {
			t.Errorf("%s mode %o, want %o", name, f.Mode, w.mode)
		}
	}
	sort.Strings(list)
	conf, _ := os.ReadFile("wgd/files/wgd.config")
	meta := map[string]string{
		"/lib/apk/packages/wgd.list":             strings.Join(list, "\n") + "\n",
		"/lib/apk/packages/wgd.conffiles":        "/etc/config/wgd\n",
		"/lib/apk/packages/wgd.conffiles_static": fmt.Sprintf("/etc/config/wgd %x\n", sha256.Sum256(conf)),
	}
	for name, content := range meta {
		if f := p.Files[name]; f == nil || string(f.Data) != content || f.Mode != 0o644 {
			t.Errorf("%s: %+v, want %q", name, f, content)
		}
	}
	if len(p.Files) != len(want)+len(meta) {
		t.Errorf("%d files, want %d: %v", len(p.Files), len(want)+len(meta), p.Order)
	}
	for _, f := range p.Files {
		size += f.Size
		if sum := sha256.Sum256(f.Data); !bytes.Equal(f.Hash, sum[:]) {
			t.Errorf("%s: hash %x, content %x", f.Path, f.Hash, sum)
		}
		if f.User != "root" || f.Group != "root" || f.Mtime != 1700000000 {
			t.Errorf("%s: %s:%s mtime %d", f.Path, f.User, f.Group, f.Mtime)
		}
	}
	if p.Size != size {
		t.Errorf("installed-size %d, files %d", p.Size, size)
	}
	// Every directory, the root first, sorted, 0755 root:root; files
	// sorted within each.
	var dirs []string
	for _, d := range p.Dirs {
		dirs = append(dirs, d.Path)
		if d.Mode != 0o755 || d.User != "root" || d.Group != "root" {
			t.Errorf("directory %q: %o %s:%s", d.Path, d.Mode, d.User, d.Group)
		}
	}
	wantDirs := "|etc|etc/config|etc/hotplug.d|etc/hotplug.d/iface|etc/init.d|etc/uci-defaults|lib|lib/apk|lib/apk/packages|lib/netifd|lib/netifd/proto|lib/upgrade|lib/upgrade/keep.d|usr|usr/sbin"
	if got := strings.Join(dirs, "|"); got != wantDirs {
		t.Errorf("directories %s\nwant %s", got, wantDirs)
	}
	if !sort.StringsAreSorted(p.Order) {
		t.Errorf("files not in order: %v", p.Order)
	}
	for _, b := range p.Blocks {
		if b != 2 {
			t.Errorf("unexpected block type %d (unsigned package)", b)
		}
	}

	// The scripts of OpenWrt's package-pack.mk around the package's own
	// postinst.
	post := p.Scripts["post-install"]
	for _, want := range []string{`export pkgname="wgd"`, "default_postinst\n", "get_proto_handlers"} {
		if !strings.Contains(post, want) {
			t.Errorf("post-install lacks %q:\n%s", want, post)
		}
	}
	if strings.Count(post, "#!") != 1 || !strings.HasPrefix(post, "#!/bin/sh\n") {
		t.Errorf("post-install must have one shebang, first:\n%s", post)
	}
	if up := p.Scripts["post-upgrade"]; up != "#!/bin/sh\nexport PKG_UPGRADE=1\n"+strings.TrimPrefix(post, "#!/bin/sh\n") {
		t.Errorf("post-upgrade is not PKG_UPGRADE=1 and post-install:\n%s", up)
	}
	if pre := p.Scripts["pre-deinstall"]; !strings.Contains(pre, "default_prerm\n") || !strings.Contains(pre, `pkgname="wgd"`) {
		t.Errorf("pre-deinstall:\n%s", pre)
	}
	if len(p.Scripts) != 3 {
		t.Errorf("scripts %v", p.Scripts)
	}
}

func TestLuciAPKLayout(t *testing.T) {
	p := ReadAPK(t, getTools(t).luciAPK)
	for k, want := range map[string]string{"name": "luci-proto-wgd", "arch": "noarch", "license": "MIT", "version": testVersion} {
		if p.Info[k] != want {
			t.Errorf("info %s: %q, want %q", k, p.Info[k], want)
		}
	}
	if strings.Join(p.Depends, " ") != "libc wgd" || strings.Join(p.Provides, " ") != "luci-proto-wgd-any" {
		t.Errorf("depends %v, provides %v", p.Depends, p.Provides)
	}
	for _, name := range []string{"/www/luci-static/resources/protocol/wgd.js", "/usr/libexec/rpcd/luci.wgd",
		"/usr/share/rpcd/acl.d/luci-proto-wgd.json", "/lib/apk/packages/luci-proto-wgd.list"} {
		if p.Files[name] == nil {
			t.Errorf("missing %s", name)
		}
	}
	if p.Files["/usr/libexec/rpcd/luci.wgd"].Mode != 0o755 {
		t.Error("rpcd plugin not executable")
	}
	if !strings.Contains(p.Scripts["post-install"], "luci-indexcache") {
		t.Errorf("post-install:\n%s", p.Scripts["post-install"])
	}
}

// The licence is declared in both formats and in both feed Makefiles, and
// the file they name is the MIT licence.
func TestLicenceInBothFormats(t *testing.T) {
	tl := getTools(t)
	lic, err := os.ReadFile("../LICENSE")
	if err != nil || !bytes.HasPrefix(lic, []byte("MIT License\n")) || !bytes.Contains(lic, []byte("The wgd authors")) {
		t.Fatalf("LICENSE: %v\n%s", err, lic)
	}
	for _, ipk := range []string{tl.wgdIPK, tl.luciIPK} {
		f := ReadIPK(t, ipk).Fields()
		if f["License"] != "MIT" || f["LicenseFiles"] != "LICENSE" {
			t.Errorf("%s: License %q LicenseFiles %q", ipk, f["License"], f["LicenseFiles"])
		}
	}
	for _, apk := range []string{tl.wgdAPK, tl.luciAPK} {
		if l := ReadAPK(t, apk).Info["license"]; l != "MIT" {
			t.Errorf("%s: license %q", apk, l)
		}
	}
}
