package uci

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// dump renders a package compactly: one line per section (type and Ref),
// one per option.
func dump(p *Package) string {
	var b strings.Builder
	for _, s := range p.Sections {
		fmt.Fprintf(&b, "%s %s\n", s.Type, s.Ref())
		for _, o := range s.Options {
			if o.List {
				fmt.Fprintf(&b, "  list %s %q\n", o.Name, o.Values)
			} else {
				fmt.Fprintf(&b, "  option %s %q\n", o.Name, o.Values)
			}
		}
	}
	return b.String()
}

// checkErrors matches errors against wants of the form "LINE: text" or
// "LINE: warning: text", where text is part of the message.
func checkErrors(t *testing.T, errs []*Error, want []string) {
	t.Helper()
	var got []string
	for _, e := range errs {
		w := ""
		if e.Warning {
			w = "warning: "
		}
		got = append(got, fmt.Sprintf("%d: %s%s", e.Line, w, e.Msg))
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		line, text, _ := strings.Cut(want[i], ": ")
		ok = strings.HasPrefix(got[i], line+": ") && strings.Contains(got[i], text)
	}
	if !ok {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
}

type parseCase struct {
	name string
	in   string
	want string   // dump of the result
	errs []string // see checkErrors
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, errs := Parse("test", []byte(tc.in))
			if got := dump(p); got != tc.want {
				t.Errorf("input %q\n got:\n%s\nwant:\n%s", tc.in, got, tc.want)
			}
			checkErrors(t, errs, tc.errs)
		})
	}
}

func TestKeywords(t *testing.T) {
	full := "iface lan\n  option proto [\"static\"]\n  list dns [\"1.1.1.1\"]\n"
	runParseCases(t, []parseCase{
		{name: "long", in: "package net\nconfig iface 'lan'\n\toption proto static\n\tlist dns 1.1.1.1\n", want: full},
		{name: "short", in: "p net\nc iface lan\no proto static\nl dns 1.1.1.1\n", want: full},
		{
			name: "wrong spelling or case",
			in:   "config iface lan\nOption a 1\nCONFIG x\nopt a b\noptions a b\nconfigs x\nlists a b\npkg x\noption b 2\n",
			want: "iface lan\n  option b [\"2\"]\n",
			errs: []string{
				`2: invalid command "Option"`, `3: invalid command "CONFIG"`, `4: invalid command "opt"`,
				`5: invalid command "options"`, `6: invalid command "configs"`, `7: invalid command "lists"`,
				`8: invalid command "pkg"`,
			},
		},
		{
			// libuci splits the keyword on spaces and tabs only
			name: "keyword glued to newline or quote",
			in:   "config s a\noption\nconfig\tt 'b'\nconfig'x'\n",
			want: "s a\nt b\n",
			errs: []string{`2: invalid command "option\n"`, `4: invalid command "config'x'\n"`},
		},
		{name: "keyword at end of file", in: "config s a\noption", want: "s a\n", errs: []string{"2: option without a name"}},
		{name: "config at end of file", in: "config", errs: []string{"1: config without a section type"}},
	})
}

func TestWhitespace(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "indentation and CRLF",
			in:   "  \tconfig\tiface\t lan  \r\n\t\t option   proto\t'static'  \r\n\r\n   list  dns 1.1.1.1\r\n",
			want: "iface lan\n  option proto [\"static\"]\n  list dns [\"1.1.1.1\"]\n",
		},
		{
			name: "carriage return and form feed separate arguments",
			in:   "config s a\noption x\r1\noption y\f2\noption z\v3\n",
			want: "s a\n  option x [\"1\"]\n  option y [\"2\"]\n  option z [\"3\"]\n",
		},
		{
			// after an empty last argument libuci skips one whitespace
			// character and leaves the line break for its keyword split
			name: "CRLF after empty last argument",
			in:   "config s a\r\noption x y ''\r\noption z 1 '' \noption w 2 ''\n",
			want: "s a\n  option x [\"y\"]\n  option z [\"1\"]\n  option w [\"2\"]\n",
			errs: []string{
				"2: invalid command: libuci rejects a line ending in an empty quoted argument",
				"3: invalid command: libuci rejects a line ending in an empty quoted argument",
			},
		},
		{name: "vertical tab after separator", in: "config s a\noption x '1';\vx\n", want: "s a\n  option x [\"1\"]\n", errs: []string{`2: invalid command "\vx\n"`}},
	})
}

