package hotplug

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Netlink watches the kernel's links, addresses and routes and reports a
// change of the WAN: for systems without netifd's hotplug.d. It compares
// what matters of the WAN before and after each notification, so
// lifetime refreshes of unchanged addresses and changes on other links
// (the LAN, wgd's own tunnels) produce nothing.
type Netlink struct {
	// Config returns which links are the WAN; asked on each change, so
	// a reload takes effect.
	Config func() WANConfig
	Log    *slog.Logger
}

const netlinkGroups = unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR |
	unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE

// Run reports WAN changes to emit until ctx ends.
func (n *Netlink) Run(ctx context.Context, emit func(Event)) error {
	log := n.Log
	if log == nil {
		log = slog.Default()
	}
	sub, err := openRtnl(netlinkGroups, unix.SOCK_NONBLOCK)
	if err != nil {
		return err
	}
	// A pollable file: a read deadline ends the wait when ctx ends.
	f := os.NewFile(uintptr(sub.fd), "rtnetlink")
	defer f.Close()
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	defer stop()

	dumper, err := openRtnl(0, 0)
	if err != nil {
		return err
	}
	defer dumper.Close()
	cfg := n.Config()
	snap, err := dumper.snapshot()
	if err != nil {
		return err
	}
	view := snap.wan(cfg)
	log.Info("watching the WAN through netlink", "wan", view.names())

	buf := make([]byte, 64<<10)
	for {
		var got int
		var rerr error
		err := raw.Read(func(fd uintptr) bool {
			got, _, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
		cfg = n.Config()
		relevant := false
		switch {
		case errors.Is(rerr, unix.ENOBUFS):
			// Notifications were lost: look again at everything.
			relevant = true
		case rerr != nil:
			return fmt.Errorf("netlink: %w", rerr)
		default:
			msgs, _ := splitMessages(buf[:got])
			for _, m := range msgs {
				relevant = relevant || concerns(m, view, cfg)
			}
		}
		if !relevant {
			continue
		}
		s, err := dumper.snapshot()
		if err != nil {
			log.Warn("netlink: reading the WAN state", "error", err)
			continue
		}
		next := s.wan(cfg)
		if next.equal(view) {
			continue
		}
		ev := change(view, next)
		ev.Time = time.Now()
		view = next
		emit(ev)
	}
}

// concerns tells whether a notification may change the WAN view: any
// default route, and links and addresses of WAN devices.
func concerns(m nlMsg, view wanView, cfg WANConfig) bool {
	switch m.typ {
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		return len(m.data) >= rtMsgLen && m.data[1] == 0
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		l, ok := parseLink(m.data)
		return ok && (slices.Contains(view.indexes(), l.index) || slices.Contains(cfg.Names, l.name))
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		a, ok := parseAddr(m.data)
		return ok && slices.Contains(view.indexes(), a.index)
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
