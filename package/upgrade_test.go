package pkgtest

import (
	"crypto/md5"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// procdInstance is what procd compares to decide whether a running
// instance must restart when the service is sent again (procd's
// instance_config_changed): among others its command and the content
// of the files it lists (`procd_set_param file`, compared by checksum).
type procdInstance struct {
	Command []any
	Files   map[string]string // path -> md5 of its content at the time
}

// wgdInstance is the wgd instance of the last `ubus call service set`,
// with the listed files hashed from the root as procd would hash them.
func wgdInstance(t *testing.T, r *Root) procdInstance {
	t.Helper()
	sets := r.UbusCalls("service", "set")
	if len(sets) == 0 {
		t.Fatalf("the service was never sent to procd: %v", r.Records())
	}
	instances, _ := sets[len(sets)-1]["instances"].(map[string]any)
	if len(instances) != 1 {
		t.Fatalf("instances %v", instances)
	}
	var in procdInstance
	for _, v := range instances {
		m, _ := v.(map[string]any)
		in.Command, _ = m["command"].([]any)
		in.Files = map[string]string{}
		files, _ := m["file"].([]any)
		for _, f := range files {
			name := fmt.Sprint(f)
			in.Files[name] = fmt.Sprintf("%x", md5.Sum([]byte(r.ReadFile(strings.TrimPrefix(name, "/")))))
		}
	}
	return in
}

// An upgrade replaces /usr/sbin/wgd and runs the package's postinst
// again with PKG_UPGRADE=1 (opkg: wgd.postinst configure; apk: the
// post-upgrade script; apk runs no pre-deinstall on upgrade). Its
// `/etc/init.d/wgd start` reaches procd with the same command as before:
// only a changed file the instance lists makes procd restart the running
// daemon, with the new binary.
func TestUpgradeRestartsDaemon(t *testing.T) {
	for _, format := range []string{"ipk", "apk"} {
		t.Run(format, func(t *testing.T) {
			r := NewRoot(t)
			r.WriteFile("etc/init.d/network", networkInit, 0o755)
			tl := getTools(t)
			postinst, upgrade := "/usr/lib/opkg/info/wgd.postinst configure", "/usr/lib/opkg/info/wgd.postinst configure"
			var upgradeEnv []string
			if format == "ipk" {
				r.Install(tl.wgdIPK)
				upgradeEnv = []string{"PKG_UPGRADE=1"}
			} else {
				r.InstallAPK(tl.wgdAPK)
				postinst, upgrade = "/lib/apk/exec/wgd.post-install", "/lib/apk/exec/wgd.post-upgrade"
			}
			r.MustRun(postinst)
			before := wgdInstance(t, r)
			if len(before.Command) == 0 || before.Command[0] != "/usr/sbin/wgd" {
				t.Fatalf("command %v", before.Command)
			}

			// The new package: another binary.
			r.ClearRecords()
			r.WriteFile("tmp/standin-ubus/network.get_proto_handlers", `{"wgd":{}}`, 0o644)
			r.WriteFile("usr/sbin/wgd", r.ReadFile("usr/sbin/wgd")+"new build", 0o755)
			r.WriteFile("sbin/ifup", ifupdown, 0o755)
			r.WriteFile("sbin/ifdown", ifupdown, 0o755)
			r.WriteFile("tmp/standin-ubus/network.interface.dump", interfaceDump, 0o644)
			r.MustRun(upgrade, upgradeEnv...)
			after := wgdInstance(t, r)
			if !reflect.DeepEqual(before.Command, after.Command) {
				t.Fatalf("command changed: %v -> %v", before.Command, after.Command)
			}
			if reflect.DeepEqual(before.Files, after.Files) {
				t.Errorf("procd sees the same instance before and after the upgrade (files %v): the old daemon keeps running", after.Files)
			}
			if _, ok := after.Files["/usr/sbin/wgd"]; !ok {
				t.Errorf("the instance does not list its binary: %v", after.Files)
			}
			if calls := r.Calls("network-init"); len(calls) != 0 {
				t.Errorf("an upgrade restarted netifd: %v", calls)
			}
			// The tunnels' links persist across the daemon's restart with
			// netifd's addresses and routes: setting them up again would
			// only cut them.
			if calls := append(r.Calls("ifup"), r.Calls("ifdown")...); len(calls) != 0 {
				t.Errorf("an upgrade set interfaces up or down again: %v", calls)
			}
		})
	}
}

// Recorders standing in for OpenWrt's /sbin/ifup and /sbin/ifdown.
const ifupdown = `#!/bin/sh
{ printf '%s\t%s\n' "${0##*/}" "$1"; } >>/tmp/standin.log
`

// netifd's interface dump with a wgd interface that is up and another.
const interfaceDump = `{"interface":[
{"interface":"lan","up":true,"proto":"static"},
{"interface":"wg0","up":true,"proto":"wgd"},
{"interface":"wg1","up":false,"proto":"wgd"}]}`

// Removing the package takes the wgd interfaces down in netifd, which
// otherwise goes on reporting them up with no daemon behind them, and
// drops the daemon's record of what netifd asked for: a later install
// would bring those tunnels back behind netifd's back.
func TestRemovalTakesInterfacesDown(t *testing.T) {
	for _, format := range []string{"ipk", "apk"} {
		t.Run(format, func(t *testing.T) {
			r := NewRoot(t)
			tl := getTools(t)
			prerm := "/usr/lib/opkg/info/wgd.prerm remove"
			if format == "ipk" {
				r.Install(tl.wgdIPK)
			} else {
				r.InstallAPK(tl.wgdAPK)
				prerm = "/lib/apk/exec/wgd.pre-deinstall"
			}
			r.WriteFile("sbin/ifup", ifupdown, 0o755)
			r.WriteFile("sbin/ifdown", ifupdown, 0o755)
			r.WriteFile("tmp/standin-ubus/network.interface.dump", interfaceDump, 0o644)
			if format == "ipk" {
				// opkg runs no prerm on an upgrade, but a prerm run with
				// PKG_UPGRADE=1 must leave the interfaces alone.
				r.WriteFile("var/run/wgd.netifd", "wg0\n", 0o600)
				r.MustRun(prerm, "PKG_UPGRADE=1")
				if calls := r.Calls("ifdown"); len(calls) != 0 || !r.Exists("var/run/wgd.netifd") {
					t.Errorf("an upgrade took interfaces down: %v", calls)
				}
				r.ClearRecords()
			}
			r.WriteFile("var/run/wgd.netifd", "wg0\n", 0o600)
			r.MustRun(prerm)
			if calls := r.Calls("ifdown"); !reflect.DeepEqual(calls, [][]string{{"wg0"}, {"wg1"}}) {
				t.Errorf("ifdown calls %v, want wg0 and wg1", calls)
			}
			if r.Exists("var/run/wgd.netifd") {
				t.Error("the record of the interfaces netifd asked for was kept")
			}
			if dels := r.UbusCalls("service", "delete"); len(dels) != 1 {
				t.Errorf("the service was not stopped: %v", r.Records())
			}
		})
	}
}
