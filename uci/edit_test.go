package uci

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of the edit tests")

// section finds a section by Ref or description, in the Doc's current parse.
func section(t *testing.T, d *Doc, ref string) *Section {
	t.Helper()
	for _, s := range d.Package().Sections {
		if s.Ref() == ref {
			return s
		}
		if o := s.Get("description"); o != nil && o.Values[0] == ref {
			return s
		}
	}
	t.Fatalf("no section %s in\n%s", ref, d.Bytes())
	return nil
}

func newPeer(name string) []*Option {
	return []*Option{
		{Name: "description", Values: []string{name}},
		{Name: "public_key", Values: []string{"bmV3cGVlcm5ld3BlZXJuZXdwZWVybmV3cGVlcm5ld3A="}},
		{Name: "allowed_ips", Values: []string{"10.0.0.5/32", "fd00:10::5/128"}, List: true},
	}
}

// span is the part of the old text an edit may touch: the section's
// lines and one blank line either side.
type span struct{ from, to int }

func sectionLines(data []byte, s *Section) span {
	from := bytes.LastIndexByte(data[:s.Start], '\n') + 1
	to := lineEnd(data, s.End)
	if to < len(data) {
		to++
	}
	// one blank line either side
	if from > 0 {
		prev := bytes.LastIndexByte(data[:from-1], '\n') + 1
		if isBlankLine(data[prev : from-1]) {
			from = prev
		}
	}
	if to < len(data) {
		if e := lineEnd(data, to); isBlankLine(data[to:e]) {
			to = min(e+1, len(data))
		}
	}
	return span{from, to}
}

// keeps reports whether new is old with only old[allowed.from:allowed.to]
// replaced: every byte before and after is kept.
func keeps(old, new []byte, allowed span) bool {
	return len(new) >= allowed.from+len(old)-allowed.to &&
		bytes.HasPrefix(new, old[:allowed.from]) && bytes.HasSuffix(new, old[allowed.to:])
}

// inserted reports whether new is old with text inserted at one place.
func inserted(old, new []byte) bool {
	p := 0
	for p < len(old) && p < len(new) && old[p] == new[p] {
		p++
	}
	return len(new) >= len(old) && bytes.HasSuffix(new, old[p:])
}

func TestEditGolden(t *testing.T) {
	type edit struct {
		name, in string
		touch    string // the section whose lines alone may change ("" for an insertion)
		do       func(t *testing.T, d *Doc) error
	}
	for _, c := range []edit{
		{"add-after-peers", "luci.network", "", func(t *testing.T, d *Doc) error {
			return d.AddSection("wireguard_wg0", "phone", newPeer("phone"), section(t, d, "tablet"))
		}},
		{"add-at-end", "luci.network", "", func(t *testing.T, d *Doc) error {
			return d.AddSection("wireguard_wg0", "", newPeer("it's mine"), nil)
		}},
		{"delete-bob", "luci.network", "Bob's phone", func(t *testing.T, d *Doc) error {
			return d.DeleteSection(section(t, d, "Bob's phone"))
		}},
		{"delete-tablet", "luci.network", "tablet", func(t *testing.T, d *Doc) error {
			return d.DeleteSection(section(t, d, "tablet"))
		}},
		{"delete-last", "luci.network", "odd", func(t *testing.T, d *Doc) error {
			return d.DeleteSection(section(t, d, "odd"))
		}},
		{"delete-first", "luci.network", "loopback", func(t *testing.T, d *Doc) error {
			return d.DeleteSection(section(t, d, "loopback"))
		}},
		{"disable-laptop", "luci.network", "laptop", func(t *testing.T, d *Doc) error {
			return d.SetOption(section(t, d, "laptop"), "disabled", "1")
		}},
		{"disable-bob", "luci.network", "Bob's phone", func(t *testing.T, d *Doc) error {
			return d.SetOption(section(t, d, "Bob's phone"), "disabled", "1")
		}},
		{"enable-tablet", "luci.network", "tablet", func(t *testing.T, d *Doc) error {
			return d.DeleteOption(section(t, d, "tablet"), "disabled")
		}},
		{"delete-inline-second", "luci.network", "Bob's phone", func(t *testing.T, d *Doc) error {
			return d.DeleteOption(section(t, d, "Bob's phone"), "endpoint_port")
		}},
		{"delete-inline-first", "luci.network", "Bob's phone", func(t *testing.T, d *Doc) error {
			return d.DeleteOption(section(t, d, "Bob's phone"), "endpoint_host")
		}},
		{"delete-list", "luci.network", "@device[0]", func(t *testing.T, d *Doc) error {
			return d.DeleteOption(section(t, d, "@device[0]"), "ports")
		}},
		{"set-over-list", "luci.network", "wg0", func(t *testing.T, d *Doc) error {
			return d.SetOption(section(t, d, "wg0"), "addresses", "10.9.0.1/24")
		}},
		{"quote-in-value", "luci.network", "wan", func(t *testing.T, d *Doc) error {
			return d.SetOption(section(t, d, "wan"), "hostname", "it's 'quoted'")
		}},
		{"crlf-add", "crlf.network", "", func(t *testing.T, d *Doc) error {
			return d.AddSection("wireguard_lan", "", newPeer("two"), nil)
		}},
		{"crlf-set", "crlf.network", "one", func(t *testing.T, d *Doc) error {
			return d.SetOption(section(t, d, "one"), "disabled", "1")
		}},
		{"noeol-add", "noeol.network", "", func(t *testing.T, d *Doc) error {
			return d.AddSection("wireguard_wg0", "", newPeer("p"), section(t, d, "wg0"))
		}},
		{"noeol-set", "noeol.network", "wg0", func(t *testing.T, d *Doc) error {
			return d.SetOption(section(t, d, "wg0"), "listen_port", "51820")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", "edit", c.in))
			if err != nil {
				t.Fatal(err)
			}
			d, err := NewDoc(c.in, in)
			if err != nil {
				t.Fatal(err)
			}
			allowed := span{}
			if c.touch != "" {
				allowed = sectionLines(in, section(t, d, c.touch))
			}
			if err := c.do(t, d); err != nil {
				t.Fatal(err)
			}
			out := d.Bytes()

			// Every byte outside the edited section is kept.
			if c.touch == "" && !inserted(in, out) {
				t.Errorf("not a pure insertion")
			}
			if c.touch != "" && !keeps(in, out, allowed) {
				t.Errorf("changed bytes outside section %s (old bytes %d..%d: %q)", c.touch, allowed.from, allowed.to, in[allowed.from:allowed.to])
			}
			if bytes.Equal(in, out) {
				t.Errorf("nothing changed")
			}
			// What the Doc says is what the text says.
			back, errs := Parse(c.in, out)
			for _, e := range errs {
				if !e.Warning {
					t.Errorf("edited text reads back with %v", e)
				}
			}
			back.Name = d.Package().Name
			if !samePackage(back, d.Package()) {
				t.Errorf("Package() differs from the text:\n%s\ntext reads:\n%s", dump(d.Package()), dump(back))
			}

			golden := filepath.Join("testdata", "edit", c.name+".golden")
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("got:\n%s\nwant (%s):\n%s", out, golden, want)
			}
		})
	}
}

