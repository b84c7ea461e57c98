package config

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	routerKey = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
	laptopPub = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
	phonePub  = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="
	psk       = "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="
)

func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A configuration as LuCI writes it for proto 'wireguard', with only the
// proto line changed.
const luciNetwork = `
config interface 'loopback'
	option device 'lo'
	option proto 'static'
	option ipaddr '127.0.0.1'
	option netmask '255.0.0.0'

config interface 'wg0'
	option proto 'wgd'
	option private_key '` + routerKey + `'
	option listen_port '51820'
	list addresses '10.99.0.1/24'
	list addresses 'fd00:99::1/64'
	option mtu '1412'
	option fwmark '0x1234'

config wireguard_wg0
	option description 'laptop'
	option public_key '` + laptopPub + `'
	option preshared_key '` + psk + `'
	list allowed_ips '10.99.0.2/32'
	list allowed_ips 'fd00:99::2/128'
	option route_allowed_ips '1'
	option endpoint_host 'vpn.example.net'
	option persistent_keepalive '25'

config wireguard_wg0
	option description 'phone'
	option public_key '` + phonePub + `'
	list allowed_ips '10.99.0.3'
	option endpoint_host '2001:db8::7'
	option endpoint_port '4500'

config interface 'wgother'
	option proto 'wireguard'
	option private_key '` + routerKey + `'
`

func TestLoadLuCIConfig(t *testing.T) {
	dir := write(t, map[string]string{"network": luciNetwork, "wgd": "config wgd 'main'\n\toption log_level 'debug'\n"})
	cfg, problems := Load(dir)
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	if cfg.Daemon.LogLevel != slog.LevelDebug {
		t.Errorf("log level %v", cfg.Daemon.LogLevel)
	}
	if len(cfg.Interfaces) != 1 {
		t.Fatalf("want only wg0 (proto wgd), got %d interfaces", len(cfg.Interfaces))
	}
	wg0 := cfg.Interfaces[0]
	if wg0.Name != "wg0" || wg0.ListenPort != 51820 || wg0.MTU != 1412 || wg0.FwMark != 0x1234 {
		t.Errorf("interface: %+v", wg0)
	}
	if got := wg0.PrivateKey.Base64(); got != routerKey {
		t.Errorf("private key round trip: %s", got)
	}
	wantAddrs := []netip.Prefix{netip.MustParsePrefix("10.99.0.1/24"), netip.MustParsePrefix("fd00:99::1/64")}
	if !equalPrefixes(wg0.Addresses, wantAddrs) {
		t.Errorf("addresses %v", wg0.Addresses)
	}
	if len(wg0.Peers) != 2 {
		t.Fatalf("peers: %+v", wg0.Peers)
	}
	laptop, phone := wg0.Peers[0], wg0.Peers[1]
	if laptop.Description != "laptop" || laptop.PublicKey.String() != laptopPub || laptop.PresharedKey.Base64() != psk ||
		!laptop.RouteAllowedIPs || laptop.PersistentKeepalive != 25 || laptop.Endpoint() != "vpn.example.net:51820" {
		t.Errorf("laptop: %+v", laptop)
	}
	if phone.Endpoint() != "[2001:db8::7]:4500" || phone.RouteAllowedIPs {
		t.Errorf("phone endpoint %q", phone.Endpoint())
	}
	if !equalPrefixes(phone.AllowedIPs, []netip.Prefix{netip.MustParsePrefix("10.99.0.3/32")}) {
		t.Errorf("a bare address is one host: %v", phone.AllowedIPs)
	}
}

