package pkgtest

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"wgd/config"
)

// A recorder standing in for /etc/init.d/network.
const networkInit = `#!/bin/sh
{ printf 'network-init'; for a in "$@"; do printf '\t%s' "$a"; done; echo; } >>/tmp/standin.log
`

// On a running router opkg runs `NAME.postinst configure`: the stock
// postinst hands over to default_postinst, which runs the uci-defaults,
// the package's own postinst-pkg (netifd learns the protocol) and
// enables and starts the service.
func TestPostinstOnRouter(t *testing.T) {
	r := NewRoot(t)
	r.InstallWGD()
	r.WriteFile("etc/init.d/network", networkInit, 0o755)
	r.WriteFile("tmp/luci-indexcache.abc", "x", 0o644)
	r.MustRun("/usr/lib/opkg/info/wgd.postinst configure")

	if r.Exists("etc/uci-defaults/80_wgd") {
		t.Error("the uci-defaults script was not run (it is deleted after a successful run)")
	}
	if !strings.Contains(r.ReadFile("etc/config/wgd"), "config wgd 'main'") {
		t.Errorf("/etc/config/wgd:\n%s", r.ReadFile("etc/config/wgd"))
	}
	if r.Exists("tmp/luci-indexcache.abc") {
		t.Error("LuCI's index cache was kept")
	}
	if len(r.UbusCalls("network", "get_proto_handlers")) != 1 {
		t.Errorf("postinst-pkg did not ask netifd for its protocols: %v", r.Records())
	}
	// No interface uses the protocol yet: the network is left alone
	// (a restart takes every interface down and up), and the log says
	// how to have netifd offer the protocol.
	if calls := r.Calls("network-init"); len(calls) != 0 {
		t.Errorf("netifd restarted although no interface uses 'wgd': %v", calls)
	}
	if logs := r.Calls("logger"); len(logs) == 0 || !strings.Contains(strings.Join(logs[len(logs)-1], " "), "/etc/init.d/network restart") {
		t.Errorf("no word on how netifd learns the protocol: %v", logs)
	}
	if dst, err := os.Readlink(r.Path("etc/rc.d/S19wgd")); err != nil || dst != "../init.d/wgd" {
		t.Errorf("not enabled: %q %v", dst, err)
	}
	sets := r.UbusCalls("service", "set")
	if len(sets) != 1 || sets[0]["name"] != "wgd" {
		t.Errorf("not started: %v", r.Records())
	}

	// An interface uses the protocol (a reinstall, a restored
	// configuration): netifd, which does not know it, is restarted once.
	r.ClearRecords()
	r.WriteFile("etc/config/network", "config interface 'wg0'\n\toption proto 'wgd'\n", 0o644)
	r.MustRun("/usr/lib/opkg/info/wgd.postinst configure")
	if calls := r.Calls("network-init"); !reflect.DeepEqual(calls, [][]string{{"restart"}}) {
		t.Errorf("netifd that does not know 'wgd' must be restarted once for wg0: %v", calls)
	}

	// An upgrade: netifd knows the protocol, nothing is restarted.
	r.ClearRecords()
	r.WriteFile("tmp/standin-ubus/network.get_proto_handlers", `{"dhcp":{},"wgd":{"no-proto-task":true}}`, 0o644)
	r.MustRun("/usr/lib/opkg/info/wgd.postinst configure", "PKG_UPGRADE=1")
	if calls := r.Calls("network-init"); len(calls) != 0 {
		t.Errorf("netifd restarted although it knows 'wgd': %v", calls)
	}

	// opkg remove: prerm stops and disables the service.
	r.ClearRecords()
	r.MustRun("/usr/lib/opkg/info/wgd.prerm remove")
	if r.Exists("etc/rc.d/S19wgd") || r.Exists("etc/rc.d/K90wgd") {
		t.Error("prerm left the service enabled")
	}
	if dels := r.UbusCalls("service", "delete"); len(dels) != 1 || dels[0]["name"] != "wgd" {
		t.Errorf("prerm did not stop the service: %v", r.Records())
	}
}

// In an image build (IPKG_INSTROOT set) the postinst only enables the
// service in the image: no uci-defaults (they run at first boot), no
// netifd, no procd.
func TestPostinstImageBuild(t *testing.T) {
	r := NewRoot(t)
	if err := copyTree(r.Path("image"), "standin/root"); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(r.Path("image/etc/rc.d"), 0o755)
	r.InstallAt("image", getTools(t).wgdIPK)
	r.WriteFile("etc/init.d/network", networkInit, 0o755)
	r.MustRun("/image/usr/lib/opkg/info/wgd.postinst configure", "IPKG_INSTROOT=/image")
	if dst, err := os.Readlink(r.Path("image/etc/rc.d/S19wgd")); err != nil || dst != "../init.d/wgd" {
		t.Errorf("not enabled in the image: %q %v", dst, err)
	}
	if !r.Exists("image/etc/uci-defaults/80_wgd") {
		t.Error("uci-defaults ran in an image build")
	}
	if recs := r.Records(); len(recs) != 0 {
		t.Errorf("an image build touched the running system: %v", recs)
	}
}

