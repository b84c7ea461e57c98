package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"wgd/internal/dataplane"
	"wgd/internal/lab"
)

// Whole-tunnel figures: the router end A runs under qemu-user (with the
// counting plugin, or without it for CPU time), wgd (lean) or upstream wireguard-go; B is native wgd.
// A fixed number of bytes crosses the tunnel by TCP (iperf3 -n), B to A
// (A decrypts) or A to B (A encrypts). A's instructions for the transfer
// are those of the run minus those of a run that only starts, handshakes
// and stops (the plugin counts the whole process). Its CPU time is read
// from /proc after the handshake and 2 s after the transfer, minus the
// same 2 s of a run that moves nothing.

// upstreamPatches are the ones upstream needs to run under qemu-user at
// all: unaligned loads (SIGBUS on mips) and, on big-endian mips, the TUN
// offload header's byte order.
var upstreamPatches = []string{
	"patches/0001-tun-aligned-ifreq-and-netlink.patch",
	"patches/0002-device-sticky-aligned-netlink.patch",
	"patches/0005-tun-little-endian-virtio-header.patch",
}

// TunnelResult is one arch, implementation and direction.
type TunnelResult struct {
	Arch, Impl, Dir string
	Bytes           int64
	Runs            int // the figures are medians of this many
	InsnPerByte     float64
	CPUSecPerGB     float64
	// The CPU seconds' parts: qemu's own (the translated guest code,
	// translation, its syscall wrappers) and the kernel's for the syscalls.
	UserSecPerGB, SysSecPerGB float64
}

type tunnelBench struct {
	out, plugin, nativeWGD string
	bytes                  int64
	repeat                 int
	count                  bool // instruction counts too (false: CPU time only)
}

// upstreamWork materialises upstream wireguard-go with upstreamPatches
// only and returns the go.work that builds it.
func upstreamWork(dir string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.zx2c4.com/wireguard")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	moddir, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m golang.zx2c4.com/wireguard: %w", err)
	}
	mod := filepath.Join(dir, "wireguard")
	os.RemoveAll(mod)
	if b, err := exec.Command("cp", "-R", strings.TrimSpace(string(moddir)), mod).CombinedOutput(); err != nil {
		return "", fmt.Errorf("cp: %v: %s", err, b)
	}
	if b, err := exec.Command("chmod", "-R", "u+w", mod).CombinedOutput(); err != nil {
		return "", fmt.Errorf("chmod: %v: %s", err, b)
	}
	for _, p := range upstreamPatches {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		cmd := exec.Command("patch", "-d", mod, "-p1", "--batch", "--forward", "--fuzz=0", "--no-backup-if-mismatch")
		cmd.Stdin = f
		b, err := cmd.CombinedOutput()
		f.Close()
		if err != nil {
			return "", fmt.Errorf("%s: %v: %s", p, err, b)
		}
	}
	gv, err := exec.Command("go", "list", "-m", "-f", "{{.GoVersion}}").Output()
	if err != nil {
		return "", err
	}
	work := filepath.Join(dir, "go.work")
	return work, os.WriteFile(work, []byte("go "+strings.TrimSpace(string(gv))+"\n\nuse ./wireguard\n"), 0o644)
}

func build(a arch, out, pkg, gowork string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a.GOARCH, "GOARM="+a.GOARM, "GOMIPS="+a.GOMIPS)
	if gowork != "" {
		cmd.Env = append(cmd.Env, "GOWORK="+gowork)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for %s: %v\n%s", pkg, a.Name, err, b)
	}
	return nil
}

