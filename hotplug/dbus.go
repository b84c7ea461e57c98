package hotplug

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// The D-Bus names wgd listens to.
const (
	nmName      = "org.freedesktop.NetworkManager"
	nmPath      = "/org/freedesktop/NetworkManager"
	networkd    = "org.freedesktop.network1"
	linkIface   = "org.freedesktop.network1.Link"
	linkPrefix  = "/org/freedesktop/network1/link/"
	propsIface  = "org.freedesktop.DBus.Properties"
	propsSignal = propsIface + ".PropertiesChanged"

	// DefaultSystemBus is where the system bus listens when
	// DBUS_SYSTEM_BUS_ADDRESS does not say otherwise.
	DefaultSystemBus = "unix:path=/var/run/dbus/system_bus_socket"

	dbusSetupTimeout = 10 * time.Second
)

// NetworkManager's NMState values.
const (
	nmAsleep          = 10
	nmDisconnected    = 20
	nmConnectedLocal  = 50
	nmConnectedSite   = 60
	nmConnectedGlobal = 70
)

// DBus reports NetworkManager's StateChanged and PrimaryConnection
// changes, and systemd-networkd's link OperationalState and AddressState
// changes, from the system bus. Without a bus or those services it logs
// so and waits: they may appear later.
type DBus struct {
	// Address of the bus; "": $DBUS_SYSTEM_BUS_ADDRESS, else the
	// standard system bus socket.
	Address string
	Log     *slog.Logger
	// Retry is how long to wait before connecting again to a bus that
	// is absent or went away; 0: one minute.
	Retry time.Duration
}

// Run reports events to emit until ctx ends. It returns nil when ctx
// ends; a missing bus is not an error.
func (s *DBus) Run(ctx context.Context, emit func(Event)) error {
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	addr := s.Address
	if addr == "" {
		addr = os.Getenv("DBUS_SYSTEM_BUS_ADDRESS")
	}
	if addr == "" {
		addr = DefaultSystemBus
	}
	retry := s.Retry
	if retry == 0 {
		retry = time.Minute
	}
	logged := false
	for {
		err := s.session(ctx, addr, log, emit)
		if ctx.Err() != nil {
			return nil
		}
		// Said once at info level: most routers have no D-Bus at all.
		if !logged {
			log.Info("no D-Bus system bus: NetworkManager and systemd-networkd events off until it appears", "bus", addr, "error", err)
			logged = true
		} else {
			log.Debug("D-Bus system bus", "bus", addr, "error", err)
		}
		select {
		case <-time.After(retry):
		case <-ctx.Done():
			return nil
		}
	}
}

// session listens on one connection until it breaks or ctx ends.
func (s *DBus) session(ctx context.Context, addr string, log *slog.Logger, emit func(Event)) error {
	// A bus that accepts but never answers must not hold the daemon:
	// setting up is bounded, and the connection ends with ctx.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	setup := time.AfterFunc(dbusSetupTimeout, cancel)
	conn, err := dbus.Connect(addr, dbus.WithContext(cctx))
	if err != nil {
		setup.Stop()
		return err
	}
	defer conn.Close()
	rules := [][]dbus.MatchOption{
		{dbus.WithMatchSender(nmName), dbus.WithMatchObjectPath(nmPath), dbus.WithMatchInterface(nmName), dbus.WithMatchMember("StateChanged")},
		{dbus.WithMatchSender(nmName), dbus.WithMatchObjectPath(nmPath), dbus.WithMatchInterface(propsIface), dbus.WithMatchMember("PropertiesChanged"), dbus.WithMatchArg(0, nmName)},
		{dbus.WithMatchSender(networkd), dbus.WithMatchPathNamespace(dbus.ObjectPath(strings.TrimSuffix(linkPrefix, "/"))), dbus.WithMatchInterface(propsIface), dbus.WithMatchMember("PropertiesChanged"), dbus.WithMatchArg(0, linkIface)},
	}
	for _, r := range rules {
		if err := conn.AddMatchSignalContext(ctx, r...); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
	}
	signals := make(chan *dbus.Signal, 64)
	conn.Signal(signals)
	var present []string
	for _, name := range []string{nmName, networkd} {
		var has bool
		if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err == nil && has {
			present = append(present, name)
		}
	}
	if !setup.Stop() {
		return fmt.Errorf("no answer from the bus within %v", dbusSetupTimeout)
	}
	if len(present) == 0 {
		log.Info("D-Bus: neither NetworkManager nor systemd-networkd is on the bus; listening in case one starts", "bus", addr)
	} else {
		log.Info("watching the WAN through D-Bus", "services", present)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case sig, ok := <-signals:
			if !ok {
				return fmt.Errorf("connection closed")
			}
			ev, ok := fromSignal(sig)
			if !ok {
				continue
			}
			// The bus delivers signals addressed to us whatever our
			// match rules say: only the service's owner counts.
			if !s.fromOwner(ctx, conn, sig, ev) {
				log.Debug("D-Bus: signal from a stranger ignored", "sender", sig.Sender, "signal", sig.Name)
				continue
			}
			ev.Time = time.Now()
			emit(ev)
		}
	}
}

