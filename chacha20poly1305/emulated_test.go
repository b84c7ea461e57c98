package chacha20poly1305

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestEmulated runs this package's tests, built for the router CPUs, under
// qemu-user with CPU models of the ISA each build is for: the assembly
// against x/crypto's generic code on MIPS32r2 (both byte orders) and
// ARMv7, the generic code on MIPS32r1 and ARMv5 (where an instruction of a
// later ISA would fault or, for ROTR on r1, silently compute a shift).
func TestEmulated(t *testing.T) {
	if os.Getenv("WGD_EMULATED") != "" {
		t.Skip("already running emulated")
	}
	if testing.Short() {
		t.Skip("builds and emulates five test binaries")
	}
	wycheproofDir := wycheproofDir(t)
	for _, c := range []struct {
		name, goarch, variant, tags, qemu, cpu string
	}{
		{"mips-24Kc", "mips", "softfloat", "", "qemu-mips-static", "24Kc"},
		{"mipsle-74Kf", "mipsle", "softfloat", "", "qemu-mipsel-static", "74Kf"},
		{"mipsle-4Kc-generic", "mipsle", "softfloat", "purego", "qemu-mipsel-static", "4Kc"},
		{"armv7-cortex-a7", "arm", "7", "", "qemu-arm-static", "cortex-a7"},
		{"armv5-arm926", "arm", "5", "", "qemu-arm-static", "arm926"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			qemu, err := exec.LookPath(c.qemu)
			if err != nil {
				t.Skipf("needs %s (qemu-user-static): run scripts/deps.sh", c.qemu)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			bin := filepath.Join(t.TempDir(), "aead.test")
			build := exec.CommandContext(ctx, "go", "test", "-c", "-tags", c.tags, "-o", bin, ".")
			build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+c.goarch)
			if c.goarch == "arm" {
				build.Env = append(build.Env, "GOARM="+c.variant)
			} else {
				build.Env = append(build.Env, "GOMIPS="+c.variant)
			}
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go test -c: %v\n%s", err, out)
			}
			run := exec.CommandContext(ctx, qemu, "-cpu", c.cpu, bin, "-test.count=1", "-cases=1")
			run.Env = append(os.Environ(), "WGD_EMULATED=1", wycheproofEnv+"="+wycheproofDir)
			out, err := run.CombinedOutput()
			if err != nil {
				t.Fatalf("%s -cpu %s: %v\n%s", c.qemu, c.cpu, err, out)
			}
			t.Logf("%s -cpu %s: %s", c.qemu, c.cpu, out)
		})
	}
}
