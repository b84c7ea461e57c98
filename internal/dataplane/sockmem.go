package dataplane

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SockMem is the kernel memory of a process's UDP sockets, as `ss -uamp`
// reports it (skmem): memory outside the process's RSS.
type SockMem struct {
	Sockets int
	// Used is what the sockets hold now: queued receive and send data
	// (each datagram's whole allocation), reserved room and backlog.
	Used int64
	// Limit is what their queues may hold: receive plus send buffer sizes
	// (the kernel's doubled SO_RCVBUF + SO_SNDBUF).
	Limit int64
	// Drops counts datagrams the receive queues dropped, being full.
	Drops int64
}

// ReadSockMem sums the UDP sockets pid holds in the network namespace ns
// (a name under /var/run/netns).
func ReadSockMem(ctx context.Context, ns string, pid int) (SockMem, error) {
	out, err := exec.CommandContext(ctx, "ss", "-N", ns, "-uamnp").Output()
	if err != nil {
		return SockMem{}, fmt.Errorf("ss -N %s -uamp: %w", ns, err)
	}
	return parseSockMem(string(out), pid)
}

// parseSockMem reads ss's output: a socket's line names its processes
// (users:(("wgd",pid=1,fd=7))), the skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)
// after it is its memory.
func parseSockMem(out string, pid int) (SockMem, error) {
	var m SockMem
	owner := fmt.Sprintf("pid=%d,", pid)
	mine := false
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "users:") {
			mine = strings.Contains(f, owner)
			continue
		}
		if !strings.HasPrefix(f, "skmem:(") || !mine {
			continue
		}
		mine = false
		m.Sockets++
		for _, kv := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(f, "skmem:("), ")"), ",") {
			i := strings.IndexAny(kv, "0123456789")
			if i <= 0 {
				continue
			}
			v, err := strconv.ParseInt(kv[i:], 10, 64)
			if err != nil {
				return SockMem{}, fmt.Errorf("ss skmem %q: %w", f, err)
			}
			switch kv[:i] {
			case "r", "t", "f", "bl":
				m.Used += v
			case "rb", "tb":
				m.Limit += v
			case "d":
				m.Drops += v
			}
		}
	}
	if m.Sockets == 0 {
		return SockMem{}, fmt.Errorf("ss: no UDP socket of pid %d", pid)
	}
	return m, nil
}

// SockMemPeak samples ReadSockMem every interval until stop is called,
// which returns the highest Used seen (with that sample's Limit and the
// last Drops). A sample misses what came and went between two reads: a
// floor of the true peak, bounded above by Limit.
func SockMemPeak(ctx context.Context, ns string, pid int, interval time.Duration) (stop func() (SockMem, error)) {
	ctx, cancel := context.WithCancel(ctx)
	var (
		mu    sync.Mutex
		peak  SockMem
		first error
		done  = make(chan struct{})
	)
	sample := func() {
		m, err := ReadSockMem(ctx, ns, pid)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if first == nil && ctx.Err() == nil {
				first = err
			}
			return
		}
		drops := m.Drops
		if m.Used >= peak.Used {
			peak = m
		}
		peak.Drops = drops
	}
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			sample()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() (SockMem, error) {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if peak.Sockets == 0 && first == nil {
			first = fmt.Errorf("ss: no sample of pid %d's sockets", pid)
		}
		return peak, first
	}
}