func (s *DBus) fromOwner(ctx context.Context, conn *dbus.Conn, sig *dbus.Signal, ev Event) bool {
	name := nmName
	if strings.HasPrefix(string(sig.Path), linkPrefix) {
		name = networkd
	}
	var owner string
	err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, name).Store(&owner)
	return err == nil && owner == sig.Sender
}

// fromSignal reads an event out of a signal; ok is false for signals
// that say nothing about the WAN.
func fromSignal(sig *dbus.Signal) (Event, bool) {
	ev := Event{Source: SourceDBus}
	switch {
	case sig.Name == nmName+".StateChanged" && sig.Path == nmPath:
		if len(sig.Body) < 1 {
			return ev, false
		}
		state, ok := sig.Body[0].(uint32)
		if !ok {
			return ev, false
		}
		ev.WAN = true // NetworkManager's global state is about its primary connection
		ev.Detail = fmt.Sprintf("NetworkManager state %d", state)
		switch {
		case state == nmConnectedGlobal:
			ev.Action, ev.Detail = Up, "NetworkManager: connected (global)"
		case state == nmConnectedSite || state == nmConnectedLocal:
			ev.Action, ev.Detail = Update, "NetworkManager: connected (no internet)"
		case state == nmDisconnected || state == nmAsleep:
			ev.Action, ev.Detail = Down, "NetworkManager: disconnected"
		default:
			ev.Action = Other // connecting, disconnecting
		}
		return ev, true
	case sig.Name == propsSignal && sig.Path == nmPath:
		changed, ok := properties(sig, nmName)
		if !ok {
			return ev, false
		}
		v, ok := changed["PrimaryConnection"]
		if !ok {
			return ev, false
		}
		ev.WAN = true
		if p, _ := v.Value().(dbus.ObjectPath); p == "/" || p == "" {
			ev.Action, ev.Detail = Down, "NetworkManager: no primary connection"
		} else {
			ev.Action, ev.Detail = Update, "NetworkManager: primary connection "+string(p)
		}
		return ev, true
	case sig.Name == propsSignal && strings.HasPrefix(string(sig.Path), linkPrefix):
		changed, ok := properties(sig, linkIface)
		if !ok {
			return ev, false
		}
		index, err := linkIndex(sig.Path)
		if err != nil {
			return ev, false
		}
		ev.Device = strconv.Itoa(index)
		if ifc, err := net.InterfaceByIndex(index); err == nil {
			ev.Device = ifc.Name
		}
		op, hasOp := changed["OperationalState"]
		as, hasAddr := changed["AddressState"]
		switch {
		case hasOp:
			state, _ := op.Value().(string)
			ev.Detail = "systemd-networkd: operational state " + state
			switch state {
			case "routable":
				ev.Action = Up
			case "off", "no-carrier", "dormant", "carrier", "degraded-carrier", "degraded":
				ev.Action = Down
			default:
				ev.Action = Other
			}
		case hasAddr:
			state, _ := as.Value().(string)
			ev.Detail = "systemd-networkd: address state " + state
			ev.Action = Other
			if state == "routable" {
				ev.Action = Update
			}
		default:
			return ev, false
		}
		return ev, true
	}
	return ev, false
}

// properties returns the changed properties of a PropertiesChanged
// signal about iface.
func properties(sig *dbus.Signal, iface string) (map[string]dbus.Variant, bool) {
	if len(sig.Body) < 2 {
		return nil, false
	}
	name, ok := sig.Body[0].(string)
	if !ok || name != iface {
		return nil, false
	}
	changed, ok := sig.Body[1].(map[string]dbus.Variant)
	return changed, ok
}

// linkIndex reads the interface index out of a networkd link path such
// as /org/freedesktop/network1/link/_32 ("_32" is "2" escaped: object
// path elements cannot start with a digit).
func linkIndex(p dbus.ObjectPath) (int, error) {
	elem := strings.TrimPrefix(string(p), linkPrefix)
	var b strings.Builder
	for i := 0; i < len(elem); i++ {
		if elem[i] == '_' && i+2 < len(elem) {
			n, err := strconv.ParseUint(elem[i+1:i+3], 16, 8)
			if err != nil {
				return 0, fmt.Errorf("link path %s: %w", p, err)
			}
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		b.WriteByte(elem[i])
	}
	n, err := strconv.Atoi(b.String())
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("link path %s: not an interface index", p)
	}
	return n, nil
}
