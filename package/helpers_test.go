// Package pkgtest tests the OpenWrt packages under package/: their shell
// scripts under busybox ash, against stand-ins of OpenWrt's shell
// libraries (package/standin) in a scratch root, the .ipk files
// scripts/ipk builds, and LuCI's protocol view under node.
//
// Scripts run the way the router runs them: a chroot into a scratch root
// that holds busybox (as /bin/sh and its applets), the stand-ins at
// OpenWrt's paths, and the package's files where the package puts them.
// Tests that need chroot or network namespaces need root and skip
// without it.
package pkgtest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// repo is the repository root, seen from this package's directory.
const repo = ".."

// The build counter the test packages are made with, and their version.
const (
	testBuild   = "7"
	testVersion = "0.1.0_p7-r1"
)

// tools are built once per test run, static, for the scratch roots.
type tools struct {
	dir        string
	wgd        string // cmd/wgd, static, for this machine
	jshn, uci  string // the stand-ins of OpenWrt's jshn and uci
	wgdIPK     string // the wgd package for x86_64, holding wgd above
	luciIPK    string
	wgdAPK     string // the same as apk-tools v3 packages
	luciAPK    string
	buildError error
}

var (
	toolsOnce sync.Once
	built     tools
)

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// goBuild builds a static binary of pkg (a path relative to the repo).
func goBuild(out, pkg string, extraEnv ...string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = repo
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), extraEnv...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// getTools builds wgd, the Go stand-ins and the x86_64 packages (once).
// packFile is one file the wgd package holds: the mode OpenWrt's install
// macros give it and the file its content comes from.
type packFile struct {
	mode int64
	src  string
}

// wgdPayload is every file package/wgd/Makefile installs.
func (tl *tools) wgdPayload() map[string]packFile {
	return map[string]packFile{
		"/usr/sbin/wgd":               {0o755, tl.wgd},
		"/etc/init.d/wgd":             {0o755, "wgd/files/wgd.init"},
		"/etc/config/wgd":             {0o600, "wgd/files/wgd.config"},
		"/etc/uci-defaults/80_wgd":    {0o755, "wgd/files/wgd.uci-defaults"},
		"/lib/netifd/proto/wgd.sh":    {0o755, "wgd/files/wgd.proto"},
		"/etc/hotplug.d/iface/80-wgd": {0o644, "wgd/files/wgd.hotplug"},
		"/lib/upgrade/keep.d/wgd":     {0o644, "wgd/files/wgd.keep"},
	}
}

func getTools(t testing.TB) *tools {
	t.Helper()
	toolsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wgd-pkgtest-")
		if err != nil {
			built.buildError = err
			return
		}
		built.dir = dir
		built.wgd = filepath.Join(dir, "wgd")
		built.jshn = filepath.Join(dir, "jshn")
		built.uci = filepath.Join(dir, "uci")
		for _, b := range []struct{ out, pkg string }{
			{built.wgd, "./cmd/wgd"},
			{built.jshn, "./package/standin/jshn"},
			{built.uci, "./package/standin/uci"},
			{filepath.Join(dir, "ipk"), "./scripts/ipk"},
		} {
			if err := goBuild(b.out, b.pkg); err != nil {
				built.buildError = err
				return
			}
		}
		out := filepath.Join(dir, "ipks")
		for _, format := range []string{"ipk", "apk"} {
			cmd := exec.Command(filepath.Join(dir, "ipk"), "-format", format, "-arch", "x86_64", "-binary", built.wgd,
				"-out", out, "-pkgdir", "package", "-build", testBuild)
			cmd.Dir = repo
			cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
			if b, err := cmd.CombinedOutput(); err != nil {
				built.buildError = fmt.Errorf("scripts/ipk -format %s: %v\n%s", format, err, b)
				return
			}
		}
		built.wgdIPK = filepath.Join(out, "wgd_"+testVersion+"_x86_64.ipk")
		built.luciIPK = filepath.Join(out, "luci-proto-wgd_"+testVersion+"_all.ipk")
		built.wgdAPK = filepath.Join(out, "wgd-"+testVersion+".apk")
		built.luciAPK = filepath.Join(out, "luci-proto-wgd-"+testVersion+".apk")
	})
	if built.buildError != nil {
		t.Fatal(built.buildError)
	}
	return &built
}

