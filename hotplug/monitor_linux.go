package hotplug

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"wgd/internal/rtnl"
)

// Monitor is wgd's one view of the kernel's network state: it owns the
// netlink subscription and the latest snapshot of links, addresses and
// default routes. Where the WAN is, which address families it reaches and
// whether an event concerns it are all read from that snapshot (wan.go),
// so no caller dumps the kernel's tables on its own.
//
// With Events set it also reports changes of the WAN, compared before and
// after each notification, so lifetime refreshes of unchanged addresses
// and changes on other links (the LAN, wgd's own tunnels) produce
// nothing: for systems without netifd's hotplug.d.
type Monitor struct {
	// Config returns which links are the WAN; asked on each change, so
	// a reload takes effect.
	Config func() WANConfig
	Log    *slog.Logger
	Events bool
	// Changed, when set, is called after each change of the WAN as the
	// snapshot shows it, also without Events, and once at the start. It
	// must not block.
	Changed func()

	mu     sync.Mutex
	dumper *rtnl.Conn // nil until Run has opened it
	snap   *rtnl.Snapshot
}

const netlinkGroups = unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR |
	unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE

// Run follows the kernel until ctx ends; WAN changes go to emit when
// m.Events is set.
func (m *Monitor) Run(ctx context.Context, emit func(Event)) error {
	log := m.Log
	if log == nil {
		log = slog.Default()
	}
	mon, err := rtnl.Listen(netlinkGroups)
	if err != nil {
		return err
	}
	defer mon.Close()
	// Closing ends the wait for the next notification.
	stop := context.AfterFunc(ctx, func() { mon.Close() })
	defer stop()

	dumper, err := rtnl.Open()
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.dumper = dumper
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.dumper = nil
		m.mu.Unlock()
		dumper.Close()
	}()
	cfg := m.Config()
	snap, err := m.Refresh()
	if err != nil {
		return err
	}
	view := wan(snap, cfg)
	log.Info("watching the network through netlink", "wan", view.names(), "events", m.Events)
	if m.Changed != nil {
		m.Changed()
	}

	for {
		msgs, err := mon.Receive()
		if ctx.Err() != nil {
			return nil
		}
		cfg = m.Config()
		relevant := false
		switch {
		case errors.Is(err, unix.ENOBUFS):
			// Notifications were lost: look again at everything.
			relevant = true
		case errors.Is(err, rtnl.ErrMalformed):
			// The messages before the fault still count.
		case err != nil:
			return fmt.Errorf("netlink: %w", err)
		}
		for _, msg := range msgs {
			relevant = relevant || concerns(msg, view, cfg)
		}
		if !relevant {
			continue
		}
		s, err := m.Refresh()
		if err != nil {
			log.Warn("netlink: reading the WAN state", "error", err)
			continue
		}
		next := wan(s, cfg)
		if next.equal(view) {
			continue
		}
		ev := change(view, next)
		ev.Time = time.Now()
		view = next
		if m.Changed != nil {
			m.Changed()
		}
		if m.Events {
			emit(ev)
		}
	}
}

// Refresh reads the kernel's state again and keeps it as the latest
// snapshot. Before Run has started (and in tests without it) it reads
// through a connection of its own.
func (m *Monitor) Refresh() (*rtnl.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s *rtnl.Snapshot
	var err error
	if m.dumper != nil {
		s, err = m.dumper.Snapshot()
	} else {
		s, err = rtnl.ReadSnapshot()
	}
	if err != nil {
		return nil, err
	}
	m.snap = s
	return s, nil
}

// Snapshot is the latest state read; the first call before any reads it.
// Nil when the kernel could not be read.
func (m *Monitor) Snapshot() *rtnl.Snapshot {
	m.mu.Lock()
	s := m.snap
	m.mu.Unlock()
	if s == nil {
		s, _ = m.Refresh()
	}
	return s
}

// Families tells which address families the WAN reaches, from the latest
// snapshot: asked for every endpoint name looked up.
func (m *Monitor) Families() (v4, v6 bool) { return Families(m.Snapshot()) }

// concerns tells whether a notification may change the WAN view: any
// default route, and links and addresses of WAN devices.
func concerns(m rtnl.Message, view wanView, cfg WANConfig) bool {
	switch m.Type {
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		h, _, err := rtnl.ParseRtMsg(m.Data)
		return err == nil && h.DstLen == 0
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		l, err := rtnl.ParseLink(m.Data)
		return err == nil && (slices.Contains(view.indexes(), l.Index) || slices.Contains(cfg.Names, l.Name))
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		a, err := rtnl.ParseAddr(m.Data)
		return err == nil && a.Prefix.IsValid() && slices.Contains(view.indexes(), a.Index)
	}
	return false
}

func (v wanView) names() []string {
	out := []string{}
	for _, d := range v {
		out = append(out, d.name)
	}
	return out
}
