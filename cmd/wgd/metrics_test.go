package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"

	"wgd/api"
	"wgd/hotplug"
)

// The metrics endpoint follows its settings: a change of the endpoint
// labels alone keeps the listener; a new address, or new names of the
// WAN (against which the same address is checked again), close it before
// the new one is opened.
func TestMetricsServerFollowsSettings(t *testing.T) {
	var events []string
	m := &metricsServer{ctx: context.Background(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	m.start = func(_ context.Context, addr string, wan hotplug.WANConfig, labels bool, _ func(context.Context) (*api.Status, error), _ *slog.Logger) (metricsServing, error) {
		events = append(events, fmt.Sprintf("open %s %v %v %v", addr, wan.Names, wan.Devices, labels))
		return &recordedServing{events: &events, addr: addr}, nil
	}
	step := func(addr string, wan hotplug.WANConfig, labels bool, want ...string) {
		t.Helper()
		events = nil
		m.set(addr, wan, labels, nil)
		if !slices.Equal(events, want) {
			t.Errorf("set(%s, %v, %v): %q, want %q", addr, wan, labels, events, want)
		}
	}
	none := hotplug.WANConfig{}
	named := hotplug.WANConfig{Names: []string{"wan"}}
	mapped := hotplug.WANConfig{Names: []string{"wan"}, Devices: map[string][]string{"wan": {"eth1"}}}
	step("127.0.0.1:9586", none, false, "open 127.0.0.1:9586 [] map[] false")
	step("127.0.0.1:9586", none, true, "labels 127.0.0.1:9586 true")
	step("127.0.0.1:9586", none, true)
	step("192.168.1.1:9586", none, true, "close 127.0.0.1:9586", "open 192.168.1.1:9586 [] map[] true")
	step("192.168.1.1:9586", named, true, "close 192.168.1.1:9586", "open 192.168.1.1:9586 [wan] map[] true")
	step("192.168.1.1:9586", named, true)
	// The network file gave wan another device.
	step("192.168.1.1:9586", mapped, true, "close 192.168.1.1:9586", "open 192.168.1.1:9586 [wan] map[wan:[eth1]] true")
	events = nil
	m.stop()
	if !slices.Equal(events, []string{"close 192.168.1.1:9586"}) {
		t.Errorf("stop: %q", events)
	}
}

type recordedServing struct {
	events *[]string
	addr   string
}

func (r *recordedServing) setEndpointLabels(on bool) {
	*r.events = append(*r.events, fmt.Sprintf("labels %s %v", r.addr, on))
}

func (r *recordedServing) close() error {
	*r.events = append(*r.events, "close "+r.addr)
	return nil
}
