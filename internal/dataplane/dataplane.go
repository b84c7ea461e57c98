// Package dataplane builds wgd for router CPUs and measures WireGuard data
// planes in network namespaces: process memory, junk floods at a listen
// port, and a two-host tunnel whose ends run wgd or wireguard-go. The
// memory and emulation tests and the benchmark (scripts/bench) share it.
package dataplane

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Arch is a router CPU: how Go builds for it and which qemu-user runs it.
type Arch struct {
	Name   string // as in bin/wgd-linux-<Name>
	GOARCH string
	GOARM  string // arm only
	GOMIPS string // mips only
	Qemu   string // qemu-user binary that runs it on this machine
	// QemuCPU is the CPU model qemu emulates (-cpu): one of the ISA level
	// the build is for, so no instruction of a later one slips through.
	QemuCPU string
}

// Archs are the router targets of `make cross` that qemu-user can run
// here (amd64 is the host itself).
var Archs = []Arch{
	{Name: "mips", GOARCH: "mips", GOMIPS: "softfloat", Qemu: "qemu-mips-static", QemuCPU: "24Kc"},
	{Name: "mipsle", GOARCH: "mipsle", GOMIPS: "softfloat", Qemu: "qemu-mipsel-static", QemuCPU: "24Kc"},
	{Name: "armv5", GOARCH: "arm", GOARM: "5", Qemu: "qemu-arm-static", QemuCPU: "arm926"},
	{Name: "armv7", GOARCH: "arm", GOARM: "7", Qemu: "qemu-arm-static", QemuCPU: "cortex-a7"},
	{Name: "arm64", GOARCH: "arm64", Qemu: "qemu-aarch64-static", QemuCPU: "cortex-a53"},
}

// ArchByName returns the Arch called name.
func ArchByName(name string) (Arch, bool) {
	for _, a := range Archs {
		if a.Name == name {
			return a, true
		}
	}
	return Arch{}, false
}

// Build runs `go build` of pkg (a package path or directory) into out:
// static, for arch (nil: this machine). gowork is the GOWORK to build with:
// "" keeps the caller's (make exports the patched data plane's), "off"
// builds plain upstream modules. The module root is found from the working
// directory, so tests and the benchmark can build from anywhere inside it.
func Build(ctx context.Context, out, pkg string, arch *Arch, gowork string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if gowork != "" {
		cmd.Env = append(cmd.Env, "GOWORK="+gowork)
	}
	if arch != nil {
		cmd.Env = append(cmd.Env, "GOOS=linux", "GOARCH="+arch.GOARCH, "GOARM="+arch.GOARM, "GOMIPS="+arch.GOMIPS)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// ModuleRoot is the directory of wgd's go.mod above the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module wgd\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("dataplane: not inside the wgd module")
		}
		dir = parent
	}
}

// BuildProfile reports which data plane a Go binary was built with, from
// its build information: "lean" or "throughput" for wgd's patched module
// (scripts/wireguard-overlay.sh replaces it with ./wireguard-<profile>),
// "upstream" for the module as published.
func BuildProfile(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go version -m %s: %w: %s", bin, err, out)
	}
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		// A dependency, or the main module when bin is wireguard-go itself.
		if len(f) < 2 || (f[0] != "dep" && f[0] != "mod") || f[1] != "golang.zx2c4.com/wireguard" {
			continue
		}
		if i+1 < len(lines) {
			if r := strings.Fields(lines[i+1]); len(r) >= 2 && r[0] == "=>" {
				return strings.TrimPrefix(filepath.Base(r[1]), "wireguard-"), nil
			}
		}
		return "upstream", nil
	}
	if strings.Contains(string(out), "\tpath\tgolang.zx2c4.com/wireguard\n") {
		return "upstream", nil // upstream's own main package
	}
	return "", fmt.Errorf("%s does not contain golang.zx2c4.com/wireguard", bin)
}

// IdleWait is how long an end runs untouched before its idle memory is
// read: longer than wgd's settle time before it pages out its binary
// (cmd/wgd/pageout_linux.go).
const IdleWait = 8 * time.Second

// Mem is a process's resident memory in bytes: now and its peak.
type Mem struct {
	RSS, Peak int64
	Anon      int64 // RssAnon: the part of RSS only swap could take back
}

// ReadMem reads VmRSS, VmHWM and RssAnon of pid from /proc.
func ReadMem(pid int) (Mem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Mem{}, err
	}
	defer f.Close()
	var m Mem
	fields := map[string]*int64{"VmRSS": &m.RSS, "VmHWM": &m.Peak, "RssAnon": &m.Anon}
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		dst := fields[k]
		if !ok || dst == nil {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return Mem{}, fmt.Errorf("/proc/%d/status %s: %w", pid, k, err)
		}
		*dst = kb << 10
	}
	if m.RSS == 0 || m.Peak == 0 || m.Anon == 0 {
		return Mem{}, fmt.Errorf("/proc/%d/status: no VmRSS/VmHWM/RssAnon", pid)
	}
	return m, s.Err()
}

// ResetPeak sets pid's peak (VmHWM) to its current RSS, so a later ReadMem
// reports the peak of what happened since.
func ResetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// MiB formats bytes as mebibytes with one decimal.
func MiB(b int64) string {
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64)
}
