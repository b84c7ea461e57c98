// Package hotplug turns news about the WAN link into one stream of typed
// events: netifd's hotplug.d calls (through `wgd hotplug` and the control
// socket), rtnetlink notifications and D-Bus signals of NetworkManager or
// systemd-networkd. Sources only describe what happened; the daemon decides
// what to do about it.
package hotplug

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Action is what happened to a link.
type Action string

const (
	// Up: the link came up with its addresses and routes.
	Up Action = "up"
	// Update: the link stays up but its addresses or routes changed.
	Update Action = "update"
	// Down: the link went away.
	Down Action = "down"
	// Other: news that needs no reaction (it is only recorded).
	Other Action = "other"
)

// Source names where an event came from.
type Source string

const (
	SourceHotplugD Source = "hotplug.d"
	SourceNetlink  Source = "netlink"
	SourceDBus     Source = "dbus"
)

// Event is one piece of news about a network link.
// It crosses the control socket (package api): api's compatibility rule applies to its JSON.
type Event struct {
	Source    Source    `json:"source"`
	Action    Action    `json:"action"`
	Interface string    `json:"interface,omitempty"` // netifd's logical name, e.g. "wan"
	Device    string    `json:"device,omitempty"`    // Linux device, e.g. "eth1", "pppoe-wan"
	Detail    string    `json:"detail,omitempty"`    // what changed, for people
	WAN       bool      `json:"wan"`                 // the source knows it concerns the WAN
	Time      time.Time `json:"time"`
}

func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.Source, e.Action)
	if e.Interface != "" {
		fmt.Fprintf(&b, " interface %s", e.Interface)
	}
	if e.Device != "" {
		fmt.Fprintf(&b, " device %s", e.Device)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, " (%s)", e.Detail)
	}
	return b.String()
}

// Reacts reports whether the event calls for refreshing the tunnels.
func (e Event) Reacts() bool { return e.Action == Up || e.Action == Update }

// ifupdate flags netifd sets, and whether each one means the link's
// addressing changed.
var ifupdateFlags = []struct {
	env    string
	name   string
	reacts bool
}{
	{"IFUPDATE_ADDRESSES", "addresses", true},
	{"IFUPDATE_ROUTES", "routes", true},
	{"IFUPDATE_PREFIXES", "prefixes", true},
	{"IFUPDATE_DATA", "data", false},
}

// FromEnv reads a hotplug.d iface event from netifd's environment
// (ACTION, INTERFACE, DEVICE, IFUPDATE_*).
func FromEnv(getenv func(string) string) (Event, error) {
	ev := Event{Source: SourceHotplugD, Interface: getenv("INTERFACE"), Device: getenv("DEVICE")}
	action := getenv("ACTION")
	switch action {
	case "ifup":
		ev.Action = Up
	case "ifdown", "ifup-failed":
		ev.Action = Down
	case "ifupdate":
		ev.Action = Update
		var flags []string
		reacts := false
		for _, f := range ifupdateFlags {
			if getenv(f.env) == "1" {
				flags = append(flags, f.name)
				reacts = reacts || f.reacts
			}
		}
		// netifd sets no flag at all on some updates: treat those as changes.
		if len(flags) > 0 && !reacts {
			ev.Action = Other
		}
		if len(flags) > 0 {
			ev.Detail = "ifupdate: " + strings.Join(flags, " ")
		}
	case "":
		return ev, errors.New("ACTION is not set: run from /etc/hotplug.d/iface")
	default:
		ev.Action = Other
		ev.Detail = action
	}
	if ev.Detail == "" {
		ev.Detail = action
	}
	return ev, ev.Check()
}

// Limits on text an event carries from outside the daemon.
const maxField = 64

// Check validates an event that came from another process.
func (e Event) Check() error {
	switch e.Action {
	case Up, Update, Down, Other:
	default:
		return fmt.Errorf("unknown action %q", e.Action)
	}
	for _, f := range []struct{ name, v string }{{"interface", e.Interface}, {"device", e.Device}, {"detail", e.Detail}} {
		if len(f.v) > maxField {
			return fmt.Errorf("%s is longer than %d bytes", f.name, maxField)
		}
		for _, c := range f.v {
			if c < 0x20 || c == 0x7f {
				return fmt.Errorf("%s holds a control character", f.name)
			}
		}
	}
	return nil
}
