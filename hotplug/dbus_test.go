package hotplug

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"wgd/internal/lab"
)

// privateBus starts a real dbus-daemon on a socket in a temporary
// directory and returns its address.
func privateBus(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon not installed: scripts/deps.sh installs it")
	}
	dir := t.TempDir()
	addr := "unix:path=" + filepath.Join(dir, "bus")
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(lab.BusConfig(addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := dbus.Connect(addr, dbus.WithContext(ctx))
		cancel()
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("dbus-daemon did not come up: %s", out.String())
		}
	}
}

func connectAs(t *testing.T, addr, name string) *dbus.Conn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	setup := time.AfterFunc(10*time.Second, cancel) // a bus that never answers
	c, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	setup.Stop()
	t.Cleanup(func() { c.Close() })
	if name != "" {
		if reply, err := c.RequestName(name, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
			t.Fatalf("own %s: %v %v", name, reply, err)
		}
	}
	return c
}

func TestDBusNetworkManagerAndNetworkd(t *testing.T) {
	addr := privateBus(t)
	events := make(chan Event, 100)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := (&DBus{Address: addr, Log: slog.New(slog.DiscardHandler)}).Run(ctx, func(ev Event) { events <- ev }); err != nil {
			t.Errorf("dbus source: %v", err)
		}
	}()
	defer func() { cancel(); wg.Wait() }()

	nm := connectAs(t, addr, nmName)
	nd := connectAs(t, addr, networkd)
	stranger := connectAs(t, addr, "")

	// Emitted until the source has subscribed.
	var ev Event
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := nm.Emit(nmPath, nmName+".StateChanged", uint32(nmConnectedGlobal)); err != nil {
			t.Fatal(err)
		}
		select {
		case ev = <-events:
		case <-time.After(100 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no event for NetworkManager's StateChanged")
			}
			continue
		}
		break
	}
	if ev.Action != Up || ev.Source != SourceDBus || !ev.WAN || !strings.Contains(ev.Detail, "connected (global)") {
		t.Errorf("StateChanged(70): %+v", ev)
	}
	drainEvents(events)

	next := func(what string) Event {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(5 * time.Second):
			t.Fatalf("no event for %s", what)
		}
		return Event{}
	}
	// A stranger cannot pass for NetworkManager.
	if err := stranger.Emit(nmPath, nmName+".StateChanged", uint32(nmConnectedGlobal)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	nm.Emit(nmPath, nmName+".StateChanged", uint32(nmDisconnected))
	if ev := next("StateChanged(20)"); ev.Action != Down || !ev.WAN {
		t.Errorf("after a stranger's signal and StateChanged(20): %+v, want down (the stranger's is ignored)", ev)
	}

	nm.Emit(nmPath, propsSignal, nmName, map[string]dbus.Variant{"PrimaryConnection": dbus.MakeVariant(dbus.ObjectPath("/org/freedesktop/NetworkManager/ActiveConnection/3"))}, []string{})
	if ev := next("PrimaryConnection"); ev.Action != Update || !strings.Contains(ev.Detail, "ActiveConnection/3") {
		t.Errorf("PrimaryConnection changed: %+v", ev)
	}
	// A property that says nothing about the WAN: no event.
	nm.Emit(nmPath, propsSignal, nmName, map[string]dbus.Variant{"WirelessEnabled": dbus.MakeVariant(true)}, []string{})

	// systemd-networkd: link 1 (lo, in every namespace) becomes routable.
	nd.Emit("/org/freedesktop/network1/link/_31", propsSignal, linkIface, map[string]dbus.Variant{"OperationalState": dbus.MakeVariant("routable")}, []string{})
	if ev := next("networkd OperationalState"); ev.Action != Up || ev.Device != "lo" || ev.WAN {
		t.Errorf("networkd link routable: %+v (the daemon decides whether lo is the WAN)", ev)
	}
	nd.Emit("/org/freedesktop/network1/link/_31", propsSignal, linkIface, map[string]dbus.Variant{"AddressState": dbus.MakeVariant("routable")}, []string{})
	if ev := next("networkd AddressState"); ev.Action != Update || ev.Device != "lo" {
		t.Errorf("networkd address state: %+v", ev)
	}
}

func drainEvents(ch chan Event) {
	for {
		select {
		case <-ch:
		case <-time.After(300 * time.Millisecond):
			return
		}
	}
}

// Without a bus the source logs once and waits; it returns nil when its
// context ends.
func TestDBusWithoutBus(t *testing.T) {
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := (&DBus{Address: "unix:path=" + filepath.Join(t.TempDir(), "none"), Log: slog.New(slog.NewTextHandler(&log, nil)), Retry: 50 * time.Millisecond}).
		Run(ctx, func(ev Event) { t.Errorf("event without a bus: %v", ev) })
	if err != nil {
		t.Errorf("Run without a bus: %v", err)
	}
	if n := strings.Count(log.String(), "no D-Bus system bus"); n != 1 {
		t.Errorf("want one log line about the missing bus, got %d:\n%s", n, log.String())
	}
}

func TestLinkIndex(t *testing.T) {
	for p, want := range map[dbus.ObjectPath]int{"/org/freedesktop/network1/link/_31": 1, "/org/freedesktop/network1/link/_312": 12, "/org/freedesktop/network1/link/_3123": 123} {
		if got, err := linkIndex(p); err != nil || got != want {
			t.Errorf("linkIndex(%s) = %d, %v; want %d", p, got, err, want)
		}
	}
	for _, p := range []dbus.ObjectPath{"/org/freedesktop/network1/link/_", "/org/freedesktop/network1/link/abc", "/org/freedesktop/network1/link/_30"} {
		if _, err := linkIndex(p); err == nil {
			t.Errorf("linkIndex(%s) passed", p)
		}
	}
}
