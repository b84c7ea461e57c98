package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// settleTime is how long the running state must stay unchanged before
// the binary's pages are paged out: long enough for the commands that
// caused the change (wgd ifup, wgd reload: the same binary, and the kernel
// leaves pages that two processes map) to have exited.
var settleTime = 5 * time.Second // a variable for tests

// The daemon also pages out once as it starts (cmdRun), before its own
// work: the runtime and package initialisation touch most of the binary.
//
// pageoutWhenSettled returns the daemon's Applied hook: every change of
// the running state restarts a timer, and when it fires the binary's
// pages are paged out. The first change, the start, pages out at once
// too: traffic may begin right away, and the startup's pages on top of a
// saturated data plane's buffers made the highest peak (16 MiB instead of
// 12 for the lean profile); no other process maps the binary yet. The
// daemon calls it from its one goroutine.
//
// Starting and reconfiguring touch far more of the binary than running
// does (parsing, device setup, package initialisation), and the kernel
// reads ahead and maps 64 KiB around every fault; those clean pages then
// stay resident until memory gets tight. MADV_PAGEOUT (Linux 5.4+) drops
// them from the page cache now; MADV_RANDOM then stops the read-ahead, so
// the running daemon faults back only the pages it uses: measured with
// `make bench`, about 2 of 9 MiB. Anonymous memory (heap, stacks) is not
// touched.
func pageoutWhenSettled(ctx context.Context, log *slog.Logger) (applied, stop func()) {
	pageout := func() {
		if ctx.Err() != nil {
			return
		}
		n, err := pageoutBinary()
		if err != nil {
			log.Debug("binary pages kept", "error", err)
			return
		}
		log.Debug("binary pages paged out", "bytes", n)
	}
	var t *time.Timer
	var running sync.WaitGroup
	applied = func() {
		if t != nil {
			if t.Stop() {
				running.Done()
			}
		} else {
			pageout()
		}
		running.Add(1)
		t = time.AfterFunc(settleTime, func() { defer running.Done(); pageout() })
	}
	// stop, once the daemon calls applied no more, stops the timer and
	// waits for a page-out under way.
	stop = func() {
		if t != nil && t.Stop() {
			running.Done()
		}
		running.Wait()
	}
	return applied, stop
}

// pageoutBinary pages out the read-only mappings of the running binary
// and turns read-ahead off for them.
// The written pages of its data segment are anonymous: with swap they
// would only go there and come back.
func pageoutBinary() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var released int64
	s := bufio.NewScanner(f)
	for s.Scan() {
		lo, hi, ok := exeMapping(s.Text(), exe)
		if !ok {
			continue
		}
		for _, advice := range []int{unix.MADV_PAGEOUT, unix.MADV_RANDOM} {
			if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(lo), uintptr(hi-lo), uintptr(advice)); e != 0 {
				return released, fmt.Errorf("madvise %x-%x: %w", lo, hi, e)
			}
		}
		released += int64(hi - lo)
	}
	return released, s.Err()
}

// exeMapping parses one line of /proc/self/maps and says whether it is a
// read-only mapping of the file exe.
func exeMapping(line, exe string) (lo, hi uint64, ok bool) {
	fields := strings.Fields(line)
	if len(fields) < 6 || len(fields[1]) < 2 || fields[1][1] != '-' || strings.Join(fields[5:], " ") != exe {
		return 0, 0, false
	}
	a, b, found := strings.Cut(fields[0], "-")
	if !found {
		return 0, 0, false
	}
	lo, err1 := strconv.ParseUint(a, 16, 64)
	hi, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil || hi <= lo {
		return 0, 0, false
	}
	return lo, hi, true
}
