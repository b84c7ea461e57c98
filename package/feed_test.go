package pkgtest

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The feed build restated: the parts of the OpenWrt build system that
// package/wgd/Makefile uses, in our words, so that GNU make runs the
// Makefile as the SDK does. include/package.mk expands Build/Prepare,
// Build/Compile and Package/wgd/install into rules the way package.mk
// and package-pack.mk do (a define $(call)ed and $(eval)ed, so make
// expands their text twice). The golang-package.mk stand-in does what
// the packages feed's lang/golang/golang-package.mk and golang-build.sh
// do for a package with a go.mod: from $(PKG_BUILD_DIR)/.go_work/build,
// with GOPATH there, the module cache GO_MOD_CACHE_DIR, GOENV=off,
// GOTOOLCHAIN=local (the Go on the machine, never one it downloads),
// cgo with the target's C compiler and the external linker, it runs
// `go install -modcacherw` with the feed's flags; the binary lands in
// GO_PKG_BUILD_BIN_DIR.
var feedStubs = map[string]string{
	"rules.mk": `
INCLUDE_DIR:=$(TOPDIR)/include
BUILD_DIR:=$(TOPDIR)/build_dir
DL_DIR:=$(TOPDIR)/dl
TMP_DIR:=$(TOPDIR)/tmp
CP:=cp -fpR
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
`,
	"include/package.mk": `
PKG_BUILD_DIR?=$(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
define sdk/rules
.PHONY: prepare configure compile install
prepare:
	mkdir -p $(PKG_BUILD_DIR)
	$(Build/Prepare)
configure:
	$(Build/Configure)
compile:
	$(Build/Compile)
install:
	$(call Package/$(1)/install,$(DEST))
endef
BuildPackage=$(eval $(call sdk/rules,$(1)))
`,
	"feeds/packages/lang/golang/golang-package.mk": `
unexport GO111MODULE GOFLAGS GOPATH GOROOT GOBIN GOCACHE GOMODCACHE GOENV GOOS GOARCH GOARM GOMIPS CGO_ENABLED CC GOEXPERIMENT
GO_ARCH_DEPENDS:=@(aarch64||arm||i386||i686||mips||mips64||mips64el||mipsel||powerpc64||x86_64)
GO_MOD_CACHE_DIR?=$(DL_DIR)/go-mod-cache
GO_BUILD_CACHE_DIR?=$(TMP_DIR)/go-build
GO_PKG_BUILD_PKG?=$(GO_PKG)/...
GO_PKG_BUILD_DIR=$(PKG_BUILD_DIR)/.go_work/build
GO_PKG_BUILD_BIN_DIR=$(GO_PKG_BUILD_DIR)/bin
GO_BIN_PATH:=PATH=$(HOST_GO_BIN):$(PATH)
GO_PKG_BUILD_VARS=GOPATH="$(GO_PKG_BUILD_DIR)" GOCACHE="$(GO_BUILD_CACHE_DIR)" GOMODCACHE="$(GO_MOD_CACHE_DIR)" GOENV=off GOTOOLCHAIN=local
GO_PKG_TARGET_VARS=GOOS=linux GOARCH=$(TARGET_GOARCH) CGO_ENABLED=1 CC=gcc CGO_CFLAGS="-Os" CGO_LDFLAGS=""
GO_PKG_DEFAULT_LDFLAGS=-buildid '' -linkmode external -extldflags ''
GO_PKG_INSTALL_ARGS=-v -buildvcs=false -trimpath -ldflags "all=$(GO_PKG_DEFAULT_LDFLAGS)" \
	-ldflags "$(GO_PKG_LDFLAGS) $(patsubst %,-X %,$(GO_PKG_LDFLAGS_X)) $(GO_PKG_DEFAULT_LDFLAGS)" \
	$(if $(strip $(GO_PKG_TAGS)),-tags "$(GO_PKG_TAGS)")
define Build/Configure
	cd $(PKG_BUILD_DIR) && find . -path '*/.*' -prune -o -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name 'go.work' \) -print | \
		while read -r f; do mkdir -p "$(GO_PKG_BUILD_DIR)/src/$(GO_PKG)/$$$${f%/*}"; cp -fp "$$$$f" "$(GO_PKG_BUILD_DIR)/src/$(GO_PKG)/$$$$f"; done
endef
define Build/Compile
	mkdir -p $(GO_PKG_BUILD_DIR)/bin $(GO_MOD_CACHE_DIR) $(GO_BUILD_CACHE_DIR)
	cd $(GO_PKG_BUILD_DIR) && export $(GO_BIN_PATH) $(GO_PKG_TARGET_VARS) $(GO_PKG_BUILD_VARS) && \
		targets="$$$$(go list -modcacherw $(GO_PKG_BUILD_PKG))" && \
		go install -modcacherw $(GO_PKG_INSTALL_ARGS) $$$$targets
endef
`,
}

