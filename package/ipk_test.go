package pkgtest

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// checkArchive: every member owned by root (numeric 0/0) and sorted by
// name, as ipkg-build writes them.
func checkArchive(t *testing.T, what string, hdrs []*tar.Header, sorted bool) {
	t.Helper()
	var names []string
	for _, h := range hdrs {
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: %s owned by %d:%d", what, h.Name, h.Uid, h.Gid)
		}
		if !strings.HasPrefix(h.Name, "./") {
			t.Errorf("%s: %s does not start with ./", what, h.Name)
		}
		names = append(names, h.Name)
	}
	if sorted && !sort.StringsAreSorted(names) {
		t.Errorf("%s: members not sorted: %v", what, names)
	}
}

func TestWGDIPKLayout(t *testing.T) {
	tl := getTools(t)
	p := ReadIPK(t, tl.wgdIPK)
	if want := []string{"./debian-binary", "./data.tar.gz", "./control.tar.gz"}; strings.Join(p.Outer, " ") != strings.Join(want, " ") {
		t.Errorf("outer members %v, want %v", p.Outer, want)
	}
	if got := string(p.Members["./debian-binary"]); got != "2.0\n" {
		t.Errorf("debian-binary %q", got)
	}
	checkArchive(t, "control.tar.gz", p.ControlHdrs, true)
	checkArchive(t, "data.tar.gz", p.DataHdrs, true)

	f := p.Fields()
	for k, want := range map[string]string{
		"Package": "wgd", "Version": testVersion, "Depends": "libc, kmod-tun",
		"Architecture": "x86_64", "Section": "net", "Source": "package/wgd",
	} {
		if f[k] != want {
			t.Errorf("control %s: %q, want %q", k, f[k], want)
		}
	}
	if f["Installed-Size"] != strconv.Itoa(p.DataTarBytes) {
		t.Errorf("Installed-Size %s, the data is %d bytes", f["Installed-Size"], p.DataTarBytes)
	}
	if !strings.Contains(f["Description"], "WireGuard") || !strings.Contains(f["Description"], "\n") {
		t.Errorf("Description %q", f["Description"])
	}
	if got := string(p.Control["conffiles"]); got != "/etc/config/wgd\n" {
		t.Errorf("conffiles %q", got)
	}
	modes := map[string]int64{}
	for _, h := range p.ControlHdrs {
		modes[h.Name] = h.Mode
	}
	for name, mode := range map[string]int64{"./control": 0o644, "./conffiles": 0o644,
		"./postinst": 0o755, "./prerm": 0o755, "./postinst-pkg": 0o755} {
		if modes[name] != mode {
			t.Errorf("control.tar.gz %s mode %o, want %o", name, modes[name], mode)
		}
	}
	if !strings.Contains(string(p.Control["postinst"]), `default_postinst "$0" "$@"`) ||
		!strings.Contains(string(p.Control["prerm"]), `default_prerm "$0" "$@"`) {
		t.Errorf("stock scripts:\n%s\n%s", p.Control["postinst"], p.Control["prerm"])
	}

	// Every file, with the mode OpenWrt's install macro gives it and the
	// content of the file in package/wgd/files.
	want := tl.wgdPayload()
	for _, h := range p.DataHdrs {
		path := strings.TrimPrefix(h.Name, ".")
		if h.Typeflag == tar.TypeDir {
			if h.Mode != 0o755 {
				t.Errorf("directory %s mode %o", h.Name, h.Mode)
			}
			continue
		}
		w, ok := want[path]
		if !ok {
			t.Errorf("unexpected file %s", path)
			continue
		}
		delete(want, path)
		if h.Mode != w.mode {
			t.Errorf("%s mode %o, want %o", path, h.Mode, w.mode)
		}
		src, err := os.ReadFile(w.src)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Data[path], src) {
			t.Errorf("%s differs from %s", path, w.src)
		}
	}
	for path := range want {
		t.Errorf("missing %s", path)
	}
	for _, dir := range []string{"./", "./usr/", "./usr/sbin/", "./lib/netifd/proto/", "./etc/hotplug.d/iface/"} {
		found := false
		for _, h := range p.DataHdrs {
			found = found || (h.Name == dir && h.Typeflag == tar.TypeDir)
		}
		if !found {
			t.Errorf("no directory entry %s", dir)
		}
	}
	checkELF(t, p.Data["/usr/sbin/wgd"], elf.EM_X86_64, elf.ELFCLASS64, true)
}

// checkELF: a static executable for the machine.
func checkELF(t *testing.T, b []byte, machine elf.Machine, class elf.Class, little bool) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not ELF: %v", err)
	}
	if f.Machine != machine || f.Class != class || (f.ByteOrder.String() == "LittleEndian") != little {
		t.Errorf("ELF %v %v %v, want %v %v little=%v", f.Machine, f.Class, f.ByteOrder, machine, class, little)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("dynamically linked: the router has no glibc")
		}
	}
}

