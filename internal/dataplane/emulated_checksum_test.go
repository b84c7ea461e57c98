package dataplane

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestEmulatedChecksum runs the patched data plane's checksum tests (tun,
// upstream's and patch 0021's) built for each 32-bit router CPU under
// qemu-user: there checksumNoFold sums aligned 32-bit words, a path the
// native build never takes; mips checks it big-endian.
func TestEmulatedChecksum(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and emulates four test binaries")
	}
	for _, name := range []string{"mips", "mipsle", "armv5", "armv7"} {
		arch, _ := ArchByName(name)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			qemu, err := exec.LookPath(arch.Qemu)
			if err != nil {
				t.Skipf("needs %s (qemu-user-static): run scripts/deps.sh", arch.Qemu)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			bin := filepath.Join(t.TempDir(), "tun.test")
			build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "golang.zx2c4.com/wireguard/tun")
			build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch.GOARCH,
				"GOARM="+arch.GOARM, "GOMIPS="+arch.GOMIPS)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go test -c: %v\n%s", err, out)
			}
			out, err := exec.CommandContext(ctx, qemu, "-cpu", arch.QemuCPU, bin,
				"-test.run", "Checksum", "-test.v", "-test.count=1").CombinedOutput()
			if err != nil {
				t.Fatalf("%s -cpu %s: %v\n%s", arch.Qemu, arch.QemuCPU, err, out)
			}
			if !bytes.Contains(out, []byte("--- PASS: TestChecksumEveryOffset")) {
				t.Fatalf("patch 0021's test did not run:\n%s", out)
			}
		})
	}
}
