package uci

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// luciNetwork is /etc/config/network as LuCI leaves it, with a WireGuard
// interface and two peers; it is already in `uci export` form.
const luciNetwork = `config interface 'loopback'
	option device 'lo'
	option proto 'static'
	option ipaddr '127.0.0.1'
	option netmask '255.0.0.0'

config globals 'globals'
	option ula_prefix 'fd12:3456:789a::/48'

config device
	option name 'br-lan'
	option type 'bridge'
	list ports 'lan1'
	list ports 'lan2'

config interface 'lan'
	option device 'br-lan'
	option proto 'static'
	option ipaddr '192.168.1.1'
	option netmask '255.255.255.0'
	option ip6assign '60'

config interface 'wan'
	option device 'wan'
	option proto 'dhcp'

config interface 'wg0'
	option proto 'wireguard'
	option private_key 'oK5T0Yk8xZ1n0QqzG2sC3z8vF4Y5sV7m6W1d2E3f4Gs='
	option listen_port '51820'
	list addresses '10.0.0.1/24'
	list addresses 'fd00:10::1/64'
	option mtu '1420'

config wireguard_wg0
	option description 'laptop'
	option public_key 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg='
	option preshared_key 'FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE='
	list allowed_ips '10.0.0.2/32'
	list allowed_ips 'fd00:10::2/128'
	option route_allowed_ips '1'
	option persistent_keepalive '25'

config wireguard_wg0
	option description 'Bob'\''s phone'
	option public_key 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0='
	list allowed_ips '10.0.0.3/32'
	option endpoint_host 'vpn.example.com'
	option endpoint_port '51820'
	option disabled '0'
`