func TestEditResults(t *testing.T) {
	in, err := os.ReadFile("testdata/edit/luci.network")
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDoc("network", in)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AddSection("wireguard_wg0", "phone", newPeer("phone"), section(t, d, "tablet")); err != nil {
		t.Fatal(err)
	}
	peers := d.Package().SectionsOfType("wireguard_wg0")
	if len(peers) != 4 || peers[3].Name != "phone" || peers[3].Get("allowed_ips").Values[1] != "fd00:10::5/128" {
		t.Fatalf("peers after add:\n%s", dump(d.Package()))
	}
	if err := d.SetOption(peers[3], "disabled", "1"); err != nil {
		t.Fatal(err)
	}
	if err := d.SetOption(section(t, d, "phone"), "private_key", "it's"); err != nil {
		t.Fatal(err)
	}
	p := section(t, d, "phone")
	if p.Get("disabled").Values[0] != "1" || p.Get("private_key").Values[0] != "it's" {
		t.Errorf("phone:\n%s", d.Bytes()[p.Start:p.End])
	}
	if err := d.DeleteOption(p, "disabled"); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteSection(section(t, d, "phone")); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Bytes(), in) {
		t.Errorf("add, set, delete did not give back the original file:\n%s", d.Bytes())
	}
	// Deleting a missing option changes nothing.
	if err := d.DeleteOption(section(t, d, "laptop"), "nothing"); err != nil || !bytes.Equal(d.Bytes(), in) {
		t.Errorf("delete of a missing option: %v", err)
	}
}