func TestComments(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "comments",
			in: "# comment\nconfig iface lan # trailing\n\toption a x#y\n\toption b 'x#y'\n\toption c \"x#y\"\n" +
				"\toption d x\\#y\n#config other\n\t# option f 1\n\toption e 1 # c\n\toption g 'q'#c\n",
			want: "iface lan\n  option a [\"x\"]\n  option b [\"x#y\"]\n  option c [\"x#y\"]\n" +
				"  option d [\"x#y\"]\n  option e [\"1\"]\n  option g [\"q\"]\n",
		},
		{name: "hash ends a type", in: "config foo#bar\n", want: "foo @foo[0]\n"},
		{name: "hash as value", in: "config s a\noption x #1\n", want: "s a\n"},
	})
}

func TestSemicolons(t *testing.T) {
	quirk := "warning: text after ';' ignored"
	runParseCases(t, []parseCase{
		{
			name: "separators",
			in:   "config s a\noption x '1'; option y \"2\";option z 3\noption v '4' ; option w 5\n",
			want: "s a\n  option x [\"1\"]\n  option y [\"2\"]\n  option z [\"3\"]\n  option v [\"4\"]\n  option w [\"5\"]\n",
		},
		{name: "space before", in: "config s a\noption x 1 ; option y 2\n", want: "s a\n  option x [\"1\"]\n  option y [\"2\"]\n"},
		{
			name: "bare word against semicolon drops the rest",
			in:   "config s a\noption x 1; option y 2\noption z 3\n",
			want: "s a\n  option x [\"1\"]\n  option z [\"3\"]\n",
			errs: []string{"2: " + quirk},
		},
		{name: "list items", in: "config s a\nlist l 1;list l 2\n", want: "s a\n  list l [\"1\"]\n", errs: []string{"2: " + quirk}},
		{name: "bare name", in: "config s a\noption x; option y 2\n", want: "s a\n", errs: []string{"2: " + quirk}},
		{name: "bare section name", in: "config s a; option y 2\n", want: "s a\n", errs: []string{"1: " + quirk}},
		{name: "nothing lost", in: "config s a\noption x 1;\noption y 2;  # c\n", want: "s a\n  option x [\"1\"]\n  option y [\"2\"]\n"},
		{
			name: "quoted value then semicolon at end of line",
			in:   "config s a\noption x '1';\noption y 2\n",
			want: "s a\n  option x [\"1\"]\n  option y [\"2\"]\n",
			errs: []string{"2: libuci rejects a line ending in ';'"},
		},
		{name: "comment after separator", in: "config s a\noption x '1';# c\n", want: "s a\n  option x [\"1\"]\n"},
		{
			// the ';' ends the value, but libuci still reads one more argument
			name: "value after lone separator",
			in:   "config s a\noption x ; 1\n",
			want: "s a\n",
			errs: []string{`2: too many arguments ("1")`},
		},
		{name: "escaped", in: "config s a\noption x 1\\;2\n", want: "s a\n  option x [\"1;2\"]\n"},
		{name: "leading separator", in: "config s a\n;option x 1\n", want: "s a\n", errs: []string{`2: invalid command ";option"`}},
	})
}

