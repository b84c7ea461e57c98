package pkgtest

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// start_service under rc.common and procd.sh (stand-ins): the message
// procd gets holds wgd's command line in netifd mode, respawn, logging of
// stdout and stderr, and reload triggers for commits of network, wgd and
// firewall (the zone of the listen port may move).
func TestInitStartService(t *testing.T) {
	r := NewRoot(t)
	r.InstallWGD()
	r.FakeWGD()
	r.MustRun("/etc/init.d/wgd start")

	sets := r.UbusCalls("service", "set")
	if len(sets) != 1 {
		t.Fatalf("want one `ubus call service set`, got %d: %v", len(sets), r.Records())
	}
	msg := sets[0]
	if msg["name"] != "wgd" || msg["script"] != "/etc/init.d/wgd" {
		t.Errorf("service name/script: %v %v", msg["name"], msg["script"])
	}
	instances, _ := msg["instances"].(map[string]any)
	inst, _ := instances["instance1"].(map[string]any)
	if inst == nil {
		t.Fatalf("no instance1 in %v", msg)
	}
	check := func(key string, want any) {
		t.Helper()
		if got := inst[key]; !reflect.DeepEqual(got, want) {
			t.Errorf("instance %s = %#v, want %#v", key, got, want)
		}
	}
	check("command", []any{"/usr/sbin/wgd", "run", "--netifd"})
	check("respawn", []any{"3600", "5", "5"})
	check("stdout", true)
	check("stderr", true)

	trigger := func(pkg string) any {
		return []any{"config.change",
			[]any{"if", []any{"eq", "package", pkg}, []any{"run_script", "/etc/init.d/wgd", "reload"}},
			float64(1000)}
	}
	if want := []any{trigger("network"), trigger("wgd"), trigger("firewall")}; !reflect.DeepEqual(msg["triggers"], want) {
		got, _ := json.Marshal(msg["triggers"])
		w, _ := json.Marshal(want)
		t.Errorf("triggers:\n got %s\nwant %s", got, w)
	}
	if calls := r.Calls("wgd"); len(calls) != 0 {
		t.Errorf("start ran wgd itself: %v", calls)
	}
}

// reload is a live reload (`wgd reload`), not a restart: the service is
// then sent again (its firewall data may have changed) with the instance
// exactly as start sends it, which procd keeps running. A daemon that
// does not answer gets started by the same message, unless the service
// was stopped.
func TestInitReload(t *testing.T) {
	r := NewRoot(t)
	r.InstallWGD()
	r.FakeWGD()
	r.MustRun("/etc/init.d/wgd start")
	started := r.UbusCalls("service", "set")[0]["instances"]
	serviceKnown(r)

	r.ClearRecords()
	r.Answer("reload", "reloaded: none up, none down, wg0 updated\n", "", 0)
	r.MustRun("/etc/init.d/wgd reload")
	if calls := r.Calls("wgd"); !reflect.DeepEqual(calls, [][]string{{"reload"}}) {
		t.Errorf("wgd calls on reload: %v", calls)
	}
	sets := r.UbusCalls("service", "set")
	if len(sets) != 1 || !reflect.DeepEqual(sets[0]["instances"], started) {
		t.Errorf("reload: want the service sent with the instance unchanged (%v), got %v", started, sets)
	}
	if len(r.UbusCalls("service", "delete")) != 0 {
		t.Errorf("reload stopped the service: %v", r.Records())
	}

	r.ClearRecords()
	r.Answer("reload", "", "wgd reload: dial unix /var/run/wgd.sock: connect: no such file or directory\n", 1)
	r.MustRun("/etc/init.d/wgd reload")
	if sets := r.UbusCalls("service", "set"); len(sets) != 1 {
		t.Errorf("reload without a daemon: want the service started, got %v", r.Records())
	}

	// stop tells the firewall (config.change), which queues this very
	// reload trigger; procd runs it once the service is gone.
	r.MustRun("/etc/init.d/wgd stop")
	os.Remove(r.Path("tmp/standin-ubus/service.list"))
	r.ClearRecords()
	r.MustRun("/etc/init.d/wgd reload")
	if calls, sets := r.Calls("wgd"), r.UbusCalls("service", "set"); len(calls) != 0 || len(sets) != 0 {
		t.Errorf("reload after stop: wgd calls %v, service sets %v; want the service to stay stopped", calls, sets)
	}
}

func TestInitEnableStopDisable(t *testing.T) {
	r := NewRoot(t)
	r.InstallWGD()
	r.FakeWGD()
	r.MustRun("/etc/init.d/wgd enable")
	for _, l := range []string{"etc/rc.d/S19wgd", "etc/rc.d/K90wgd"} {
		if dst, err := os.Readlink(r.Path(l)); err != nil || dst != "../init.d/wgd" {
			t.Errorf("%s -> %q (%v), want ../init.d/wgd", l, dst, err)
		}
	}
	r.MustRun("/etc/init.d/wgd enabled")
	r.MustRun("/etc/init.d/wgd stop")
	dels := r.UbusCalls("service", "delete")
	if len(dels) != 1 || dels[0]["name"] != "wgd" {
		t.Errorf("stop: want `ubus call service delete {\"name\":\"wgd\"}`, got %v", r.Records())
	}
	r.MustRun("/etc/init.d/wgd disable")
	if r.Exists("etc/rc.d/S19wgd") || r.Exists("etc/rc.d/K90wgd") {
		t.Error("disable left the rc.d links")
	}
	if _, _, err := r.Run("/etc/init.d/wgd enabled"); err == nil {
		t.Error("enabled after disable")
	}
}
