package uci

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// blockedWriterEnv makes the test binary a writer of DIR/network that
// stops for good between writing its temporary copy and renaming it,
// holding the lock, until it is killed.
const blockedWriterEnv = "UCI_TEST_BLOCKED_WRITER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(blockedWriterEnv); dir != "" {
		beforeRename = func(tmp string) {
			fmt.Println("written", tmp)
			select {}
		}
		err := Update(context.Background(), dir, "network", UpdateOptions{}, func(d *Doc) error {
			return d.AddSection("interface", "added", nil, nil)
		})
		fmt.Println("update:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// startBlockedWriter starts a writer of dir/network and returns once its
// temporary copy is written; kill ends it like a crash.
func startBlockedWriter(t *testing.T, dir string) (tmp string, kill func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), blockedWriterEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill = func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	t.Cleanup(kill)
	line, err := bufio.NewReader(out).ReadString('\n')
	tmp, ok := strings.CutPrefix(strings.TrimSpace(line), "written ")
	if err != nil || !ok {
		t.Fatalf("writer: %q %v", line, err)
	}
	return tmp, kill
}

// A writer killed between writing its temporary copy (the whole file,
// keys included) and renaming it leaves the copy, private; the next
// writer removes it, and so does RemoveStaleTemps (wgd's start), but not
// while a live writer holds the lock.
func TestStaleTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "network")
	if err := os.WriteFile(path, []byte("config interface 'lan'\n\toption proto 'static'\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tmp, kill := startBlockedWriter(t, dir)
	fi, err := os.Stat(tmp)
	if err != nil || fi.Mode().Perm() != 0o600 || filepath.Dir(tmp) != dir || !strings.HasPrefix(filepath.Base(tmp), ".network.wgd-") {
		t.Fatalf("temporary copy %s: %v %v", tmp, fi, err)
	}
	// A live writer holds the lock: its copy stays.
	if removed, err := RemoveStaleTemps(context.Background(), dir, "network", 200*time.Millisecond); err == nil || len(removed) != 0 {
		t.Errorf("with a live writer: removed %v, %v", removed, err)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("a live writer's copy was removed: %v", err)
	}
	kill()
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("the killed writer left nothing (the test proves nothing): %v", err)
	}
	removed, err := RemoveStaleTemps(context.Background(), dir, "network", time.Second)
	if err != nil || len(removed) != 1 || removed[0] != tmp {
		t.Errorf("RemoveStaleTemps: %v, %v", removed, err)
	}

	// The next writer cleans up after a killed one, and leaves nothing.
	tmp, kill = startBlockedWriter(t, dir)
	kill()
	if err := Update(context.Background(), dir, "network", UpdateOptions{}, func(d *Doc) error {
		return d.AddSection("interface", "next", nil, nil)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("the killed writer's copy is still there after the next write: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".network.wgd-*")); len(left) != 0 {
		t.Errorf("left: %v", left)
	}
	// Only our own temporary files go.
	other := filepath.Join(dir, ".network.other")
	os.WriteFile(other, nil, 0o600)
	RemoveStaleTemps(context.Background(), dir, "network", time.Second)
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another program's file was removed: %v", err)
	}
}