// The uci-defaults script writes the defaults when /etc/config/wgd is
// missing, and leaves a user's settings alone. The defaults are those of
// the shipped /etc/config/wgd, as wgd reads them.
func TestUciDefaults(t *testing.T) {
	r := NewRoot(t)
	r.InstallWGD()
	r.WriteFile("etc/config/network", "", 0o644)
	shipped := r.ReadFile("etc/config/wgd")
	os.Remove(r.Path("etc/config/wgd"))
	run := func() {
		t.Helper()
		// As default_postinst and the first boot run it.
		r.MustRun(`( cd /etc/uci-defaults && . ./80_wgd )`)
	}
	run()
	created := r.ReadFile("etc/config/wgd")
	if !strings.Contains(created, "config wgd 'main'") {
		t.Fatalf("no main section:\n%s", created)
	}
	cfg, problems := config.Load(r.Path("etc/config"))
	if len(problems) != 0 {
		t.Errorf("wgd finds problems in the created file: %v", problems)
	}
	if d := cfg.Daemon; d.LogLevel != slog.LevelInfo || !d.Hotplug || d.WatchdogAge != 150*time.Second {
		t.Errorf("defaults written: %+v", d)
	}
	shippedDir := t.TempDir()
	os.WriteFile(filepath.Join(shippedDir, "network"), nil, 0o644)
	os.WriteFile(filepath.Join(shippedDir, "wgd"), []byte(shipped), 0o644)
	if sc, p := config.Load(shippedDir); len(p) != 0 || !reflect.DeepEqual(sc.Daemon, cfg.Daemon) {
		t.Errorf("shipped /etc/config/wgd: %+v %v; the uci-defaults write %+v", sc.Daemon, p, cfg.Daemon)
	}

	custom := "\nconfig wgd 'main'\n\toption log_level 'debug'\n"
	r.WriteFile("etc/config/wgd", custom, 0o644)
	run()
	if got := r.ReadFile("etc/config/wgd"); got != custom {
		t.Errorf("a user's /etc/config/wgd was changed:\n%s", got)
	}
}

// hotplug.d/iface: sourced by hotplug-call in a subshell for every event;
// WAN-ish events are passed on to `wgd hotplug`, others are not.
func TestHotplugScript(t *testing.T) {
	if _, err := os.Stat("wgd/files/wgd.hotplug"); err != nil {
		t.Skip("wgd.hotplug is not there yet")
	}
	r := NewRoot(t)
	r.InstallWGD()
	r.FakeWGD()
	for _, action := range []string{"ifup", "ifupdate", "ifdown", "free"} {
		r.ClearRecords()
		r.MustRun(`( . /etc/hotplug.d/iface/80-wgd )`, "ACTION="+action, "INTERFACE=wan", "DEVICE=eth1")
		calls := r.Calls("wgd")
		if action == "free" {
			if len(calls) != 0 {
				t.Errorf("ACTION=free: wgd called: %v", calls)
			}
			continue
		}
		want := [][]string{{"hotplug", "ACTION=" + action, "INTERFACE=wan", "DEVICE=eth1"}}
		if !reflect.DeepEqual(calls, want) {
			t.Errorf("ACTION=%s: wgd calls %v, want %v", action, calls, want)
		}
	}
}

// LuCI's package: its postinst drops LuCI's caches and has rpcd reload.
func TestLuciPostinst(t *testing.T) {
	r := NewRoot(t)
	r.Install(getTools(t).luciIPK)
	r.WriteFile("tmp/luci-indexcache.abc", "x", 0o644)
	os.MkdirAll(r.Path("tmp/luci-modulecache"), 0o755)
	r.MustRun("/usr/lib/opkg/info/luci-proto-wgd.postinst configure")
	if r.Exists("tmp/luci-indexcache.abc") || r.Exists("tmp/luci-modulecache") {
		t.Error("LuCI's caches were kept")
	}
	if !r.Exists("usr/libexec/rpcd/luci.wgd") || !r.Exists("www/luci-static/resources/protocol/wgd.js") {
		t.Error("LuCI package files missing")
	}
}