func TestQuoting(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "single quotes take backslashes literally",
			in:   "config s a\noption x 'a\\b'\noption y 'a\\'\noption z 'a\\\nb'\n",
			want: "s a\n  option x [\"a\\\\b\"]\n  option y [\"a\\\\\"]\n  option z [\"a\\\\\\nb\"]\n",
		},
		{
			name: "backslash makes the next character literal",
			in: "config s a\noption a \"x\\\"y\"\noption b \"x\\ny\"\noption c \"x\\\\y\"\noption d x\\ny\n" +
				"option e x\\ y\noption f \\'\noption g \"it's\"\noption h \"\\'\"\n",
			want: "s a\n  option a [\"x\\\"y\"]\n  option b [\"xny\"]\n  option c [\"x\\\\y\"]\n  option d [\"xny\"]\n" +
				"  option e [\"x y\"]\n  option f [\"'\"]\n  option g [\"it's\"]\n  option h [\"'\"]\n",
		},
		{
			name: "adjacent pieces join",
			in:   "config s a\noption x 'a'\"b\"c\noption y a'b c'd\noption z ''\"\"e\n",
			want: "s a\n  option x [\"abc\"]\n  option y [\"ab cd\"]\n  option z [\"e\"]\n",
		},
		{
			name: "newline inside quotes stays",
			in:   "config s a\noption x 'l1\nl2'\noption y \"m1\r\nm2\"\noption z 3\n",
			want: "s a\n  option x [\"l1\\nl2\"]\n  option y [\"m1\\r\\nm2\"]\n  option z [\"3\"]\n",
		},
		{
			name: "backslash newline joins lines",
			in:   "config s a\noption x foo\\\nbar\noption y \"foo\\\nbar\"\noption z foo\\\r\nbar\n",
			want: "s a\n  option x [\"foobar\"]\n  option y [\"foobar\"]\n  option z [\"foobar\"]\n",
		},
		{
			name: "joined line starting with a blank ends the word",
			in:   "config s a\noption x foo\\\n bar\noption y 1\n",
			want: "s a\n  option y [\"1\"]\n",
			errs: []string{`3: too many arguments ("bar")`},
		},
		{name: "backslash at end of file", in: "config s a\noption x foo\\", want: "s a\n  option x [\"foo\"]\n"},
		{name: "quoted names and types", in: "config 'iface' \"lan\"\noption 'proto' \"dhcp\"\n", want: "iface lan\n  option proto [\"dhcp\"]\n"},
	})
}

func TestUnterminatedQuote(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "single",
			in:   "config s a\noption x 1\nconfig t b\noption y 'oops\noption z 3\n",
			want: "s a\n  option x [\"1\"]\nt b\n",
			errs: []string{"5: unterminated ' quote (opened on line 4)"},
		},
		{name: "double at end of file", in: "config s a\noption x \"oops", want: "s a\n", errs: []string{`2: unterminated " quote (opened on line 2)`}},
		{name: "escaped closing quote", in: "config s a\noption x \"oops\\\"\n", want: "s a\n", errs: []string{`2: unterminated " quote`}},
	})
}

func TestNames(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "names",
			in:   "config iface wg-0\noption a 1\nconfig iface 'ok'\noption 'b' 2\noption c-d 3\noption \"e\" 4\noption f.g 5\n",
			want: "iface ok\n  option b [\"2\"]\n  option e [\"4\"]\n",
			errs: []string{
				"1: invalid character in name field",
				"5: invalid character in name field",
				"7: invalid character in name field",
			},
		},
		{
			name: "types",
			in:   "config 'a b'\nconfig 'x.y-z:1/@!'\nconfig ''\nconfig \nconfig 't\u00e9'\n",
			want: "x.y-z:1/@! @x.y-z:1/@![0]\n",
			errs: []string{
				`1: invalid character in type field "a b"`,
				"3: missing section type",
				"4: missing section type",
				"5: invalid character in type field",
			},
		},
		{name: "empty name is anonymous", in: "config s ''\noption x 1\n", want: "s @s[0]\n  option x [\"1\"]\n"},
		{name: "missing option name", in: "config s a\noption ''\nlist \n", want: "s a\n", errs: []string{"2: missing option name", "3: missing option name"}},
	})
}