func (tb *tunnelBench) arch(a arch, upWork string) ([]TunnelResult, error) {
	bins := map[string]string{
		"wgd":      filepath.Join(tb.out, "wgd-lean-"+a.Name),
		"upstream": filepath.Join(tb.out, "wireguard-go-"+a.Name),
	}
	if err := build(a, bins["wgd"], "./cmd/wgd", ""); err != nil {
		return nil, err
	}
	if err := build(a, bins["upstream"], "golang.zx2c4.com/wireguard", upWork); err != nil {
		return nil, err
	}
	// Round by round, every implementation and direction in turn: a
	// change in the machine's load falls on all of them alike.
	type key struct{ impl, dir string }
	var order []key
	for _, impl := range []string{"wgd", "upstream"} {
		for _, dir := range []string{"decrypt", "encrypt"} {
			order = append(order, key{impl, dir})
		}
	}
	type series struct{ insns, cpus, users, syss []float64 }
	got := map[key]*series{}
	for i := 0; i < tb.repeat; i++ {
		for _, k := range order {
			insn, cpu, err := tb.measure(a, k.impl, bins[k.impl], k.dir)
			if err != nil {
				return nil, err
			}
			logf("tunnel %s %s %s, round %d: %.1f instructions/byte, %.1f CPU s/GB (user %.1f, system %.1f)",
				a.Name, k.impl, k.dir, i+1, insn, cpu.user+cpu.sys, cpu.user, cpu.sys)
			s := got[k]
			if s == nil {
				s = new(series)
				got[k] = s
			}
			s.insns, s.cpus = append(s.insns, insn), append(s.cpus, cpu.user+cpu.sys)
			s.users, s.syss = append(s.users, cpu.user), append(s.syss, cpu.sys)
		}
	}
	var rs []TunnelResult
	for _, k := range order {
		s := got[k]
		r := TunnelResult{Arch: a.Name, Impl: k.impl, Dir: k.dir, Bytes: tb.bytes, Runs: tb.repeat,
			InsnPerByte: middle(s.insns), CPUSecPerGB: middle(s.cpus), UserSecPerGB: middle(s.users), SysSecPerGB: middle(s.syss)}
		logf("tunnel %s %s %s: %.1f instructions/byte, %.1f CPU s/GB (user %.1f, system %.1f; medians of %d)",
			a.Name, k.impl, k.dir, r.InsnPerByte, r.CPUSecPerGB, r.UserSecPerGB, r.SysSecPerGB, tb.repeat)
		rs = append(rs, r)
	}
	return rs, nil
}

// cpuTime is a process's user and system CPU seconds, or those per GB.
type cpuTime struct{ user, sys float64 }

// measure is one transfer's instructions per byte and CPU seconds per GB:
// four runs, with and without the plugin, moving data and not.
func (tb *tunnelBench) measure(a arch, impl, bin, dir string) (insn float64, cpu cpuTime, err error) {
	if tb.count {
		idleInsn, _, err := tb.run(a, impl, bin, "", true)
		if err != nil {
			return 0, cpu, err
		}
		busyInsn, _, err := tb.run(a, impl, bin, dir, true)
		if err != nil {
			return 0, cpu, err
		}
		insn = (busyInsn - idleInsn) / float64(tb.bytes)
	}
	_, idle, err := tb.run(a, impl, bin, "", false)
	if err != nil {
		return 0, cpu, err
	}
	_, busy, err := tb.run(a, impl, bin, dir, false)
	if err != nil {
		return 0, cpu, err
	}
	perGB := 1e9 / float64(tb.bytes)
	return insn, cpuTime{(busy.user - idle.user) * perGB, (busy.sys - idle.sys) * perGB}, nil
}

