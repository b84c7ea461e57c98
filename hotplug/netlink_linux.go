package hotplug

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"wgd/internal/rtnl"
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
	defer dumper.Close()
	cfg := n.Config()
	snap, err := dumper.Snapshot()
	if err != nil {
		return err
	}
	view := wan(snap, cfg)
	log.Info("watching the WAN through netlink", "wan", view.names())

	for {
		msgs, err := mon.Receive()
		if ctx.Err() != nil {
			return nil
		}
		cfg = n.Config()
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
		for _, m := range msgs {
			relevant = relevant || concerns(m, view, cfg)
		}
		if !relevant {
			continue
		}
		s, err := dumper.Snapshot()
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
		emit(ev)
	}
}

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

// readSnapshot reads the links, addresses and default routes of the
// network namespace the caller runs in.
func readSnapshot() (*rtnl.Snapshot, error) {
	c, err := rtnl.Open()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Snapshot()
}

// defaultDevices names the devices holding a default route, per family.
func defaultDevices(s *rtnl.Snapshot) (v4, v6 map[string]bool) {
	v4, v6 = map[string]bool{}, map[string]bool{}
	for _, r := range s.Defaults {
		for _, oif := range r.Links() {
			l, ok := s.Links[oif]
			if !ok {
				continue
			}
			if r.Dst.Addr().Is4() {
				v4[l.Name] = true
			} else {
				v6[l.Name] = true
			}
		}
	}
	return v4, v6
}

func (v wanView) names() []string {
	out := []string{}
	for _, d := range v {
		out = append(out, d.name)
	}
	return out
}