func equalPrefixes(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Each class of bad input is reported with file, line, section and option,
// and only the broken section is left out.
func TestBadInputIsReportedAndContained(t *testing.T) {
	cases := []struct {
		name, section, option, want string
		peer                        string // a peer section's options; "" for an interface option
		iface                       string
	}{
		{name: "private key", iface: "option private_key 'c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0'", option: "private_key", want: "not a WireGuard key"},
		{name: "listen port", iface: "option listen_port '70000'", option: "listen_port", want: "not a number from 0 to 65535"},
		{name: "address", iface: "list addresses '10.99.0.300/24'", option: "addresses", want: "not an IP address or CIDR"},
		{name: "mtu", iface: "option mtu 'big'", option: "mtu", want: "not a number"},
		{name: "fwmark", iface: "option fwmark '0xzz'", option: "fwmark", want: "not a firewall mark"},
		{name: "public key", peer: "option public_key 'abc'", option: "public_key", want: "not a WireGuard key"},
		{name: "preshared key", peer: "option public_key '" + laptopPub + "'\n\toption preshared_key 'nope'", option: "preshared_key", want: "not a WireGuard key"},
		{name: "allowed ips", peer: "option public_key '" + laptopPub + "'\n\tlist allowed_ips '10.0.0.0/33'", option: "allowed_ips", want: "not an IP address or CIDR"},
		{name: "keepalive", peer: "option public_key '" + laptopPub + "'\n\toption persistent_keepalive '-1'", option: "persistent_keepalive", want: "not a number from 0 to 65535"},
		{name: "endpoint port", peer: "option public_key '" + laptopPub + "'\n\toption endpoint_host 'h'\n\toption endpoint_port '0'", option: "endpoint_port", want: "not a number from 1 to 65535"},
		{name: "endpoint host", peer: "option public_key '" + laptopPub + "'\n\toption endpoint_host 'bad host!'", option: "endpoint_host", want: "neither an IP address nor a host name"},
		{name: "boolean", peer: "option public_key '" + laptopPub + "'\n\toption route_allowed_ips 'maybe'", option: "route_allowed_ips", want: "not a boolean"},
		{name: "missing public key", peer: "option description 'x'", want: "public_key is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ifaceOpts, peerOpts := "", c.peer
			if c.iface != "" {
				ifaceOpts = c.iface
			}
			text := "config interface 'good'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n\n" +
				"config wireguard_good\n\toption public_key '" + phonePub + "'\n\n" +
				"config interface 'bad'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n\t" + ifaceOpts + "\n\n" +
				"config wireguard_bad\n\toption public_key '" + phonePub + "'\n\n" +
				"config wireguard_bad\n\t" + peerOpts + "\n"
			dir := write(t, map[string]string{"network": text})
			cfg, problems := Load(dir)
			var errs []*Problem
			for _, p := range problems {
				if !p.Warning {
					errs = append(errs, p)
				}
			}
			if len(errs) != 1 {
				t.Fatalf("want one error, got %v", problems)
			}
			p := errs[0]
			if !strings.Contains(p.Msg, c.want) || p.Option != c.option || p.File != filepath.Join(dir, "network") || p.Line == 0 {
				t.Errorf("problem %+v, want %q on option %q", p, c.want, c.option)
			}
			// The option's last setting, or the section line when no option is to blame.
			at := strings.LastIndex(text, " "+c.option+" ")
			if c.option == "" {
				at = strings.LastIndex(text, "config wireguard_bad")
			}
			wantLine := strings.Count(text[:at], "\n") + 1
			if p.Line != wantLine {
				t.Errorf("line %d, want %d (%s)", p.Line, wantLine, p.Error())
			}
			if cfg.Interface("good") == nil || len(cfg.Interface("good").Peers) != 1 {
				t.Errorf("the good interface must come up whole: %+v", cfg.Interfaces)
			}
			bad := cfg.Interface("bad")
			if c.iface != "" && bad != nil {
				t.Errorf("interface with a bad option must be left out")
			}
			if c.peer != "" && (bad == nil || len(bad.Peers) != 1 || bad.Peers[0].PublicKey.String() != phonePub) {
				t.Errorf("only the broken peer may be left out: %+v", bad)
			}
			for _, p := range problems {
				if strings.Contains(p.Error(), routerKey) || strings.Contains(p.Error(), psk) {
					t.Errorf("a secret leaked into %q", p.Error())
				}
			}
		})
	}
}

func TestBrokenFileKeepsGoodSections(t *testing.T) {
	text := "config interface 'wg0'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n" +
		"bogus line here\n" +
		"config wireguard_wg0\n\toption public_key '" + laptopPub + "'\n\tlist allowed_ips '10.0.0.2'\n"
	cfg, problems := Load(write(t, map[string]string{"network": text}))
	if len(problems) == 0 || problems[0].Line != 4 {
		t.Fatalf("want the bad line 4 reported, got %v", problems)
	}
	if wg0 := cfg.Interface("wg0"); wg0 == nil || len(wg0.Peers) != 1 {
		t.Fatalf("good sections must survive: %+v", cfg.Interfaces)
	}
}

func TestDuplicatePeerAndOwnKey(t *testing.T) {
	pub, _ := ParseSecret(routerKey)
	text := "config interface 'wg0'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n" +
		"config wireguard_wg0\n\toption description 'a'\n\toption public_key '" + laptopPub + "'\n" +
		"config wireguard_wg0\n\toption description 'b'\n\toption public_key '" + laptopPub + "'\n" +
		"config wireguard_wg0\n\toption public_key '" + pub.PublicKey().String() + "'\n"
	cfg, problems := Load(write(t, map[string]string{"network": text}))
	if len(problems) != 2 || !strings.Contains(problems[0].Msg, `already used by peer "a"`) || !strings.Contains(problems[1].Msg, "own key") {
		t.Fatalf("problems: %v", problems)
	}
	if n := len(cfg.Interface("wg0").Peers); n != 1 {
		t.Fatalf("%d peers", n)
	}
}