func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("needs %s: run scripts/deps.sh", name)
	}
	return p
}

// Root is a scratch root directory that scripts run in through chroot.
type Root struct {
	t   testing.TB
	Dir string
}

// busyboxLibs are the shared objects busybox needs, from ldd.
func busyboxLibs(busybox string) ([]string, error) {
	out, err := exec.Command("ldd", busybox).Output()
	if err != nil {
		// A static busybox needs none.
		if strings.Contains(string(out), "not a dynamic executable") {
			return nil, nil
		}
		return nil, fmt.Errorf("ldd %s: %v", busybox, err)
	}
	var libs []string
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			libs = append(libs, f)
		}
	}
	return libs, nil
}

func copyFile(dst, src string, mode fs.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	os.Remove(dst) // a symlink to busybox may stand there
	return os.WriteFile(dst, data, mode)
}

// copyTree copies the files under src into dst, keeping their modes.
func copyTree(dst, src string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		return copyFile(filepath.Join(dst, rel), p, info.Mode().Perm())
	})
}

// NewRoot makes a scratch root: busybox with its applets, /dev/null, the
// OpenWrt stand-ins, jshn and uci. It skips the test when not root.
func NewRoot(t testing.TB) *Root {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs the package scripts in a chroot")
	}
	busybox := needTool(t, "busybox")
	needTool(t, "chroot")
	tl := getTools(t)
	r := &Root{t: t, Dir: t.TempDir()}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "lib", "etc/config", "etc/rc.d",
		"etc/init.d", "etc/uci-defaults", "tmp", "var/run", "dev", "usr/lib/opkg/info", "proc"} {
		if err := os.MkdirAll(filepath.Join(r.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mknod(filepath.Join(r.Dir, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatalf("mknod /dev/null: %v", err)
	}
	os.Chmod(filepath.Join(r.Dir, "dev/null"), 0o666)
	if err := copyFile(filepath.Join(r.Dir, "bin/busybox"), busybox, 0o755); err != nil {
		t.Fatal(err)
	}
	libs, err := busyboxLibs(busybox)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		if err := copyFile(filepath.Join(r.Dir, l), l, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	applets, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		t.Fatalf("busybox --list-full: %v", err)
	}
	for _, a := range strings.Fields(string(applets)) {
		dst := filepath.Join(r.Dir, a)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if err := os.Symlink("/bin/busybox", dst); err != nil {
			t.Fatal(err)
		}
	}
	// OpenWrt's /bin/sh is busybox ash, whatever the list says.
	os.Remove(filepath.Join(r.Dir, "bin/sh"))
	os.Symlink("busybox", filepath.Join(r.Dir, "bin/sh"))
	if err := copyTree(r.Dir, "standin/root"); err != nil {
		t.Fatal(err)
	}
	for dst, src := range map[string]string{"usr/bin/jshn": tl.jshn, "sbin/uci": tl.uci} {
		if err := copyFile(filepath.Join(r.Dir, dst), src, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// Path is a path inside the root.
func (r *Root) Path(p string) string { return filepath.Join(r.Dir, p) }

// WriteFile writes a file inside the root.
func (r *Root) WriteFile(p, content string, mode fs.FileMode) {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Dir(r.Path(p)), 0o755); err != nil {
		r.t.Fatal(err)
	}
	// The root's applets are absolute links to /bin/busybox: written
	// through, they would replace the host's busybox.
	if fi, err := os.Lstat(r.Path(p)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		os.Remove(r.Path(p))
	}
	if err := os.WriteFile(r.Path(p), []byte(content), mode); err != nil {
		r.t.Fatal(err)
	}
}

// ReadFile reads a file inside the root ("" when missing).
func (r *Root) ReadFile(p string) string {
	b, _ := os.ReadFile(r.Path(p))
	return string(b)
}

// Exists reports whether p exists in the root (not following a last link).
func (r *Root) Exists(p string) bool {
	_, err := os.Lstat(r.Path(p))
	return err == nil
}

// Argv is the command line that runs script under busybox sh inside the
// root, with a clean environment plus env ("KEY=value").
func (r *Root) Argv(script string, env ...string) []string {
	argv := []string{"chroot", r.Dir, "/bin/busybox", "env", "-i",
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/"}
	argv = append(argv, env...)
	return append(argv, "/bin/sh", "-c", script)
}

// Run runs script inside the root; it fails the test when the script
// does not end within a minute.
func (r *Root) Run(script string, env ...string) (stdout, stderr string, err error) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv := r.Argv(script, env...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ctx.Err() != nil {
		r.t.Fatalf("%q did not end within a minute; stderr:\n%s", script, e.String())
	}
	return o.String(), e.String(), err
}

// MustRun is Run that fails the test on a non-zero exit.
func (r *Root) MustRun(script string, env ...string) string {
	r.t.Helper()
	out, errOut, err := r.Run(script, env...)
	if err != nil {
		r.t.Fatalf("%q: %v\nstdout:\n%s\nstderr:\n%s", script, err, out, errOut)
	}
	return out
}

// Records are the calls the stand-ins recorded: one per line of
// /tmp/standin.log, split at tabs (the first field names the tool).
func (r *Root) Records() [][]string {
	var recs [][]string
	sc := bufio.NewScanner(strings.NewReader(r.ReadFile("tmp/standin.log")))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		recs = append(recs, strings.Split(sc.Text(), "\t"))
	}
	return recs
}

// ClearRecords forgets what was recorded so far.
func (r *Root) ClearRecords() { os.Remove(r.Path("tmp/standin.log")) }

// Calls are the recorded calls of one tool, without the tool's name.
func (r *Root) Calls(tool string) [][]string {
	var out [][]string
	for _, rec := range r.Records() {
		if rec[0] == tool {
			out = append(out, rec[1:])
		}
	}
	return out
}

// UbusCalls are the recorded `ubus call OBJECT METHOD JSON` for object
// and method, the JSON decoded; options before `call` (-S) are dropped.
func (r *Root) UbusCalls(object, method string) []map[string]any {
	r.t.Helper()
	var out []map[string]any
	for _, c := range r.Calls("ubus") {
		for len(c) > 0 && strings.HasPrefix(c[0], "-") {
			c = c[1:]
		}
		if len(c) < 3 || c[0] != "call" || c[1] != object || c[2] != method {
			continue
		}
		msg := map[string]any{}
		if len(c) > 3 {
			if err := json.Unmarshal([]byte(c[3]), &msg); err != nil {
				r.t.Fatalf("ubus call %s %s: not JSON: %v\n%s", object, method, err, c[3])
			}
		}
		out = append(out, msg)
	}
	return out
}

// FakeWGD puts testdata/fake-wgd at /usr/sbin/wgd.
func (r *Root) FakeWGD() {
	r.t.Helper()
	if err := copyFile(r.Path("usr/sbin/wgd"), "testdata/fake-wgd", 0o755); err != nil {
		r.t.Fatal(err)
	}
}

// Answer makes the fake wgd answer `wgd CMD` with out on stdout, errOut
// on stderr and exit status rc.
func (r *Root) Answer(cmd, out, errOut string, rc int) {
	r.WriteFile("tmp/fake-wgd/"+cmd+".out", out, 0o644)
	r.WriteFile("tmp/fake-wgd/"+cmd+".err", errOut, 0o644)
	r.WriteFile("tmp/fake-wgd/"+cmd+".rc", fmt.Sprint(rc), 0o644)
}

// IPK is an .ipk read back.
type IPK struct {
	Outer        []string          // member names in order
	Members      map[string][]byte // outer members
	Control      map[string][]byte // files of control.tar.gz, by name without ./
	ControlHdrs  []*tar.Header
	Data         map[string][]byte // files of data.tar.gz, by absolute path
	DataHdrs     []*tar.Header
	DataTarBytes int // size of the uncompressed data tar
}

func readTarGz(b []byte) ([]*tar.Header, map[string][]byte, int, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, nil, 0, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, nil, 0, err
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	var hdrs []*tar.Header
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, 0, err
		}
		hdrs = append(hdrs, h)
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, nil, 0, err
			}
			files[h.Name] = data
		}
	}
	return hdrs, files, len(raw), nil
}

// ReadIPK opens an .ipk.
func ReadIPK(t testing.TB, file string) *IPK {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	hdrs, members, _, err := readTarGz(b)
	if err != nil {
		t.Fatalf("%s: outer archive: %v", file, err)
	}
	p := &IPK{Members: members, Control: map[string][]byte{}, Data: map[string][]byte{}}
	for _, h := range hdrs {
		p.Outer = append(p.Outer, h.Name)
	}
	ch, cf, _, err := readTarGz(members["./control.tar.gz"])
	if err != nil {
		t.Fatalf("%s: control.tar.gz: %v", file, err)
	}
	p.ControlHdrs = ch
	for name, data := range cf {
		p.Control[strings.TrimPrefix(name, "./")] = data
	}
	dh, df, size, err := readTarGz(members["./data.tar.gz"])
	if err != nil {
		t.Fatalf("%s: data.tar.gz: %v", file, err)
	}
	p.DataHdrs, p.DataTarBytes = dh, size
	for name, data := range df {
		p.Data[strings.TrimPrefix(name, ".")] = data
	}
	return p
}

// Fields parses the control file (continuation lines joined with \n).
func (p *IPK) Fields() map[string]string {
	fields := map[string]string{}
	last := ""
	for _, l := range strings.Split(strings.TrimRight(string(p.Control["control"]), "\n"), "\n") {
		if strings.HasPrefix(l, " ") && last != "" {
			fields[last] += "\n" + strings.TrimPrefix(l, " ")
			continue
		}
		k, v, _ := strings.Cut(l, ":")
		last = k
		fields[k] = strings.TrimSpace(v)
	}
	return fields
}

// Install unpacks an .ipk into the root as opkg does: the data at /, the
// control files as /usr/lib/opkg/info/NAME.FILE, the file list as
// NAME.list.
func (r *Root) Install(file string) *IPK {
	r.t.Helper()
	return r.InstallAt("", file)
}

// InstallAt is Install into the directory prefix of the root (an image
// being built, IPKG_INSTROOT).
func (r *Root) InstallAt(prefix, file string) *IPK {
	r.t.Helper()
	p := ReadIPK(r.t, file)
	name := p.Fields()["Package"]
	var list []string
	for _, h := range p.DataHdrs {
		dst := r.Path(filepath.Join(prefix, strings.TrimPrefix(h.Name, ".")))
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(dst, 0o755)
		case tar.TypeReg:
			if err := copyBytes(dst, p.Data[strings.TrimPrefix(h.Name, ".")], fs.FileMode(h.Mode)); err != nil {
				r.t.Fatal(err)
			}
			list = append(list, strings.TrimPrefix(h.Name, "."))
		}
	}
	sort.Strings(list)
	info := filepath.Join(prefix, "usr/lib/opkg/info", name)
	r.WriteFile(info+".list", strings.Join(list, "\n")+"\n", 0o644)
	for f, data := range p.Control {
		mode := fs.FileMode(0o644)
		if f == "postinst" || f == "prerm" || strings.HasSuffix(f, "-pkg") {
			mode = 0o755
		}
		r.WriteFile(info+"."+f, string(data), mode)
	}
	return p
}

func copyBytes(dst string, data []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	os.Remove(dst)
	if err := os.WriteFile(dst, data, mode); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// InstallWGD installs the x86_64 wgd package (real wgd included).
func (r *Root) InstallWGD() *IPK {
	return r.Install(getTools(r.t).wgdIPK)
}