func TestArguments(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "too many",
			in:   "config s a extra\noption x 1\nconfig s b\noption y 1 2\noption z 3\npackage p q\n",
			want: "s b\n  option z [\"3\"]\n",
			errs: []string{`1: too many arguments ("extra")`, `4: too many arguments ("2")`, `6: too many arguments ("q")`},
		},
		{
			// libuci's end-of-command check reads one more argument; an empty one passes
			name: "empty extra argument",
			in:   "config s a\noption x 1 ''\n",
			want: "s a\n  option x [\"1\"]\n",
		},
		{
			name: "option before any config",
			in:   "option a 1\nlist b 2\nconfig s x\noption c 3\n",
			want: "s x\n  option c [\"3\"]\n",
			errs: []string{"1: option before the first section", "2: list before the first section"},
		},
	})
}

func TestValues(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "empty values",
			in:   "config s a\noption x ''\noption y 1\noption y ''\noption y\noption z\nlist l ''\nlist l\n",
			want: "s a\n  option y [\"1\"]\n  list l [\"\" \"\"]\n",
		},
		{
			name: "list after option keeps the value and the place",
			in:   "config s a\noption d 1\noption e 5\nlist d 2\nlist d 3\n",
			want: "s a\n  list d [\"1\" \"2\" \"3\"]\n  option e [\"5\"]\n",
		},
		{
			name: "option after list replaces it",
			in:   "config s a\nlist d 1\nlist d 2\noption e 5\noption d 3\n",
			want: "s a\n  option d [\"3\"]\n  option e [\"5\"]\n",
		},
		{
			name: "empty option leaves a list alone",
			in:   "config s a\nlist d 1\noption d ''\n",
			want: "s a\n  list d [\"1\"]\n",
		},
		{
			name: "last option wins",
			in:   "config s a\noption d 1\noption e 2\noption d 3\noption d 3\n",
			want: "s a\n  option d [\"3\"]\n  option e [\"2\"]\n",
		},
	})
}

func TestSections(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "named section reopens",
			in:   "config iface lan\noption a 1\nconfig iface wan\noption b 2\nconfig iface lan\noption c 3\noption a 4\n",
			want: "iface lan\n  option a [\"4\"]\n  option c [\"3\"]\niface wan\n  option b [\"2\"]\n",
		},
		{
			name: "same name with another type",
			in:   "config iface lan\noption a 1\nconfig zone lan\noption b 2\nconfig iface wan\noption c 3\n",
			want: "iface lan\n  option a [\"1\"]\niface wan\n  option c [\"3\"]\n",
			errs: []string{`3: section "lan" already declared with type "iface" on line 1`},
		},
		{
			name: "anonymous refs count named sections of the type",
			in:   "config rule\nconfig zone lan\nconfig rule\nconfig zone\nconfig zone wan\nconfig zone\n",
			want: "rule @rule[0]\nzone lan\nrule @rule[1]\nzone @zone[1]\nzone wan\nzone @zone[3]\n",
		},
		{
			// libuci names the first section of type "a", when anonymous, cfg01b606
			name: "internal name of an anonymous section reopens it",
			in:   "config a\noption x 1\nconfig b c\nconfig a cfg01b606\noption y 2\n",
			want: "a @a[0]\n  option x [\"1\"]\n  option y [\"2\"]\nb c\n",
		},
		{
			name: "internal name with another type",
			in:   "config a\nconfig b cfg01b606\noption y 2\n",
			want: "a @a[0]\n",
			errs: []string{`2: section "cfg01b606" already declared with type "a" on line 1`},
		},
		{
			name: "internal name counts every section",
			in:   "config x n\nconfig a\nconfig a cfg01b606\nconfig a cfg02b606\n",
			want: "x n\na @a[0]\na cfg01b606\n",
		},
		{
			name: "package line",
			in:   "package network\npackage 'my-net'\nconfig s a\npackage net.x\npackage ''\npackage",
			want: "s a\n",
			errs: []string{`4: invalid character in name field "net.x"`, "5: missing package name", "6: package without a name"},
		},
	})
}