func TestDisabledAndNamesAndDefaults(t *testing.T) {
	text := "config interface 'wg0'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n\toption disabled '1'\n" +
		"config interface 'wg1'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n\toption auto '0'\n" +
		"config interface 'averyveryverylongname'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n" +
		"config interface 'wg2'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n" +
		"config wireguard_wg2\n\toption public_key '" + laptopPub + "'\n\toption disabled '1'\n" +
		"config wireguard_wg2\n\toption public_key '" + phonePub + "'\n\toption endpoint_host 'peer.example'\n"
	cfg, problems := Load(write(t, map[string]string{"network": text}))
	if len(problems) != 1 || !strings.Contains(problems[0].Msg, "longer than 15") {
		t.Fatalf("problems: %v", problems)
	}
	// auto '0' is netifd's "not at boot": the interface is kept, to be
	// brought up on request; disabled '1' leaves it out.
	if len(cfg.Interfaces) != 2 || cfg.Interfaces[0].Name != "wg1" || cfg.Interfaces[0].Auto ||
		cfg.Interfaces[1].Name != "wg2" || !cfg.Interfaces[1].Auto {
		t.Fatalf("interfaces: %+v", cfg.Interfaces)
	}
	peers := cfg.Interfaces[1].Peers
	if len(peers) != 1 || peers[0].EndpointPort != DefaultEndpointPort || cfg.Daemon.LogLevel != slog.LevelInfo {
		t.Fatalf("peers %+v", peers)
	}
}

func TestMissingNetworkFile(t *testing.T) {
	_, problems := Load(t.TempDir())
	if len(problems) != 1 || problems[0].Line != 0 {
		t.Fatalf("want one file-level problem, got %v", problems)
	}
}

// Errors are attributed to the interface whose sections hold them, so a
// daemon can keep that interface on its last good configuration.
func TestBrokenInterfaces(t *testing.T) {
	dir := write(t, map[string]string{"network": `
config interface 'wga'
	option proto 'wgd'
	option private_key '` + routerKey + `'
	option mtu '1400 '

config interface 'wgb'
	option proto 'wgd'
	option private_key '` + routerKey + `'

config wireguard_wgb
	option public_key 'broken'

config wireguard_wgb
	option public_key '` + laptopPub + `'

config interface 'wgc'
	option proto 'wgd'
	option private_key '` + routerKey + `'

config wireguard_wgc
	option public_key '` + laptopPub + `'
	option persistent_keepalive 'x' 'y'
`})
	cfg, problems := Load(dir)
	if cfg.Interface("wga") != nil {
		t.Errorf("wga with a bad mtu is in the configuration")
	}
	if c := cfg.Interface("wgb"); c == nil || len(c.Peers) != 1 {
		t.Errorf("wgb: want its valid peer, got %+v", c)
	}
	want := map[string]string{"wga": "option mtu", "wgb": "option public_key", "wgc": ""}
	for name, opt := range want {
		errs := cfg.Broken[name]
		if len(errs) == 0 {
			t.Errorf("%s: no errors attributed (problems: %v)", name, problems)
			continue
		}
		if !strings.Contains(errs[0].Error(), opt) || errs[0].Line == 0 || errs[0].File == "" {
			t.Errorf("%s: error %q lacks file, line or %q", name, errs[0], opt)
		}
	}
	if len(cfg.Broken) != len(want) {
		t.Errorf("broken: %v", cfg.Broken)
	}
}

// Two peers with the same allowed IP: accepted, the later one gets it,
// and a warning names both positions.
func TestOverlappingAllowedIPs(t *testing.T) {
	dir := write(t, map[string]string{"network": `
config interface 'wg0'
	option proto 'wgd'
	option private_key '` + routerKey + `'

config wireguard_wg0
	option description 'laptop'
	option public_key '` + laptopPub + `'
	list allowed_ips '10.99.0.2/32'
	list allowed_ips '10.99.0.0/24'

config wireguard_wg0
	option description 'phone'
	option public_key '` + phonePub + `'
	list allowed_ips '10.99.0.3/32'
	list allowed_ips '10.99.0.2'
`})
	cfg, problems := Load(dir)
	if c := cfg.Interface("wg0"); c == nil || len(c.Peers) != 2 {
		t.Fatalf("wg0: %+v", c)
	}
	var warnings []string
	for _, p := range problems {
		if !p.Warning {
			t.Errorf("error: %v", p)
		}
		warnings = append(warnings, p.Error())
	}
	path := filepath.Join(dir, "network")
	want := path + ":16: section @wireguard_wg0[1], option allowed_ips: warning: allowed IP 10.99.0.2/32 is also peer \"laptop\"'s (" + path + ":10)"
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], want) || !strings.Contains(warnings[0], "goes to this peer") {
		t.Errorf("warnings %q\nwant one starting %q", warnings, want)
	}
	if len(cfg.Broken) != 0 {
		t.Errorf("a warning broke an interface: %v", cfg.Broken)
	}
}

