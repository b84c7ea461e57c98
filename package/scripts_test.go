package pkgtest

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// script is a shell script to lint: a file, or a control script taken
// out of an .ipk.
type script struct {
	name string // for messages
	path string
}

// shippedScripts are the shell scripts the packages install (every file
// under package/wgd/files and luci-proto-wgd/root that starts with #!)
// and the control scripts of both .ipk files.
func shippedScripts(t *testing.T) []script {
	t.Helper()
	var out []script
	for _, dir := range []string{"wgd/files", "luci-proto-wgd/root"} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if bytes.HasPrefix(b, []byte("#!")) {
				out = append(out, script{p, p})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	tl := getTools(t)
	tmp := t.TempDir()
	for _, ipk := range []string{tl.wgdIPK, tl.luciIPK} {
		p := ReadIPK(t, ipk)
		pkg := p.Fields()["Package"]
		for name, data := range p.Control {
			if !bytes.HasPrefix(data, []byte("#!")) {
				continue
			}
			f := filepath.Join(tmp, pkg+"."+name)
			if err := os.WriteFile(f, data, 0o644); err != nil {
				t.Fatal(err)
			}
			out = append(out, script{pkg + ".ipk:" + name, f})
		}
	}
	return out
}

// standinScripts are the test stand-ins and the fake wgd.
func standinScripts(t *testing.T) []script {
	t.Helper()
	out := []script{{"testdata/fake-wgd", "testdata/fake-wgd"}}
	err := filepath.WalkDir("standin/root", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, script{p, p})
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestShippedScriptsAreAllFound(t *testing.T) {
	found := map[string]bool{}
	for _, s := range shippedScripts(t) {
		found[s.name] = true
	}
	want := []string{
		"wgd/files/wgd.init", "wgd/files/wgd.proto", "wgd/files/wgd.uci-defaults",
		"luci-proto-wgd/root/usr/libexec/rpcd/luci.wgd",
		"wgd.ipk:postinst", "wgd.ipk:prerm", "wgd.ipk:postinst-pkg",
		"luci-proto-wgd.ipk:postinst", "luci-proto-wgd.ipk:prerm", "luci-proto-wgd.ipk:postinst-pkg",
	}
	if _, err := os.Stat("wgd/files/wgd.hotplug"); err == nil {
		want = append(want, "wgd/files/wgd.hotplug")
	}
	for _, w := range want {
		if !found[w] {
			t.Errorf("shipped script %s not found (found %v)", w, found)
		}
	}
}

// shellcheck -s sh: OpenWrt's shell is busybox ash, a POSIX sh. SC1091
// (a sourced file that cannot be followed) is left out: OpenWrt's
// libraries are not on this machine.
func TestShellcheck(t *testing.T) {
	shellcheck := needTool(t, "shellcheck")
	for _, s := range append(shippedScripts(t), standinScripts(t)...) {
		t.Run(s.name, func(t *testing.T) {
			out, err := exec.Command(shellcheck, "-s", "sh", "-e", "SC1091", s.path).CombinedOutput()
			if err != nil {
				t.Errorf("shellcheck -s sh %s: %v\n%s", s.name, err, out)
			}
		})
	}
}

// Every script parses under busybox ash (the tests below also run them).
func TestBusyboxParses(t *testing.T) {
	busybox := needTool(t, "busybox")
	for _, s := range append(shippedScripts(t), standinScripts(t)...) {
		t.Run(s.name, func(t *testing.T) {
			out, err := exec.Command(busybox, "ash", "-n", s.path).CombinedOutput()
			if err != nil {
				t.Errorf("busybox ash -n %s: %v\n%s", s.name, err, out)
			}
		})
	}
}

// The jshn stand-in must round-trip what the scripts exchange: nested
// objects and arrays, and strings with quotes, backslashes and newlines.
func TestJshnStandinRoundTrip(t *testing.T) {
	busybox := needTool(t, "busybox")
	tl := getTools(t)
	in := `{"a":"x y","n":-3,"b":true,"f":false,"z":null,"arr":["p q","r"],` +
		`"o":{"k-1":"it's \"q\" \\ back\nline\ttab","e":{}},"fw":[{"type":"rule","dest_port":"51820"}]}`
	script := `. standin/root/usr/share/libubox/jshn.sh
json_load "$IN"
json_get_var a a; echo "a=$a"
json_get_values v arr; echo "arr=$v"
json_get_keys k; echo "keys=$k"
json_get_type ty fw; echo "fw=$ty"
json_select fw; json_select 1; json_get_var d dest_port; echo "port=$d"; json_select ..; json_select ..
json_get_var missing nothere dflt; echo "missing=$missing"
json_set_namespace other old
json_init; json_add_string z 1; json_dump
json_set_namespace "$old"
echo "---"
json_dump`
	cmd := exec.Command(busybox, "ash", "-c", script)
	cmd.Env = []string{"PATH=" + tl.dir + ":/usr/bin:/bin", "IN=" + in}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	head, dump, ok := strings.Cut(string(out), "---\n")
	if !ok {
		t.Fatalf("no dump in:\n%s", out)
	}
	for _, want := range []string{"a=x y\n", "arr=p q r\n", "keys=a n b f z arr o fw\n", "fw=array\n",
		"port=51820\n", "missing=dflt\n", `{"z":"1"}` + "\n"} {
		if !strings.Contains(head, want) {
			t.Errorf("missing %q in:\n%s", want, head)
		}
	}
	var got, want any
	if err := json.Unmarshal([]byte(dump), &got); err != nil {
		t.Fatalf("json_dump printed no JSON: %v\n%s", err, dump)
	}
	json.Unmarshal([]byte(in), &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %s\nwant %s", dump, in)
	}
}