func TestEmptyFiles(t *testing.T) {
	for _, in := range []string{"", "\n\n", "# only a comment", "# c\n  # d\n", "   \t\r\n"} {
		p, errs := Parse("empty", []byte(in))
		if p.Name != "empty" || len(p.Sections) != 0 {
			t.Errorf("%q: %q\n%s", in, p.Name, dump(p))
		}
		checkErrors(t, errs, nil)
	}
	runParseCases(t, []parseCase{
		{name: "lone separator", in: ";", errs: []string{`1: invalid command ";"`}},
		// the keyword split does not know backslashes
		{name: "lone backslash newline", in: "\\\n", errs: []string{`1: invalid command "\\\n"`}},
	})
}

func TestRecovery(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "options after a bad config are dropped, not attached",
			in:   "config s a\noption x 1\nconfig s a-b\noption y 2\noption y-z 3\nlist w 1\nconfig s c\noption w 4\n",
			want: "s a\n  option x [\"1\"]\ns c\n  option w [\"4\"]\n",
			errs: []string{"3: invalid character in name field", "5: invalid character in name field"},
		},
		{
			name: "a bad command's quoted argument does not leak",
			in:   "config s a\nfoo 'x\nconfig t b'\noption y 1\n",
			want: "s a\n  option y [\"1\"]\n",
			errs: []string{`2: invalid command "foo"`},
		},
		{
			name: "commands after a bad one on the same line",
			in:   "config s a\noption x 1 '2'; option y 3\noption-z 1 ; option w 4\n",
			want: "s a\n  option y [\"3\"]\n  option w [\"4\"]\n",
			errs: []string{`2: too many arguments ("2")`, `3: invalid command "option-z"`},
		},
		{
			name: "NUL byte",
			in:   "config s a\noption x 1\noption y 2\x00z\noption w 3\n",
			want: "s a\n  option x [\"1\"]\n",
			errs: []string{"3: NUL byte"},
		},
	})
}

func TestPositions(t *testing.T) {
	data := "config iface 'lan'\n\toption proto static\n\tlist addr 'a\nb' # c\n\toption x foo\\\nbar\nconfig x\n"
	p, errs := Parse("pos", []byte(data))
	checkErrors(t, errs, nil)
	at := func(s string) int { return strings.Index(data, s) }
	lan, x := p.Sections[0], p.Sections[1]
	check := func(what string, line, start, end, wantLine, wantStart, wantEnd int) {
		t.Helper()
		if line != wantLine || start != wantStart || end != wantEnd {
			t.Errorf("%s: line %d, %d..%d; want line %d, %d..%d", what, line, start, end, wantLine, wantStart, wantEnd)
		}
	}
	check("lan", lan.Line, lan.Start, lan.End, 1, 0, at("bar")+3)
	o := lan.Get("proto")
	check("proto", o.Line, o.Start, o.End, 2, at("option proto"), at("static")+6)
	o = lan.Get("addr")
	check("addr", o.Line, o.Start, o.End, 3, at("list addr"), at("b'")+2)
	o = lan.Get("x")
	check("x", o.Line, o.Start, o.End, 5, at("option x"), at("bar")+3)
	check("section x", x.Line, x.Start, x.End, 7, at("config x"), at("config x")+8)
	if got := data[lan.Get("addr").Start:lan.Get("addr").End]; got != "list addr 'a\nb'" {
		t.Errorf("addr text %q", got)
	}
}