func TestLuciIPKLayout(t *testing.T) {
	tl := getTools(t)
	p := ReadIPK(t, tl.luciIPK)
	checkArchive(t, "data.tar.gz", p.DataHdrs, true)
	f := p.Fields()
	for k, want := range map[string]string{"Package": "luci-proto-wgd", "Architecture": "all",
		"Depends": "libc, wgd", "Section": "luci"} {
		if f[k] != want {
			t.Errorf("control %s: %q, want %q", k, f[k], want)
		}
	}
	modes := map[string]int64{}
	for _, h := range p.DataHdrs {
		if h.Typeflag == tar.TypeReg {
			modes[strings.TrimPrefix(h.Name, ".")] = h.Mode
		}
	}
	wantModes := map[string]int64{
		"/www/luci-static/resources/protocol/wgd.js":    0o644,
		"/www/luci-static/resources/tools/wgd.js":       0o644,
		"/www/luci-static/resources/view/wgd/status.js": 0o644,
		"/usr/libexec/rpcd/luci.wgd":                    0o755,
		"/usr/share/rpcd/acl.d/luci-proto-wgd.json":     0o644,
		"/usr/share/luci/menu.d/luci-proto-wgd.json":    0o644,
	}
	if len(modes) != len(wantModes) {
		t.Errorf("files %v, want %v", modes, wantModes)
	}
	for path, mode := range wantModes {
		if modes[path] != mode {
			t.Errorf("%s mode %o, want %o", path, modes[path], mode)
		}
	}

	// Every rpcd method the views call is granted by the ACL; those that
	// change the configuration or show a client's key need write access.
	type grant struct {
		Ubus map[string][]string `json:"ubus"`
	}
	var acl map[string]struct {
		Read  grant `json:"read"`
		Write grant `json:"write"`
	}
	if err := json.Unmarshal(p.Data["/usr/share/rpcd/acl.d/luci-proto-wgd.json"], &acl); err != nil {
		t.Fatalf("ACL: %v", err)
	}
	granted := map[string]bool{}
	for _, g := range []grant{acl["luci-proto-wgd"].Read, acl["luci-proto-wgd"].Write} {
		for obj, ms := range g.Ubus {
			for _, m := range ms {
				granted[obj+" "+m] = true
			}
		}
	}
	for _, m := range []string{"addPeer", "showPeer"} {
		if slices.Contains(acl["luci-proto-wgd"].Read.Ubus["luci.wgd"], m) {
			t.Errorf("luci.wgd %s is granted for reading", m)
		}
	}
	declare := regexp.MustCompile(`rpc\.declare\(\{\s*object: '([\w.]+)',\s*method: '(\w+)'`)
	n := 0
	for _, f := range luciFiles {
		js := string(p.Data["/www/luci-static/resources/"+f])
		for _, m := range declare.FindAllStringSubmatch(js, -1) {
			n++
			if !granted[m[1]+" "+m[2]] {
				t.Errorf("%s calls %s %s, which the ACL does not grant", f, m[1], m[2])
			}
		}
	}
	if n == 0 {
		t.Fatal("no rpc.declare found in the views")
	}
}

// `make ipk ARCH=...` for every router architecture: scripts/ipk builds
// wgd for it (static, softfloat on MIPS), and the binary runs under
// qemu-user (`wgd version` prints the package version).
func TestIPKArchitectures(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds wgd five times")
	}
	tl := getTools(t)
	out := t.TempDir()
	for _, a := range []struct {
		opkg    string
		machine elf.Machine
		class   elf.Class
		little  bool
		qemu    string
	}{
		{"mipsel_24kc", elf.EM_MIPS, elf.ELFCLASS32, true, "qemu-mipsel-static"},
		{"mips_24kc", elf.EM_MIPS, elf.ELFCLASS32, false, "qemu-mips-static"},
		{"arm_cortex-a7_neon-vfpv4", elf.EM_ARM, elf.ELFCLASS32, true, "qemu-arm-static"},
		{"aarch64_cortex-a53", elf.EM_AARCH64, elf.ELFCLASS64, true, "qemu-aarch64-static"},
		{"x86_64", elf.EM_X86_64, elf.ELFCLASS64, true, ""},
	} {
		t.Run(a.opkg, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(tl.dir, "ipk"), "-arch", a.opkg, "-out", out,
				"-pkgdir", "package", "-build", testBuild)
			cmd.Dir = repo
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("scripts/ipk -arch %s: %v\n%s", a.opkg, err, b)
			}
			p := ReadIPK(t, filepath.Join(out, "wgd_"+testVersion+"_"+a.opkg+".ipk"))
			if got := p.Fields()["Architecture"]; got != a.opkg {
				t.Errorf("Architecture %q", got)
			}
			bin := p.Data["/usr/sbin/wgd"]
			checkELF(t, bin, a.machine, a.class, a.little)
			exe := filepath.Join(t.TempDir(), "wgd")
			if err := os.WriteFile(exe, bin, 0o755); err != nil {
				t.Fatal(err)
			}
			argv := []string{exe, "version"}
			if a.qemu != "" {
				q, err := exec.LookPath(a.qemu)
				if err != nil {
					t.Skipf("needs %s (qemu-user-static): run scripts/deps.sh", a.qemu)
				}
				argv = append([]string{q}, argv...)
			}
			b, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
			if err != nil || strings.TrimSpace(string(b)) != "wgd "+testVersion+" (lean data plane)" {
				t.Errorf("%v: %q %v", argv, b, err)
			}
		})
	}
}

// The stand-in tree is only for tests: the packages never ship it.
func TestStandinsNotShipped(t *testing.T) {
	tl := getTools(t)
	for _, ipk := range []string{tl.wgdIPK, tl.luciIPK} {
		for path := range ReadIPK(t, ipk).Data {
			if strings.Contains(path, "rc.common") || strings.Contains(path, "functions.sh") || strings.Contains(path, "jshn") {
				t.Errorf("%s ships %s", filepath.Base(ipk), path)
			}
		}
	}
}