func middle(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// run starts the pair with the emulated end A, moves tb.bytes in
// direction dir ("" moves nothing) and returns A's guest instructions
// (with count: the plugin's callbacks cost qemu CPU time) or its CPU
// seconds (without).
func (tb *tunnelBench) run(a arch, impl, bin, dir string, count bool) (insn float64, cpu cpuTime, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	l, err := lab.New()
	if err != nil {
		return 0, cpuTime{}, err
	}
	defer func() {
		l.StopAll()
		l.Close()
	}()
	countFile := filepath.Join(l.Dir, "insn-count")
	emu := dataplane.Impl{Name: impl, Bin: bin, WGD: impl == "wgd", CLI: tb.nativeWGD,
		Wrap: []string{a.Qemu, "-cpu", a.QemuCPU}}
	if count {
		emu.Wrap = append(emu.Wrap, "-plugin", tb.plugin+",out="+countFile)
	}
	native := dataplane.Impl{Name: "wgd", Bin: tb.nativeWGD, WGD: true}
	p, err := dataplane.NewPair(ctx, l, emu, native)
	if err != nil {
		return 0, cpuTime{}, err
	}
	if err := p.Start(ctx); err != nil {
		return 0, cpuTime{}, fmt.Errorf("%s %s: %w\n%s", a.Name, impl, err, tail(p.A.Proc.Output()))
	}
	// CPU time from here on: the startup (seconds of translating and
	// running a large binary under qemu, varying with the load) stays out.
	before, err := cpuSeconds(p.A.Proc.Pid())
	if err != nil {
		return 0, cpuTime{}, err
	}
	if dir != "" {
		if err := transfer(ctx, p, tb.bytes, dir == "encrypt"); err != nil {
			return 0, cpuTime{}, fmt.Errorf("%s %s %s: %w", a.Name, impl, dir, err)
		}
	}
	time.Sleep(2 * time.Second) // the last segments and acknowledgements
	after, err := cpuSeconds(p.A.Proc.Pid())
	if err != nil {
		return 0, cpuTime{}, err
	}
	cpu = cpuTime{after.user - before.user, after.sys - before.sys}
	if err := p.A.Proc.Stop(60 * time.Second); err != nil && !strings.Contains(err.Error(), "signal") {
		logf("%s %s: stop: %v", a.Name, impl, err)
	}
	if !count {
		return 0, cpu, nil
	}
	b, err := os.ReadFile(countFile)
	if err != nil {
		return 0, cpuTime{}, fmt.Errorf("%s %s: no instruction count (did qemu exit cleanly?): %w", a.Name, impl, err)
	}
	insn, err = strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	return insn, cpu, err
}

// transfer moves n bytes by TCP through the tunnel: from B to A, or from
// A to B when fromA.
func transfer(ctx context.Context, p *dataplane.Pair, n int64, fromA bool) error {
	srv, err := p.A.Host.Start("iperf3", "-s", "-B", p.A.TunIP, "-p", "5201")
	if err != nil {
		return err
	}
	defer srv.Stop(2 * time.Second)
	args := []string{"iperf3", "-c", p.A.TunIP, "-p", "5201", "-n", strconv.FormatInt(n, 10), "-J"}
	if fromA {
		args = append(args, "-R")
	}
	return lab.Poll(ctx, 15*time.Minute, func(ctx context.Context) error {
		out, err := p.B.Host.Run(ctx, args...)
		if err != nil {
			return err
		}
		// -n bounds what the sender sends: the client, or with -R the
		// server, whose count the client's report may leave at 0. The
		// receiver's count may stop before the last bytes in flight
		// arrive (they still cross the tunnel).
		var res struct {
			Error string `json:"error"`
			End   struct {
				SumSent struct {
					Bytes int64 `json:"bytes"`
				} `json:"sum_sent"`
				SumReceived struct {
					Bytes int64 `json:"bytes"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			return lab.GiveUp(fmt.Errorf("iperf3 -J: %w: %.200s", err, out))
		}
		if res.Error != "" {
			return fmt.Errorf("iperf3: %s", res.Error) // e.g. the server is not listening yet
		}
		if sent, got := res.End.SumSent.Bytes, res.End.SumReceived.Bytes; sent < n && got < n*9/10 {
			return lab.GiveUp(fmt.Errorf("iperf3 sent %d and received %d of %d bytes: %.600s", sent, got, n, out))
		}
		return nil
	})
}

// cpuSeconds is a process's user and system CPU time, all threads.
func cpuSeconds(pid int) (cpuTime, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTime{}, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// Fields after the command: state is 0, utime 11, stime 12 (clock ticks, 100/s).
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return cpuTime{}, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return cpuTime{ut / 100, st / 100}, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s insnbench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func tunnelTable(rs []TunnelResult) string {
	if len(rs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| CPU | router end | wgd instructions/byte | upstream instructions/byte | ratio | wgd CPU s/GB (user + system) | upstream CPU s/GB (user + system) | ratio |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		if r.Impl != "wgd" {
			continue
		}
		for _, u := range rs {
			if u.Impl == "upstream" && u.Arch == r.Arch && u.Dir == r.Dir {
				fmt.Fprintf(&b, "| %s | %sing | %.1f | %.1f | %.2f | %.1f (%.1f + %.1f) | %.1f (%.1f + %.1f) | %.2f |\n", r.Arch, r.Dir,
					r.InsnPerByte, u.InsnPerByte, r.InsnPerByte/u.InsnPerByte, r.CPUSecPerGB, r.UserSecPerGB, r.SysSecPerGB,
					u.CPUSecPerGB, u.UserSecPerGB, u.SysSecPerGB, r.CPUSecPerGB/u.CPUSecPerGB)
			}
		}
	}
	fmt.Fprintf(&b, "\nWhole tunnel: the router end under qemu-user (wgd lean, or upstream wireguard-go with only %s), a native wgd the other end, %d MB by TCP through it; per payload byte, minus a run that only starts, handshakes and stops; CPU seconds from runs without the counting plugin; medians of %d.\n",
		strings.Join(upstreamPatches, ", "), rs[0].Bytes/1e6, rs[0].Runs)
	return b.String()
}