func TestPositionsMergedAndRepeated(t *testing.T) {
	data := "config s a\noption x 1\nconfig s b\noption y 1\nconfig s a\noption x 2\nlist l 1\nlist l 2\n"
	p, _ := Parse("pos", []byte(data))
	a := p.Sections[0]
	if a.Line != 1 || a.Start != 0 || a.End != len(data)-1 {
		t.Errorf("a: line %d, %d..%d", a.Line, a.Start, a.End)
	}
	if x := a.Get("x"); x.Line != 6 || data[x.Start:x.End] != "option x 2" {
		t.Errorf("x: line %d %q", x.Line, data[x.Start:x.End])
	}
	if l := a.Get("l"); l.Line != 8 || data[l.Start:l.End] != "list l 2" {
		t.Errorf("l: line %d %q", l.Line, data[l.Start:l.End])
	}
}

func TestErrorsCarryFileAndContext(t *testing.T) {
	data := "config interface lan\n\toption proto static\n\toption ip-addr 1\n" +
		"config interface wg-0\n\toption proto wireguard\n" +
		"config wireguard_wg0\n\toption public_key 'k' x\n\tlist allowed_ips 10.0.0.2/32\n" +
		"config interface wan\n\toption proto dhcp\n"
	p, errs := Parse("/etc/config/network", []byte(data))
	want := []string{
		"/etc/config/network:3: section lan, option ip-addr: invalid character in name field",
		"/etc/config/network:4: section wg-0: invalid character in name field",
		`/etc/config/network:7: section @wireguard_wg0[0], option public_key: too many arguments ("x")`,
	}
	if len(errs) != len(want) {
		t.Fatalf("errors %v", errs)
	}
	for i, e := range errs {
		if e.File != "/etc/config/network" || e.Error() != want[i] {
			t.Errorf("error %d: %q, want %q", i, e.Error(), want[i])
		}
	}
	if p.Name != "network" {
		t.Errorf("name %q", p.Name)
	}
	wantDump := "interface lan\n  option proto [\"static\"]\n" +
		"wireguard_wg0 @wireguard_wg0[0]\n  list allowed_ips [\"10.0.0.2/32\"]\n" +
		"interface wan\n  option proto [\"dhcp\"]\n"
	if got := dump(p); got != wantDump {
		t.Errorf("got\n%s\nwant\n%s", got, wantDump)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "f", Line: 3, Section: "lan", Option: "a", Msg: "m"}, "f:3: section lan, option a: m"},
		{Error{File: "f", Line: 3, Msg: "m"}, "f:3: m"},
		{Error{File: "f", Msg: "file not found"}, "f: file not found"},
		{Error{File: "f", Line: 2, Option: "a", Msg: "m", Warning: true}, "f:2: option a: warning: m"},
		{Error{Line: 2, Section: "@rule[0]", Msg: "m"}, "line 2: section @rule[0]: m"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestAnonymousName(t *testing.T) {
	// names seen on real routers: the first firewall section, and the br-lan
	// device after two named sections in /etc/config/network
	for _, tc := range []struct {
		n    int
		typ  string
		want string
	}{{1, "defaults", "cfg01e63d"}, {3, "device", "cfg030f15"}, {2, "zone", "cfg02dc81"}, {300, "a", "cfg12cb606"}} {
		if got := anonymousName(tc.n, tc.typ); got != tc.want {
			t.Errorf("anonymousName(%d, %q) = %q, want %q", tc.n, tc.typ, got, tc.want)
		}
	}
}

func TestManySections(t *testing.T) {
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, "config host 'h%d'\n\toption ip '10.0.%d.%d'\n", i, i/256, i%256)
		fmt.Fprintf(&b, "config rule\n\toption n %d\n", i)
	}
	p, errs := Parse("many", []byte(b.String()))
	checkErrors(t, errs, nil)
	rules := p.SectionsOfType("rule")
	if len(p.Sections) != 4000 || len(rules) != 2000 || rules[1999].Ref() != "@rule[1999]" {
		t.Fatalf("got %d sections, %d rules", len(p.Sections), len(rules))
	}
	if v := rules[1234].Get("n").Values[0]; v != strconv.Itoa(1234) {
		t.Errorf("rule 1234: n=%q", v)
	}
}
