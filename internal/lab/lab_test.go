package lab

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestVethName(t *testing.T) {
	for _, c := range []struct {
		peer string
		n    int
		want string
	}{
		{"router", 1, "rout1abc123"},
		{"lan", 12, "lan12abc123"},
		{"laptop2", 123456, "lapt123456abc12"}, // cut at the kernel's 15
	} {
		if got := vethName(c.peer, c.n, "abc123"); got != c.want || len(got) > 15 {
			t.Errorf("vethName(%q, %d) = %q, want %q", c.peer, c.n, got, c.want)
		}
	}
}

func TestRandomID(t *testing.T) {
	a, err := randomID(6)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := randomID(6)
	if len(a) != 6 || a == b || strings.Trim(a, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		t.Errorf("randomID: %q, %q: want two different 6-character [a-z0-9] IDs", a, b)
	}
}

// TestLab checks the lab on its own: two hosts, a link, a process; then
// that Close removes all of it and can be called again.
func TestLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	a, err := l.Host(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Host(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Host(ctx, "a"); err == nil {
		t.Error("a second host named a was accepted")
	}
	link, err := l.Connect(ctx, a, b, "192.0.2.1/24", "192.0.2.2/24")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Run(ctx, "ping", "-n", "-c", "1", "-W", "2", "192.0.2.2"); err != nil {
		t.Errorf("ping over the link: %v", err)
	}
	if _, err := a.IP(ctx, "link", "show", "dev", link.ADev); err != nil {
		t.Errorf("device %s not in a: %v", link.ADev, err)
	}
	// A failing command reports its output.
	if _, err := a.Run(ctx, "ip", "link", "show", "dev", "nosuchdev"); err == nil || !strings.Contains(err.Error(), "nosuchdev") {
		t.Errorf("failing Run: error %v, want one that includes the output", err)
	}
	// A process that ignores SIGTERM is killed after the grace period.
	p, err := a.Start("sh", "-c", "trap '' TERM; echo started; while :; do sleep 0.1; done")
	if err != nil {
		t.Fatal(err)
	}
	if err := Poll(ctx, 10*time.Second, func(context.Context) error {
		if !strings.Contains(p.Output(), "started") {
			return os.ErrNotExist
		}
		return nil
	}); err != nil {
		t.Fatalf("started process wrote nothing: %v", err)
	}
	if err := p.Stop(200 * time.Millisecond); err == nil {
		t.Error("a SIGKILLed process reported a clean exit")
	}

	extra := l.Dir + ".extra"
	if err := os.WriteFile(extra, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l.RemoveOnClose(extra)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	out, err := run(ctx, "ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, nsPrefix+l.ID) {
		t.Errorf("namespaces left after Close:\n%s", out)
	}
	for _, path := range []string{l.Dir, extra} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s left after Close (%v)", path, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := l.Host(ctx, "c"); err == nil {
		t.Error("Host after Close was accepted")
	}
}

// TestCloseAfterFailedSetup: a setup step that fails leaves nothing behind.
func TestCloseAfterFailedSetup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.Host(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Host(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Connect(ctx, a, b, "192.0.2.1/24", "not-an-address"); err == nil {
		t.Fatal("Connect with a bad address succeeded")
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	out, err := run(ctx, "ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, nsPrefix+l.ID) {
		t.Errorf("namespaces left after Close:\n%s", out)
	}
}
