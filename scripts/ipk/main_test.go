package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestArchTable(t *testing.T) {
	for opkg, want := range map[string][]string{
		"mipsel_24kc":              {"CGO_ENABLED=0", "GOOS=linux", "GOARCH=mipsle", "GOMIPS=softfloat", "GOARM="},
		"mips_24kc":                {"CGO_ENABLED=0", "GOOS=linux", "GOARCH=mips", "GOMIPS=softfloat", "GOARM="},
		"arm_cortex-a7_neon-vfpv4": {"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOMIPS=", "GOARM=7"},
		"aarch64_cortex-a53":       {"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOMIPS=", "GOARM="},
		"x86_64":                   {"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOMIPS=", "GOARM="},
	} {
		a, err := LookupArch(opkg)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Env(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", opkg, got, want)
		}
	}
	if _, err := LookupArch("mips_4kec"); err == nil || !strings.Contains(err.Error(), "mipsel_24kc") {
		t.Errorf("unknown arch: %v", err)
	}
}

func TestPackageVersion(t *testing.T) {
	for _, c := range []struct {
		v, r  string
		build int
		want  string
	}{
		{"0.1.0", "1", -1, "0.1.0-r1"},
		{"0.1.0", "1", 0, "0.1.0_p0-r1"},
		{"0.1.0", "2", 137, "0.1.0_p137-r2"},
	} {
		if got := PackageVersion(c.v, c.r, c.build); got != c.want {
			t.Errorf("PackageVersion(%q, %q, %d) = %q, want %q", c.v, c.r, c.build, got, c.want)
		}
	}
}

// Building wgd without the patched data plane is refused, as
// scripts/cross.sh refuses it.
func TestRefusesUpstreamDataPlane(t *testing.T) {
	for _, gowork := range []string{"", "off", filepath.Join(t.TempDir(), "missing/go.work")} {
		t.Setenv("GOWORK", gowork)
		err := run("x86_64", "ipk", -1, "", t.TempDir(), "../../package", false, nil)
		if err == nil || !strings.Contains(err.Error(), "GOWORK") {
			t.Errorf("GOWORK=%q: %v", gowork, err)
		}
	}
}

func TestDepends(t *testing.T) {
	if got := Depends("$(GO_ARCH_DEPENDS) +kmod-tun @!SMALL_FLASH +libc"); got != "libc, kmod-tun" {
		t.Errorf("Depends: %q", got)
	}
}

func TestMakefileScript(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "Makefile")
	os.WriteFile(f, []byte("PKG_NAME:=x\n\ndefine Package/x/postinst\n#!/bin/sh\n[ -n \"$${IPKG_INSTROOT}\" ] && exit 0\nendef\n\n"+
		"define Package/x/prerm\necho $(PKG_NAME)\nendef\n"), 0o644)
	m, err := ReadMakefile(f)
	if err != nil {
		t.Fatal(err)
	}
	s, ok, err := m.Script("Package/x/postinst")
	if err != nil || !ok || s != "#!/bin/sh\n[ -n \"${IPKG_INSTROOT}\" ] && exit 0\n" {
		t.Errorf("postinst %q %v %v", s, ok, err)
	}
	if _, _, err := m.Script("Package/x/prerm"); err == nil {
		t.Error("a make expansion in a script must be refused")
	}
	if m.Var("PKG_NAME") != "x" {
		t.Errorf("PKG_NAME %q", m.Var("PKG_NAME"))
	}
}

// The real feed Makefile: the install block names the files the package
// ships, each with its install macro's mode.
func TestWGDPackageFromFeedMakefile(t *testing.T) {
	m, err := ReadMakefile("../../package/wgd/Makefile")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "wgd")
	os.WriteFile(bin, []byte("binary"), 0o755)
	p, err := WGDPackage(m, "../../package/wgd", bin, "x86_64", "1-r1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, f := range p.Files {
		got[f.Path] = f.Mode
	}
	want := map[string]int64{
		"/usr/sbin/wgd": 0o755, "/etc/init.d/wgd": 0o755, "/etc/config/wgd": 0o600,
		"/etc/uci-defaults/80_wgd": 0o755, "/lib/netifd/proto/wgd.sh": 0o755, "/etc/hotplug.d/iface/80-wgd": 0o644,
		"/lib/upgrade/keep.d/wgd": 0o644,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
	if !reflect.DeepEqual(p.Conffiles, []string{"/etc/config/wgd"}) || p.PostinstPkg == "" {
		t.Errorf("conffiles %v, postinst %q", p.Conffiles, p.PostinstPkg)
	}
	if c := p.Control(123); !strings.Contains(c, "Depends: libc, kmod-tun\n") || !strings.Contains(c, "Installed-Size: 123\n") {
		t.Errorf("control:\n%s", c)
	}
}
