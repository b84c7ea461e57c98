package uci

import (
	"bytes"
	"testing"
)

// fuzzSeeds are grammar samples: each feature, its quirks and its errors.
var fuzzSeeds = []string{
	"",
	"# comment only\n",
	luciNetwork,
	"package network\nconfig interface 'lan'\n\toption proto 'static'\n\tlist dns '1.1.1.1'\n",
	"p n\nc t a\no x 1\nl y 2\n",
	"config s a\noption x '1'; option y \"2\";option z 3\n",
	"config s a\noption x 1; option y 2\n",
	"config s a\noption x '1';\n",
	"config s a\noption x ; 1\n",
	"config s a\noption x 'a\\b' \"c\\\"d\" e\\ f\n",
	"config s a\noption x foo\\\nbar\noption y \"foo\\\r\nbar\"\n",
	"config s a\noption x 'l1\nl2'\n",
	"config s a\noption x 'oops\n",
	"config s a\noption x \"oops\\",
	"config s wg-0\noption x 1\nconfig 'a b'\nconfig ''\nconfig\n",
	"option a 1\nconfig s a extra\n",
	"config s a\noption x ''\nlist l ''\nlist l\noption y\n",
	"config s a\noption d 1\nlist d 2\noption d 3\nlist d 4\n",
	"config iface lan\nconfig iface lan\nconfig zone lan\n",
	"config a\nconfig a cfg01b606\nconfig b cfg01b606\n",
	"config x#y\noption a x#y\noption b 'x#y'\n",
	"config s a\r\noption x y ''\r\n",
	"config 'we;rd'\\''\"' a\n\toption v 'it'\\''s'\n",
	"config s a\noption x 1\x00\noption y 2\n",
	"config s a\nfoo 'x\nconfig t b'\n",
	"config s a\n\v\f option\tx\r1\n",
	"config",
	"package",
	"config s a\noption",
	"\\\n;\n'\n",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, errs := Parse("fuzz", data)
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, e := range errs {
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("error line %d out of 1..%d: %v", e.Line, lines, e)
			}
		}
		checkShape(t, p, data)
		agreeWithModel(t, data)

		var b bytes.Buffer
		if err := Export(&b, p); err != nil {
			t.Fatalf("export: %v", err)
		}
		back, errs := Parse("fuzz", b.Bytes())
		if len(errs) != 0 {
			t.Fatalf("export reads back with errors %v:\n%s", errs, b.String())
		}
		if !samePackage(p, back) {
			t.Fatalf("export reads back differently:\n%s\nwant:\n%s", dump(back), dump(p))
		}
	})
}

// checkShape checks what must hold for any input: valid names and types,
// consistent indexes, positions inside the data.
func checkShape(t *testing.T, p *Package, data []byte) {
	t.Helper()
	count := map[string]int{}
	names := map[string]bool{}
	for _, s := range p.Sections {
		if !validType(s.Type) || s.Name != "" && !validName(s.Name) || names[s.Name] {
			t.Fatalf("bad section %q %q", s.Type, s.Name)
		}
		if s.Name != "" {
			names[s.Name] = true
		}
		if s.Index != count[s.Type] {
			t.Fatalf("section %s: index %d, want %d", s.Ref(), s.Index, count[s.Type])
		}
		count[s.Type]++
		if s.Line < 1 || s.Start < 0 || s.Start > s.End || s.End > len(data) {
			t.Fatalf("section %s at line %d, %d..%d", s.Ref(), s.Line, s.Start, s.End)
		}
		seen := map[string]bool{}
		for _, o := range s.Options {
			if !validName(o.Name) || seen[o.Name] || len(o.Values) == 0 || !o.List && len(o.Values) != 1 {
				t.Fatalf("section %s: bad option %+v", s.Ref(), o)
			}
			seen[o.Name] = true
			if o.Line < s.Line || o.Start < s.Start || o.Start > o.End || o.End > s.End {
				t.Fatalf("section %s: option %s at line %d, %d..%d", s.Ref(), o.Name, o.Line, o.Start, o.End)
			}
		}
	}
}