func TestEditRepeatedOption(t *testing.T) {
	in := "config s a\n\toption x '1'\n\toption y '2'\n\toption x '3'\n\tlist l a\n\toption l b\n\tlist l c\n"
	d, err := NewDoc("f", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s := d.Package().Sections[0]
	if err := d.DeleteOption(s, "x"); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteOption(d.Package().Sections[0], "l"); err != nil {
		t.Fatal(err)
	}
	if got := string(d.Bytes()); got != "config s a\n\toption y '2'\n" {
		t.Errorf("got %q", got)
	}
}

func TestEditRefuses(t *testing.T) {
	// Files with errors are not edited at all.
	if _, err := NewDoc("f", []byte("config s a\n\toption x 1 2\n")); err == nil || !strings.Contains(err.Error(), "too many arguments") {
		t.Errorf("file with errors: %v", err)
	}

	// A named section written in two places has no single span.
	d, err := NewDoc("f", []byte("config s a\n\toption x 1\nconfig s b\nconfig s a\n\toption y 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	before := string(d.Bytes())
	if err := d.DeleteSection(d.Package().Sections[0]); !errors.Is(err, errEditByHand) {
		t.Errorf("delete of a split section: %v", err)
	}
	if err := d.SetOption(d.Package().Sections[0], "z", "3"); !errors.Is(err, errEditByHand) {
		t.Errorf("new option in a split section: %v", err)
	}
	if string(d.Bytes()) != before {
		t.Errorf("a refused edit changed the text: %q", d.Bytes())
	}

	// libuci drops what follows a bare word written against ';': removing
	// the word would bring `option b` to life, so the edit is refused.
	d, err = NewDoc("f", []byte("config s a\n\toption a 1; option b 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Package().Sections[0].Get("b") != nil {
		t.Fatal("the quirk did not drop option b")
	}
	if err := d.DeleteOption(d.Package().Sections[0], "a"); !errors.Is(err, errEditByHand) {
		t.Errorf("delete that revives a dropped command: %v (text now %q)", err, d.Bytes())
	}

	// Bad names and values.
	d, err = NewDoc("f", []byte("config s a\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := d.Package().Sections[0]
	for name, err := range map[string]error{
		"section name":   d.AddSection("t", "bad-name", nil, nil),
		"duplicate name": d.AddSection("t", "a", nil, nil),
		"type":           d.AddSection("a type", "", nil, nil),
		"option name":    d.AddSection("t", "", []*Option{{Name: "x.y", Values: []string{"1"}}}, nil),
		"empty value":    d.SetOption(s, "x", ""),
		"NUL":            d.SetOption(s, "x", "a\x00b"),
		"bad option":     d.SetOption(s, "x-y", "1"),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if string(d.Bytes()) != "config s a\n" {
		t.Errorf("refused edits changed the text: %q", d.Bytes())
	}
	stale := s
	if err := d.SetOption(s, "x", "1"); err != nil {
		t.Fatal(err)
	}
	if err := d.SetOption(stale, "y", "1"); err == nil {
		t.Error("a section of an older parse was accepted")
	}
}

// Deleting any one section of the LuCI-style file keeps every other byte.
func TestDeleteEachSection(t *testing.T) {
	in, err := os.ReadFile("testdata/edit/luci.network")
	if err != nil {
		t.Fatal(err)
	}
	d0, err := NewDoc("network", in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range d0.Package().Sections {
		d, _ := NewDoc("network", in)
		s := d.Package().Sections[i]
		allowed := sectionLines(in, s)
		if err := d.DeleteSection(s); err != nil {
			t.Errorf("delete %s: %v", s.Ref(), err)
			continue
		}
		if !keeps(in, d.Bytes(), allowed) {
			t.Errorf("delete %s changed bytes outside %d..%d", s.Ref(), allowed.from, allowed.to)
		}
		if !inserted(d.Bytes(), in) {
			t.Errorf("delete %s did more than remove text", s.Ref())
		}
		if len(d.Package().Sections) != len(d0.Package().Sections)-1 {
			t.Errorf("delete %s: %d sections left", s.Ref(), len(d.Package().Sections))
		}
	}
}

// FuzzEdit edits every section of arbitrary files: an edit either keeps
// every byte outside the section's lines and reads back as intended, or is
// refused and changes nothing.
func FuzzEdit(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	for _, name := range []string{"luci.network", "crlf.network", "noeol.network"} {
		data, err := os.ReadFile(filepath.Join("testdata", "edit", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d0, err := NewDoc("fuzz", data)
		if err != nil {
			return
		}
		for i := range d0.Package().Sections {
			for op := 0; op < 4; op++ {
				d, _ := NewDoc("fuzz", data)
				s := d.Package().Sections[i]
				allowed := sectionLines(data, s)
				var err error
				switch op {
				case 0:
					err = d.DeleteSection(s)
				case 1:
					err = d.SetOption(s, "disabled", "1")
				case 2:
					if len(s.Options) > 0 {
						err = d.DeleteOption(s, s.Options[0].Name)
					}
				case 3:
					err = d.AddSection("wireguard_x", "", newPeer("p"), s)
					allowed = span{0, len(data)}
					if err == nil && !inserted(data, d.Bytes()) {
						t.Fatalf("add after %s is not an insertion:\n%q", s.Ref(), d.Bytes())
					}
				}
				if err != nil {
					if !bytes.Equal(d.Bytes(), data) {
						t.Fatalf("op %d on %s failed (%v) but changed the text", op, s.Ref(), err)
					}
					continue
				}
				if !keeps(data, d.Bytes(), allowed) {
					t.Fatalf("op %d on %s changed bytes outside %d..%d:\n%q\n->\n%q", op, s.Ref(), allowed.from, allowed.to, data, d.Bytes())
				}
				back, errs := Parse("fuzz", d.Bytes())
				for _, e := range errs {
					if !e.Warning {
						t.Fatalf("op %d on %s: reads back with %v", op, s.Ref(), e)
					}
				}
				if !samePackage(back, d.Package()) {
					t.Fatalf("op %d on %s: Package() differs from the text", op, s.Ref())
				}
			}
		}
	})
}
