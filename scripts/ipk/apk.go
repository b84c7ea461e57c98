package main

// The .apk of OpenWrt 25.12 (apk-tools v3), as `apk mkpkg` writes it for
// OpenWrt's package-pack.mk. The format, in our words:
//
// A file is "ADBd" and then a raw deflate stream of: "ADB." and the
// schema "pckg" (two little-endian uint32s), followed by blocks. A block
// starts with a uint32 holding its type in the top two bits (0 the
// database, 1 a signature, 2 file data) and in the others its length
// counting these four bytes; blocks are padded with zeroes to a multiple
// of 8. The first block is the database, then optional signatures, then
// one data block per non-empty regular file, in the order of the paths
// and files of the database, each starting with the 1-based indexes of
// its directory and file (two uint32s).
//
// The database is a byte string starting with a 4-byte header (two
// version bytes, both 0, two reserved) and the root value. A value is a
// uint32: the top four bits give its type, the rest a number or an
// offset into the database: small integers inline, bigger ones as 32 or
// 64 bits stored elsewhere, blobs as a length (1, 2 or 4 bytes) and the
// bytes, objects and arrays as a list of values whose first one is the
// count of slots (itself included). An object's fields are numbered from
// 1 and trailing unset ones are left out; arrays of objects are sorted.
//
// The package object holds the package info (name, version, a 20-byte
// id: the start of the SHA-256 of the database written with zeroes
// there, description, arch, license, origin, maintainer, url, installed
// size, depends, provides), the directories with their files (name,
// mode, owner, size, mtime, SHA-256) and the scripts.

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Value types (the top four bits of a value).
const (
	adbInt     = 0x10000000
	adbInt32   = 0x20000000
	adbInt64   = 0x30000000
	adbBlob8   = 0x80000000
	adbBlob16  = 0x90000000
	adbBlob32  = 0xa0000000
	adbArray   = 0xd0000000
	adbObject  = 0xe0000000
	adbValMask = 0x0fffffff
)

// Field numbers of the package schema.
const (
	pkgInfo    = 1
	pkgPaths   = 2
	pkgScripts = 3

	infoName          = 1
	infoVersion       = 2
	infoHashes        = 3
	infoDescription   = 4
	infoArch          = 5
	infoLicense       = 6
	infoOrigin        = 7
	infoMaintainer    = 8
	infoURL           = 9
	infoInstalledSize = 12
	infoDepends       = 15
	infoProvides      = 16

	depName    = 1
	depVersion = 2

	aclMode  = 1
	aclUser  = 2
	aclGroup = 3

	fileName  = 1
	fileACL   = 2
	fileSize  = 3
	fileMtime = 4
	fileHash  = 5

	dirName  = 1
	dirACL   = 2
	dirFiles = 3

	scriptPostInstall  = 3
	scriptPreDeinstall = 4
	scriptPostUpgrade  = 7
)

// apkSchemaPackage is "pckg", the schema of a package.
const apkSchemaPackage = 0x676b6370

const (
	blockADB  = 0
	blockSig  = 1
	blockData = 2
)

// adbWriter appends values to a database.
type adbWriter struct{ buf []byte }

func newADBWriter() *adbWriter { return &adbWriter{buf: make([]byte, 8)} }

func (w *adbWriter) put(align int, parts ...[]byte) uint32 {
	for len(w.buf)%align != 0 {
		w.buf = append(w.buf, 0)
	}
	off := len(w.buf)
	for _, p := range parts {
		w.buf = append(w.buf, p...)
	}
	if off > adbValMask {
		panic("apk: database too large")
	}
	return uint32(off)
}

func (w *adbWriter) blob(b []byte) uint32 {
	switch n := len(b); {
	case n == 0:
		return 0
	case n <= 0xff:
		return adbBlob8 | w.put(1, []byte{byte(n)}, b)
	case n <= 0xffff:
		return adbBlob16 | w.put(2, binary.LittleEndian.AppendUint16(nil, uint16(n)), b)
	default:
		return adbBlob32 | w.put(4, binary.LittleEndian.AppendUint32(nil, uint32(n)), b)
	}
}

func (w *adbWriter) str(s string) uint32 { return w.blob([]byte(s)) }

func (w *adbWriter) int(v uint64) uint32 {
	switch {
	case v < 0x10000000:
		return adbInt | uint32(v)
	case v < 1<<32:
		return adbInt32 | w.put(4, binary.LittleEndian.AppendUint32(nil, uint32(v)))
	default:
		return adbInt64 | w.put(4, binary.LittleEndian.AppendUint64(nil, v))
	}
}

