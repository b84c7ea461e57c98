package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestExeMapping(t *testing.T) {
	const exe = "/usr/sbin/wgd"
	for _, c := range []struct {
		line   string
		lo, hi uint64
		ok     bool
	}{
		{"00400000-008e5000 r-xp 00000000 fe:00 1234 /usr/sbin/wgd", 0x400000, 0x8e5000, true},
		{"008e5000-00e0c000 r--p 004e5000 fe:00 1234 /usr/sbin/wgd", 0x8e5000, 0xe0c000, true},
		{"00e0c000-00e76000 rw-p 00a0c000 fe:00 1234 /usr/sbin/wgd", 0, 0, false},  // written data
		{"00400000-008e5000 r-xp 00000000 fe:00 1234 /usr/sbin/wgd2", 0, 0, false}, // another file
		{"c000000000-c000400000 rw-p 00000000 00:00 0", 0, 0, false},               // heap
		{"00500000-00400000 r-xp 00000000 fe:00 1234 /usr/sbin/wgd", 0, 0, false},  // reversed
		{"0040000g-008e5000 r-xp 00000000 fe:00 1234 /usr/sbin/wgd", 0, 0, false},  // not hex
		{"00400000-008e5000 r-xp 00000000 fe:00 1234 /usr/sbin/wgd (deleted)", 0, 0, false},
	} {
		lo, hi, ok := exeMapping(c.line, exe)
		if lo != c.lo || hi != c.hi || ok != c.ok {
			t.Errorf("%q: %x-%x %v, want %x-%x %v", c.line, lo, hi, ok, c.lo, c.hi, c.ok)
		}
	}
	// An upgraded binary still running: /proc/self/exe says so too.
	if _, _, ok := exeMapping("00400000-008e5000 r-xp 00000000 fe:00 1234 /usr/sbin/wgd (deleted)", exe+" (deleted)"); !ok {
		t.Error("a deleted binary's mapping is not recognised")
	}
}

func TestPageoutBinary(t *testing.T) {
	n, err := pageoutBinary()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no read-only mapping of the test binary found")
	}
}

// The start's change pages out at once, later ones once settled, and
// none after stop.
func TestPageoutAtStartThenWhenSettled(t *testing.T) {
	defer func(d time.Duration) { settleTime = d }(settleTime)
	settleTime = 500 * time.Millisecond
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pageouts := func() int { return strings.Count(buf.String(), "binary pages paged out") }
	applied, stop := pageoutWhenSettled(ctx, log)
	applied() // the start
	if n := pageouts(); n != 1 {
		t.Fatalf("after the start's change: %d pageouts, want 1 at once\n%s", n, buf.String())
	}
	applied() // a reload: waits for the settle time
	if n := pageouts(); n != 1 {
		t.Errorf("right after a later change: %d pageouts, want still 1", n)
	}
	for deadline := time.Now().Add(10 * time.Second); pageouts() < 2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if n := pageouts(); n != 2 {
		t.Errorf("once the later change settled: %d pageouts, want 2", n)
	}
	applied() // another reload, then the daemon stops: no page-out follows
	stop()
	time.Sleep(3 * settleTime)
	if n := pageouts(); n != 2 {
		t.Errorf("after stop: %d pageouts, want still 2", n)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