// Each problem names the interface it concerns, by value: a peer of wg01
// is never wg0's, whatever the section names, and a named peer section
// (as `wgd peer add` writes) belongs to the interface of its type.
func TestProblemInterface(t *testing.T) {
	text := "config interface 'wg0'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n" +
		"config interface 'wg01'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n" +
		"config wireguard_wg01\n\toption public_key 'bad'\n\toption description 'a' 'b'\n" +
		"config wireguard_wg0 'phone'\n\toption public_key '" + laptopPub + "'\n\tlist allowed_ips 'nonsense'\n" +
		"config wgd 'main'\n\toption x 'y' 'z'\n"
	_, problems := Load(write(t, map[string]string{"network": text}))
	got := map[string][]string{}
	for _, p := range problems {
		got[p.Interface] = append(got[p.Interface], p.Section)
	}
	want := map[string][]string{
		"wg0":  {"phone", "phone"},
		"wg01": {"@wireguard_wg01[0]", "@wireguard_wg01[0]", "@wireguard_wg01[0]"},
		"":     {"main"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems by interface %v, want %v\n%v", got, want, problems)
	}
}

// The zones of /etc/config/firewall, and the one an interface's listen
// port is opened in: its tunlink's, else wan_interface's, else wan's.
func TestListenZones(t *testing.T) {
	fw := "config zone\n\toption name 'lan'\n\tlist network 'lan'\n" +
		"config zone\n\toption name 'wan'\n\tlist network 'wan'\n\tlist network 'wan6'\n" +
		"config zone\n\toption name 'lte'\n\toption network 'lte lte6'\n" +
		"config zone\n\toption name 'off'\n\tlist network 'wanb'\n\toption enabled '0'\n" +
		"config zone\n\toption name 'both'\n\tlist network 'lte'\n\tlist network 'wan'\n"
	for _, c := range []struct {
		name, iface, wgd, fw string
		want                 []string
	}{
		{"default", "", "", fw, []string{"wan", "both"}},
		{"tunlink", "\toption tunlink 'lte6'\n", "", fw, []string{"lte"}},
		{"wan_interface", "", "config wgd 'main'\n\tlist wan_interface 'eth9'\n\tlist wan_interface 'lte'\n", fw, []string{"lte", "both"}},
		{"tunlink first", "\toption tunlink 'lan'\n", "config wgd 'main'\n\tlist wan_interface 'lte'\n", fw, []string{"lan"}},
		{"disabled zone", "\toption tunlink 'wanb'\n", "", fw, nil},
		{"no firewall file", "", "", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"network": "config interface 'wg0'\n\toption proto 'wgd'\n\toption private_key '" + routerKey + "'\n" + c.iface}
			if c.wgd != "" {
				files["wgd"] = c.wgd
			}
			if c.fw != "" {
				files["firewall"] = c.fw
			}
			cfg, problems := Load(write(t, files))
			if len(problems) != 0 || cfg.Interface("wg0") == nil {
				t.Fatalf("problems %v", problems)
			}
			if got := cfg.ListenZones(cfg.Interface("wg0")); !reflect.DeepEqual(got, c.want) {
				t.Errorf("zones %v, want %v", got, c.want)
			}
		})
	}
	// A broken firewall file is the firewall's business: a warning.
	cfg, problems := Load(write(t, map[string]string{"network": "", "firewall": "config zone\n\toption name 'wan'\n\tlist network 'wan'\nbogus\n"}))
	if len(problems) != 1 || !problems[0].Warning || len(cfg.Zones) != 1 {
		t.Errorf("problems %v zones %v", problems, cfg.Zones)
	}
}

// A file that cannot be read at all is said so (nothing of it applies);
// a file that reads with errors is not, nor is an unreadable firewall
// file, of which wgd only reads the zones.
func TestUnreadableFile(t *testing.T) {
	unreadable := func(dir string) []bool {
		_, problems := Load(dir)
		var out []bool
		for _, p := range problems {
			out = append(out, p.Unreadable)
		}
		return out
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "network"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := unreadable(dir); len(got) != 1 || !got[0] {
		t.Errorf("network is a directory: unreadable %v, want [true]", got)
	}
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "network"), []byte("option x 'y'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "firewall"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := unreadable(dir); len(got) != 2 || got[0] || got[1] {
		t.Errorf("a syntax error and an unreadable firewall file: unreadable %v, want [false false]", got)
	}
	if err := os.Mkdir(filepath.Join(dir, "wgd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := unreadable(dir); len(got) != 3 || !got[1] {
		t.Errorf("wgd is a directory: unreadable %v, want [false true false]", got)
	}
}
