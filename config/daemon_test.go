package config

import (
	"strings"
	"testing"
	"time"
)

func TestDaemonDefaults(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"no wgd file":   {"network": ""},
		"empty main":    {"network": "", "wgd": "config wgd 'main'\n"},
		"other section": {"network": "", "wgd": "config wgd 'other'\n\toption watchdog_age '5'\n\toption hotplug '0'\n"},
	} {
		cfg, problems := Load(write(t, files))
		if len(problems) != 0 {
			t.Errorf("%s: problems %v", name, problems)
		}
		d := cfg.Daemon
		if !d.Hotplug || d.WatchdogAge != DefaultWatchdogAge || len(d.WANInterfaces) != 0 {
			t.Errorf("%s: %+v, want hotplug on, watchdog %v, WAN from the default route", name, d, DefaultWatchdogAge)
		}
	}
}

func TestDaemonHotplugOptions(t *testing.T) {
	cfg, problems := Load(write(t, map[string]string{"network": "", "wgd": `
config wgd 'main'
	list wan_interface 'wan'
	list wan_interface 'wan6 pppoe-wan'
	option hotplug '0'
	option watchdog_age '30'
`}))
	if len(problems) != 0 {
		t.Fatalf("problems %v", problems)
	}
	d := cfg.Daemon
	if strings.Join(d.WANInterfaces, ",") != "wan,wan6,pppoe-wan" {
		t.Errorf("wan_interface %q", d.WANInterfaces)
	}
	if d.Hotplug {
		t.Error("hotplug '0' left the reaction on")
	}
	if d.WatchdogAge != 30*time.Second {
		t.Errorf("watchdog_age %v", d.WatchdogAge)
	}

	cfg, _ = Load(write(t, map[string]string{"network": "", "wgd": "config wgd 'main'\n\toption watchdog_age '0'\n"}))
	if cfg.Daemon.WatchdogAge != 0 {
		t.Errorf("watchdog_age '0' = %v, want off", cfg.Daemon.WatchdogAge)
	}
}

func TestDaemonHotplugOptionErrors(t *testing.T) {
	cfg, problems := Load(write(t, map[string]string{"network": "", "wgd": `
config wgd 'main'
	list wan_interface 'eth1'
	list wan_interface 'bad/name'
	option hotplug 'maybe'
	option watchdog_age 'soon'
`}))
	var text []string
	for _, p := range problems {
		text = append(text, p.Error())
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{"wan_interface", `"bad/name" is not an interface name`, "hotplug", "watchdog_age"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	d := cfg.Daemon
	if strings.Join(d.WANInterfaces, ",") != "eth1" || !d.Hotplug || d.WatchdogAge != DefaultWatchdogAge {
		t.Errorf("bad values must leave the defaults and keep the good ones: %+v", d)
	}
}

func TestDaemonFirewallAndMetricsOptions(t *testing.T) {
	cfg, problems := Load(write(t, map[string]string{"network": "", "wgd": `
config wgd 'main'
	option firewall 'iptables'
	option metrics_listen '[::1]:9100'
	option metrics_endpoint_labels '1'
`}))
	if len(problems) != 0 {
		t.Fatalf("problems %v", problems)
	}
	if d := cfg.Daemon; d.Firewall != "iptables" || d.MetricsListen != "[::1]:9100" || !d.MetricsEndpointLabels {
		t.Errorf("%+v", d)
	}
	cfg, _ = Load(write(t, map[string]string{"network": ""}))
	if d := cfg.Daemon; d.Firewall != "" || d.MetricsListen != DefaultMetricsListen {
		t.Errorf("defaults %+v", d)
	}
	cfg, _ = Load(write(t, map[string]string{"network": "", "wgd": "config wgd 'main'\n\toption metrics_listen 'off'\n\toption firewall 'auto'\n"}))
	if d := cfg.Daemon; d.MetricsListen != "" || d.Firewall != "" {
		t.Errorf("off/auto %+v", d)
	}
	cfg, problems = Load(write(t, map[string]string{"network": "", "wgd": "config wgd 'main'\n\toption firewall 'pf'\n\toption metrics_listen 'lan:80'\n"}))
	if len(problems) != 2 || problems[0].Option != "firewall" || problems[1].Option != "metrics_listen" || problems[0].Line != 2 {
		t.Errorf("problems %v", problems)
	}
	if d := cfg.Daemon; d.Firewall != "" || d.MetricsListen != DefaultMetricsListen {
		t.Errorf("bad values must leave defaults: %+v", d)
	}
}

func TestOpenFirewallOption(t *testing.T) {
	text := "config interface 'wg0'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n" +
		"config interface 'wg1'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n\toption open_firewall '0'\n"
	cfg, problems := Load(write(t, map[string]string{"network": text}))
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	if !cfg.Interface("wg0").OpenFirewall || cfg.Interface("wg1").OpenFirewall {
		t.Errorf("open_firewall: %+v", cfg.Interfaces)
	}
}

// A wan_interface that names a netifd interface stands for its devices:
// `device` (or the older `ifname`), an @alias's devices, and the link a
// PPP protocol makes. A device name maps to nothing.
func TestDaemonWANDevices(t *testing.T) {
	cfg, problems := Load(write(t, map[string]string{"network": `
config interface 'wan'
	option device 'eth1'
	option proto 'pppoe'

config interface 'wan6'
	option device '@wan'
	option proto 'dhcpv6'

config interface 'lte'
	option ifname 'wwan0'
	option proto 'dhcp'

config interface 'lan'
	option device 'br-lan'
`, "wgd": `
config wgd 'main'
	list wan_interface 'wan wan6 lte eth9'
`}))
	if len(problems) != 0 {
		t.Fatalf("problems %v", problems)
	}
	got := cfg.Daemon.WANDevices
	want := map[string]string{"wan": "eth1 pppoe-wan", "wan6": "eth1 pppoe-wan", "lte": "wwan0"}
	if len(got) != len(want) {
		t.Errorf("WANDevices = %v, want %v", got, want)
	}
	for name, devs := range want {
		if strings.Join(got[name], " ") != devs {
			t.Errorf("WANDevices[%s] = %q, want %q", name, got[name], devs)
		}
	}
}