func TestLuCINetwork(t *testing.T) {
	p, errs := Parse("/etc/config/network", []byte(luciNetwork))
	checkErrors(t, errs, nil)
	want := `interface loopback
  option device ["lo"]
  option proto ["static"]
  option ipaddr ["127.0.0.1"]
  option netmask ["255.0.0.0"]
globals globals
  option ula_prefix ["fd12:3456:789a::/48"]
device @device[0]
  option name ["br-lan"]
  option type ["bridge"]
  list ports ["lan1" "lan2"]
interface lan
  option device ["br-lan"]
  option proto ["static"]
  option ipaddr ["192.168.1.1"]
  option netmask ["255.255.255.0"]
  option ip6assign ["60"]
interface wan
  option device ["wan"]
  option proto ["dhcp"]
interface wg0
  option proto ["wireguard"]
  option private_key ["oK5T0Yk8xZ1n0QqzG2sC3z8vF4Y5sV7m6W1d2E3f4Gs="]
  option listen_port ["51820"]
  list addresses ["10.0.0.1/24" "fd00:10::1/64"]
  option mtu ["1420"]
wireguard_wg0 @wireguard_wg0[0]
  option description ["laptop"]
  option public_key ["xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="]
  option preshared_key ["FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="]
  list allowed_ips ["10.0.0.2/32" "fd00:10::2/128"]
  option route_allowed_ips ["1"]
  option persistent_keepalive ["25"]
wireguard_wg0 @wireguard_wg0[1]
  option description ["Bob's phone"]
  option public_key ["TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="]
  list allowed_ips ["10.0.0.3/32"]
  option endpoint_host ["vpn.example.com"]
  option endpoint_port ["51820"]
  option disabled ["0"]
`
	if got := dump(p); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}

	ifaces := p.SectionsOfType("interface")
	if len(ifaces) != 4 || ifaces[3].Name != "wg0" || ifaces[3].Index != 3 {
		t.Fatalf("interfaces: %v", ifaces)
	}
	wg := ifaces[3]
	if wg.Line != lineOfText(luciNetwork, "config interface 'wg0'") || !strings.HasPrefix(luciNetwork[wg.Start:], "config interface 'wg0'") ||
		!strings.HasSuffix(luciNetwork[:wg.End], "option mtu '1420'") {
		t.Errorf("wg0 at line %d: %q", wg.Line, luciNetwork[wg.Start:wg.End])
	}
	if a := wg.Get("addresses"); !a.List || a.Line != lineOfText(luciNetwork, "list addresses 'fd00") || luciNetwork[a.Start:a.End] != "list addresses 'fd00:10::1/64'" {
		t.Errorf("addresses: %+v", a)
	}
	peers := p.SectionsOfType("wireguard_wg0")
	if len(peers) != 2 || peers[1].Ref() != "@wireguard_wg0[1]" || peers[1].Line != lineOfText(luciNetwork, "option description 'Bob")-1 {
		t.Fatalf("peers: %v", peers)
	}
	if peers[0].Get("endpoint_host") != nil || peers[1].Get("endpoint_host").Values[0] != "vpn.example.com" {
		t.Errorf("endpoint_host lookups")
	}
	if p.SectionsOfType("nothing") != nil {
		t.Errorf("SectionsOfType of an absent type")
	}

	var b bytes.Buffer
	if err := Export(&b, p); err != nil {
		t.Fatal(err)
	}
	if want := "package network\n\n" + luciNetwork + "\n"; b.String() != want {
		t.Errorf("export:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestExportFormat(t *testing.T) {
	p := &Package{Name: "test", Sections: []*Section{
		{Type: "s", Name: "a", Options: []*Option{
			{Name: "q", Values: []string{"it's"}},
			{Name: "l", Values: []string{"", "x y"}, List: true},
		}},
		{Type: "odd#type", Options: []*Option{{Name: "v", Values: []string{"a\nb"}}}},
	}}
	var b bytes.Buffer
	if err := Export(&b, p); err != nil {
		t.Fatal(err)
	}
	want := "package test\n\nconfig s 'a'\n\toption q 'it'\\''s'\n\tlist l ''\n\tlist l 'x y'\n" +
		"\nconfig 'odd#type'\n\toption v 'a\nb'\n\n"
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
	back, errs := Parse("test", b.Bytes())
	checkErrors(t, errs, nil)
	if !samePackage(p, back) {
		t.Errorf("read back:\n%s", dump(back))
	}

	b.Reset()
	if err := Export(&b, &Package{}); err != nil || b.String() != "\n" {
		t.Errorf("empty package: %q, %v", b.String(), err)
	}
}

func TestExportRefuses(t *testing.T) {
	opt := func(o *Option) *Package {
		return &Package{Sections: []*Section{{Type: "s", Options: []*Option{o}}}}
	}
	for name, p := range map[string]*Package{
		"package name":     {Name: "net.bak"},
		"type":             {Sections: []*Section{{Type: "a b"}}},
		"empty type":       {Sections: []*Section{{}}},
		"section name":     {Sections: []*Section{{Type: "s", Name: "wg-0"}}},
		"duplicate":        {Sections: []*Section{{Type: "s", Name: "a"}, {Type: "t", Name: "a"}}},
		"internal name":    {Sections: []*Section{{Type: "a"}, {Type: "a", Name: "cfg01b606"}}},
		"nil section":      {Sections: []*Section{nil}},
		"option name":      opt(&Option{Name: "a-b", Values: []string{"1"}}),
		"empty option":     opt(&Option{Name: "a", Values: []string{""}}),
		"no value":         opt(&Option{Name: "a"}),
		"empty list":       opt(&Option{Name: "a", List: true}),
		"two values":       opt(&Option{Name: "a", Values: []string{"1", "2"}}),
		"NUL":              opt(&Option{Name: "a", Values: []string{"a\x00b"}}),
		"duplicate option": {Sections: []*Section{{Type: "s", Options: []*Option{{Name: "a", Values: []string{"1"}}, {Name: "a", Values: []string{"2"}}}}}},
	} {
		var b bytes.Buffer
		if err := Export(&b, p); err == nil || b.Len() != 0 {
			t.Errorf("%s: err %v, wrote %q", name, err, b.String())
		}
	}
	if err := Export(&bytes.Buffer{}, nil); err == nil {
		t.Errorf("nil package exported")
	}
}

func TestExportRoundTrip(t *testing.T) {
	in := "config 'we;rd'\\''\"' a\n" +
		"\toption v1 'it'\\''s'\n\toption v2 \"back\\\\slash \\\"dq\\\"\"\n\toption v3 'multi\nline\r\n'\n" +
		"\toption v4 '# not a comment; not a separator'\n\toption v5 ' lead and trail '\n" +
		"\tlist l1 ''\n\tlist l1 '\t'\n\toption v6 'caf\u00e9 \xff'\n" +
		"config s\n\toption x 1\nconfig s b\nconfig s\n"
	p, errs := Parse("rt", []byte(in))
	checkErrors(t, errs, nil)
	var b bytes.Buffer
	if err := Export(&b, p); err != nil {
		t.Fatal(err)
	}
	back, errs := Parse("rt", b.Bytes())
	checkErrors(t, errs, nil)
	if !samePackage(p, back) {
		t.Errorf("got\n%s\nwant\n%s\nexport:\n%s", dump(back), dump(p), b.String())
	}
	if p.Sections[0].Type != "we;rd'\"" || p.Sections[0].Get("v2").Values[0] != `back\slash "dq"` {
		t.Errorf("parsed:\n%s", dump(p))
	}
}

// lineOfText is the line where s first occurs in data.
func lineOfText(data, s string) int {
	return strings.Count(data[:strings.Index(data, s)], "\n") + 1
}

// samePackage compares what a package says: names, types, values and
// list-ness, in order.
func samePackage(a, b *Package) bool {
	if a.Name != b.Name || len(a.Sections) != len(b.Sections) {
		return false
	}
	for i, s := range a.Sections {
		t := b.Sections[i]
		if s.Type != t.Type || s.Name != t.Name || s.Index != t.Index || len(s.Options) != len(t.Options) {
			return false
		}
		for j, o := range s.Options {
			u := t.Options[j]
			if o.Name != u.Name || o.List != u.List || len(o.Values) != len(u.Values) {
				return false
			}
			for k := range o.Values {
				if o.Values[k] != u.Values[k] {
					return false
				}
			}
		}
	}
	return true
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "network"), []byte(luciNetwork+"option-x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, errs := Load(dir, "network")
	if p == nil || p.Name != "network" || p.File != filepath.Join(dir, "network") || len(p.Sections) != 8 {
		t.Fatalf("load: %+v", p)
	}
	if len(errs) != 1 || errs[0].File != p.File || errs[0].Line != strings.Count(luciNetwork, "\n")+1 {
		t.Errorf("errors: %v", errs)
	}

	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, msg := range map[string]string{
		"missing":   "file not found",
		"sub":       "not a regular file",
		"../etc":    "invalid package name",
		"net.bak":   "invalid package name",
		"":          "invalid package name",
		"network/x": "invalid package name",
	} {
		p, errs := Load(dir, name)
		if p != nil || len(errs) != 1 || errs[0].Line != 0 || !strings.Contains(errs[0].Msg, msg) {
			t.Errorf("Load %q: %v %v", name, p, errs)
		}
	}
	_, errs = Load(dir, "missing")
	if want := filepath.Join(dir, "missing") + ": file not found"; errs[0].Error() != want {
		t.Errorf("got %q, want %q", errs[0].Error(), want)
	}
}