// package/wgd/Makefile builds in the SDK: Build/Prepare copies a complete
// module and applies the data plane's patches with the Go on the machine,
// the feed's compile step builds it from the prepared tree alone (a
// directory missing from it fails here), and Package/wgd/install installs
// the patched binary and the package's files.
func TestFeedBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wgd the way the OpenWrt SDK does")
	}
	for _, tool := range []string{"make", "gcc", "patch"} {
		needTool(t, tool)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs go")
	}
	top := t.TempDir()
	for name, content := range feedStubs {
		p := filepath.Join(top, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goEnv := func(k string) string {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	// The module and build caches of this machine: no download, and the
	// build reuses what the other tests compiled.
	vars := []string{"TOPDIR=" + top, "HOST_GO_BIN=" + filepath.Dir(goBin), "TARGET_GOARCH=" + runtime.GOARCH,
		"GO_MOD_CACHE_DIR=" + goEnv("GOMODCACHE"), "GO_BUILD_CACHE_DIR=" + goEnv("GOCACHE")}
	var env []string
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); !strings.HasPrefix(k, "GO") && k != "MAKEFLAGS" && k != "MFLAGS" {
			env = append(env, e)
		}
	}
	env = append(env, "GOPROXY=off")
	dest := filepath.Join(top, "ipkg")
	for _, target := range []string{"prepare", "configure", "compile", "install"} {
		cmd := exec.Command("make", append([]string{"-f", "Makefile", target, "DEST=" + dest}, vars...)...)
		cmd.Dir = "wgd"
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, tail(out, 60))
		}
	}

	build := filepath.Join(top, "build_dir", "wgd-0.1.0")
	for _, p := range []string{"go.mod", "go.sum", "LICENSE", "cmd/wgd", "internal", "go.work", "wireguard-lean/go.mod"} {
		if _, err := os.Stat(filepath.Join(build, p)); err != nil {
			t.Errorf("prepared tree: %v", err)
		}
	}
	for _, p := range []string{"bin", "package", ".git"} {
		if _, err := os.Stat(filepath.Join(build, p)); err == nil {
			t.Errorf("prepared tree holds %s", p)
		}
	}

	want := map[string]os.FileMode{
		"usr/sbin/wgd": 0o755, "etc/init.d/wgd": 0o755, "etc/config/wgd": 0o600, "etc/uci-defaults/80_wgd": 0o755,
		"lib/netifd/proto/wgd.sh": 0o755, "etc/hotplug.d/iface/80-wgd": 0o644, "lib/upgrade/keep.d/wgd": 0o644,
	}
	for p, mode := range want {
		fi, err := os.Stat(filepath.Join(dest, p))
		if err != nil {
			t.Errorf("installed: %v", err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode %o, want %o", p, fi.Mode().Perm(), mode)
		}
	}
	bin := filepath.Join(dest, "usr/sbin/wgd")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Version from GO_PKG_LDFLAGS_X, the patched data plane, no metrics
	// (CONFIG_WGD_METRICS unset).
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "wgd 0.1.0-r1 (lean data plane)" {
		t.Errorf("wgd version: %q %v", out, err)
	}
}

func tail(b []byte, lines int) string {
	l := strings.Split(string(b), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