// list writes an object (fields indexed from 1; index 0 is ignored) or
// an array; nothing set is the null value 0.
func (w *adbWriter) list(typ uint32, vals []uint32) uint32 {
	n := len(vals)
	for n > 1 && vals[n-1] == 0 {
		n--
	}
	if n <= 1 {
		return 0
	}
	b := binary.LittleEndian.AppendUint32(nil, uint32(n))
	for _, v := range vals[1:n] {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return typ | w.put(4, b)
}

func (w *adbWriter) object(fields map[int]uint32) uint32 {
	max := 0
	for i := range fields {
		if i > max {
			max = i
		}
	}
	vals := make([]uint32, max+1)
	for i, v := range fields {
		vals[i] = v
	}
	return w.list(adbObject, vals)
}

func (w *adbWriter) array(items []uint32) uint32 {
	vals := []uint32{0}
	for _, v := range items {
		if v != 0 {
			vals = append(vals, v)
		}
	}
	return w.list(adbArray, vals)
}

// APKScripts are the scripts OpenWrt's package-pack.mk gives an .apk.
type APKScripts struct {
	PostInstall, PostUpgrade, PreDeinstall string
}

// StockAPKScripts wraps the package's own postinst/prerm bodies as
// package-pack.mk does: post-install runs default_postinst (uci-defaults,
// enable and start the init scripts listed in NAME.list) and then the
// package's postinst; post-upgrade is post-install with PKG_UPGRADE=1;
// pre-deinstall runs default_prerm and then the package's prerm.
func StockAPKScripts(name, postinstPkg, prermPkg string) APKScripts {
	head := "#!/bin/sh\n"
	lib := `[ -s "${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0
. "${IPKG_INSTROOT}/lib/functions.sh"
export root="${IPKG_INSTROOT}"
export pkgname="` + name + "\"\n"
	body := `[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
` + lib + "add_group_and_user\ndefault_postinst\n" + dropShebang(postinstPkg)
	return APKScripts{
		PostInstall:  head + body,
		PostUpgrade:  head + "export PKG_UPGRADE=1\n" + body,
		PreDeinstall: head + lib + "default_prerm\n" + dropShebang(prermPkg),
	}
}

func dropShebang(s string) string {
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#!") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// APKMeta is what the .apk says beyond the package itself.
type APKMeta struct {
	Arch       string // "noarch" for OpenWrt's "all"
	License    string
	Origin     string
	URL        string
	Maintainer string
	Depends    []string // names
	Provides   []string // names, unversioned
}

// apkFile is one regular file of the payload.
type apkFile struct {
	dir, name string
	mode      int64
	data      []byte
}

// APK is the package as an apk-tools v3 package. The payload is the
// package's files plus /lib/apk/packages/NAME.list (every file),
// NAME.conffiles and NAME.conffiles_static ("PATH SHA256" lines), which
// OpenWrt's default_postinst/default_prerm and sysupgrade read.
// With a key, the package is signed (sign.go); without, apk installs it
// only with --allow-untrusted.
func (p *Package) APK(meta APKMeta, scripts APKScripts, mtime time.Time, key *APKKey) ([]byte, error) {
	files, err := p.apkPayload()
	if err != nil {
		return nil, err
	}
	w := newADBWriter()

	// Directories: every parent of a file, the root included, sorted.
	dirs := map[string][]apkFile{"": nil}
	for _, f := range files {
		dirs[f.dir] = append(dirs[f.dir], f)
		for d := f.dir; d != ""; d = parentDir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = nil
			}
		}
	}
	var names []string
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	acl := func(mode int64) uint32 {
		return w.object(map[int]uint32{aclMode: w.int(uint64(mode)), aclUser: w.str("root"), aclGroup: w.str("root")})
	}
	var installed uint64
	var paths []uint32
	for _, d := range names {
		fs := dirs[d]
		sort.Slice(fs, func(i, j int) bool { return fs[i].name < fs[j].name })
		var fvals []uint32
		for _, f := range fs {
			sum := sha256.Sum256(f.data)
			installed += uint64(len(f.data))
			fvals = append(fvals, w.object(map[int]uint32{
				fileName: w.str(f.name), fileACL: acl(f.mode), fileSize: w.int(uint64(len(f.data))),
				fileMtime: w.int(uint64(mtime.Unix())), fileHash: w.blob(sum[:]),
			}))
		}
		paths = append(paths, w.object(map[int]uint32{dirName: w.str(d), dirACL: acl(0o755), dirFiles: w.array(fvals)}))
	}
	if installed == 0 {
		installed = 1
	}

	deps := func(names []string) uint32 {
		s := append([]string(nil), names...)
		sort.Strings(s)
		var vals []uint32
		for i, n := range s {
			if i > 0 && s[i-1] == n {
				continue
			}
			vals = append(vals, w.object(map[int]uint32{depName: w.str(n)}))
		}
		return w.array(vals)
	}
	// The id is written as zeroes, outside any sharing of equal values,
	// and filled in once the database is complete.
	hashOff := w.put(1, []byte{20}, make([]byte, 20))
	info := w.object(map[int]uint32{
		infoName: w.str(p.Name), infoVersion: w.str(p.Version), infoHashes: adbBlob8 | hashOff,
		infoDescription: w.str(strings.Join(strings.Fields(p.Description), " ")),
		infoArch:        w.str(meta.Arch), infoLicense: w.str(meta.License), infoOrigin: w.str(meta.Origin),
		infoMaintainer: w.str(meta.Maintainer), infoURL: w.str(meta.URL),
		infoInstalledSize: w.int(installed), infoDepends: deps(meta.Depends), infoProvides: deps(meta.Provides),
	})
	scr := w.object(map[int]uint32{
		scriptPostInstall: w.str(scripts.PostInstall), scriptPostUpgrade: w.str(scripts.PostUpgrade),
		scriptPreDeinstall: w.str(scripts.PreDeinstall),
	})
	root := w.object(map[int]uint32{pkgInfo: info, pkgPaths: w.array(paths), pkgScripts: scr})
	binary.LittleEndian.PutUint32(w.buf[4:], root)
	id := sha256.Sum256(w.buf)
	copy(w.buf[hashOff+1:], id[:20])

	var raw bytes.Buffer
	raw.WriteString("ADB.pckg")
	writeBlock(&raw, blockADB, w.buf)
	if key != nil {
		sig, err := key.signature(w.buf)
		if err != nil {
			return nil, err
		}
		writeBlock(&raw, blockSig, sig)
	}
	for i, d := range names {
		fs := dirs[d]
		for j, f := range fs {
			if len(f.data) == 0 {
				continue
			}
			hdr := binary.LittleEndian.AppendUint32(nil, uint32(i+1))
			hdr = binary.LittleEndian.AppendUint32(hdr, uint32(j+1))
			writeBlock(&raw, blockData, append(hdr, f.data...))
		}
	}
	var out bytes.Buffer
	out.WriteString("ADBd")
	zw, err := flate.NewWriter(&out, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func writeBlock(b *bytes.Buffer, typ uint32, payload []byte) {
	n := 4 + len(payload)
	if n > 0x3fffffff {
		panic("apk: block too large")
	}
	b.Write(binary.LittleEndian.AppendUint32(nil, typ<<30|uint32(n)))
	b.Write(payload)
	for ; n%8 != 0; n++ {
		b.WriteByte(0)
	}
}

func parentDir(d string) string {
	if p := path.Dir(d); p != "." {
		return p
	}
	return ""
}

// apkPayload is the package's files plus its /lib/apk/packages files.
func (p *Package) apkPayload() ([]apkFile, error) {
	var files []apkFile
	seen := map[string][]byte{}
	add := func(abs string, mode int64, data []byte) error {
		if _, dup := seen[abs]; dup || !strings.HasPrefix(abs, "/") || strings.HasSuffix(abs, "/") {
			return fmt.Errorf("%s: bad or repeated path %q", p.Name, abs)
		}
		seen[abs] = data
		rel := strings.TrimPrefix(abs, "/")
		files = append(files, apkFile{dir: parentDir(rel), name: path.Base(rel), mode: mode, data: data})
		return nil
	}
	var list []string
	for _, f := range p.Files {
		if err := add(f.Path, f.Mode, f.Data); err != nil {
			return nil, err
		}
		list = append(list, f.Path)
	}
	sort.Strings(list)
	meta := "/lib/apk/packages/" + p.Name
	if err := add(meta+".list", 0o644, []byte(strings.Join(list, "\n")+"\n")); err != nil {
		return nil, err
	}
	if len(p.Conffiles) > 0 {
		var static strings.Builder
		for _, c := range p.Conffiles {
			data, ok := seen[c]
			if !ok {
				return nil, fmt.Errorf("%s: conffile %s is not in the package", p.Name, c)
			}
			fmt.Fprintf(&static, "%s %x\n", c, sha256.Sum256(data))
		}
		if err := add(meta+".conffiles", 0o644, []byte(strings.Join(p.Conffiles, "\n")+"\n")); err != nil {
			return nil, err
		}
		if err := add(meta+".conffiles_static", 0o644, []byte(static.String())); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// APKFileName is NAME-VERSION.apk, as OpenWrt names its packages.
func (p *Package) APKFileName() string { return p.Name + "-" + p.Version + ".apk" }
