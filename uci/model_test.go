package uci

import (
	"bytes"
	"errors"
	"testing"
)

// model is a second reading of libuci's parser, kept deliberately close to
// its mechanics: a 0-terminated line buffer that is compacted in place
// (so terminators land on '#' and ';'), a keyword split on spaces and tabs,
// and strict mode, where the first error rejects the file. Parse is
// checked against it.
type model struct {
	in      []byte // unread input
	buf     []byte // line buffer; a 0 byte ends its text
	filled  int
	pos     int
	pkg     *Package
	sec     *Section
	byName  map[string]*Section
	ofType  map[string]int
	created int
}

var errModel = errors.New("rejected")

// libuciModel reads data as strict libuci would. It reports false where
// libuci rejects the file. data must hold no NUL byte.
func libuciModel(name string, data []byte) (pkg *Package, ok bool) {
	m := &model{in: data, buf: []byte{0}, pkg: &Package{Name: name}, byName: map[string]*Section{}, ofType: map[string]int{}}
	defer func() {
		if r := recover(); r != nil {
			if r != errModel {
				panic(r)
			}
			pkg, ok = nil, false
		}
	}()
	for len(m.in) > 0 {
		m.pos = 0
		m.getln(0)
		if m.buf[0] != 0 {
			m.line()
		}
	}
	return m.pkg, true
}

func (m *model) fail() { panic(errModel) }

// getln puts the next input line into the buffer at offset.
func (m *model) getln(offset int) {
	m.buf = append(m.buf[:offset], 0)
	if len(m.in) == 0 {
		return
	}
	n := len(m.in)
	if i := bytes.IndexByte(m.in, '\n'); i >= 0 {
		n = i + 1
	}
	m.buf = append(append(m.buf[:offset], m.in[:n]...), 0)
	m.in = m.in[n:]
	m.filled = offset + n
}

func (m *model) cstr(at int) string {
	return string(m.buf[at : at+bytes.IndexByte(m.buf[at:], 0)])
}

func (m *model) skipSpace() {
	for m.buf[m.pos] != 0 && isSpace(m.buf[m.pos]) {
		m.pos++
	}
}

func (m *model) line() {
	m.skipSpace()
	for {
		i := m.pos
		for m.buf[i] == ' ' || m.buf[i] == '\t' {
			i++
		}
		if m.buf[i] == 0 {
			return
		}
		j := i
		for m.buf[j] != 0 && m.buf[j] != ' ' && m.buf[j] != '\t' {
			j++
		}
		m.buf[j] = 0
		switch word := string(m.buf[i:j]); word {
		case "p", "package":
			m.skipKeyword()
			name := m.arg(true)
			if !validPackageName(name) {
				m.fail()
			}
			m.eol()
		case "c", "config":
			m.config()
		case "o", "option":
			m.option(false)
		case "l", "list":
			m.option(true)
		default:
			if word[0] == '#' {
				return
			}
			m.fail()
		}
	}
}

// skipKeyword steps over the keyword and the terminator the split wrote;
// a keyword that ends the buffer has no argument.
func (m *model) skipKeyword() {
	n := len(m.cstr(m.pos)) + 1
	if m.pos+n > m.filled {
		m.fail()
	}
	m.pos += n
}

func (m *model) config() {
	m.skipKeyword()
	typ := m.arg(true)
	if !validType(typ) {
		m.fail()
	}
	name := m.arg(false)
	if name != "" && !validName(name) {
		m.fail()
	}
	m.eol()
	if s := m.byName[name]; name != "" && s != nil {
		if s.Type != typ {
			m.fail()
		}
		m.sec = s
		return
	}
	s := &Section{Type: typ, Name: name, Index: m.ofType[typ]}
	m.ofType[typ]++
	m.created++
	key := name
	if key == "" {
		key = anonymousName(m.created, typ)
	}
	if m.byName[key] == nil {
		m.byName[key] = s
	}
	m.pkg.Sections = append(m.pkg.Sections, s)
	m.sec = s
}

func (m *model) option(list bool) {
	if m.sec == nil {
		m.fail()
	}
	m.skipKeyword()
	name := m.arg(true)
	if !validName(name) {
		m.fail()
	}
	value := m.arg(false)
	m.eol()
	var o *Option
	for _, x := range m.sec.Options {
		if x.Name == name {
			o = x
		}
	}
	switch {
	case !list && value == "":
	case o == nil:
		m.sec.Options = append(m.sec.Options, &Option{Name: name, Values: []string{value}, List: list})
	case list:
		o.Values = append(o.Values, value)
		o.List = true
	default:
		o.Values = []string{value}
		o.List = false
	}
}

// eol reads one more argument; only an empty one is allowed.
func (m *model) eol() {
	m.skipSpace()
	if m.arg(false) != "" {
		m.fail()
	}
}

func (m *model) arg(required bool) string {
	m.skipSpace()
	start := m.pos
	if m.buf[m.pos] == ';' {
		m.buf[m.pos] = 0
		m.pos++
	} else {
		m.str()
	}
	s := m.cstr(start)
	if s == "" && required {
		m.fail()
	}
	return s
}

// str compacts one argument in place: the text is copied back to out,
// and the terminator goes where out stops.
func (m *model) str() {
	out := m.pos
	next := true
loop:
	for {
		switch m.buf[m.pos] {
		case '\'':
			m.single(&out)
		case '"':
			m.double(&out)
		case '#':
			m.buf[m.pos] = 0
			break loop
		case 0:
			break loop
		case ';':
			next = false
			break loop
		case '\\':
			if m.backslash() {
				m.copy(&out)
			}
		default:
			m.copy(&out)
		}
		if c := m.buf[m.pos]; c == 0 || isSpace(c) {
			break
		}
	}
	if m.buf[m.pos] != 0 && next {
		m.pos++
	}
	m.buf[out] = 0
}

func (m *model) copy(out *int) {
	m.buf[*out] = m.buf[m.pos]
	*out++
	m.pos++
}

func (m *model) single(out *int) {
	m.pos++
	for {
		switch m.buf[m.pos] {
		case '\'':
			m.pos++
			return
		case 0:
			m.getln(m.pos)
			if m.buf[m.pos] == 0 {
				m.fail()
			}
		default:
			m.copy(out)
		}
	}
}

func (m *model) double(out *int) {
	m.pos++
	for {
		switch m.buf[m.pos] {
		case '"':
			m.pos++
			return
		case 0:
			m.getln(m.pos)
			if m.buf[m.pos] == 0 {
				m.fail()
			}
		case '\\':
			if m.backslash() {
				m.copy(out)
			}
		default:
			m.copy(out)
		}
	}
}

func (m *model) backslash() bool {
	m.pos++
	c := m.buf[m.pos]
	if c == 0 || c == '\n' || c == '\r' && m.buf[m.pos+1] == '\n' && m.buf[m.pos+2] == 0 {
		m.getln(m.pos)
		return false
	}
	return true
}

// agreeWithModel checks Parse against the model: an error exactly where
// strict libuci rejects the file, and the same package where it does not.
func agreeWithModel(t *testing.T, data []byte) {
	t.Helper()
	if bytes.IndexByte(data, 0) >= 0 {
		return
	}
	p, errs := Parse("m", data)
	failed := false
	for _, e := range errs {
		failed = failed || !e.Warning
	}
	want, ok := libuciModel("m", data)
	switch {
	case ok && failed:
		t.Fatalf("%q: libuci accepts it, Parse reports %v", data, errs)
	case !ok && !failed:
		t.Fatalf("%q: libuci rejects it, Parse reports nothing:\n%s", data, dump(p))
	case ok && !samePackage(p, want):
		t.Fatalf("%q:\n got:\n%s\nlibuci:\n%s", data, dump(p), dump(want))
	}
}

func TestAgreesWithModel(t *testing.T) {
	for _, s := range fuzzSeeds {
		agreeWithModel(t, []byte(s))
	}
	for _, s := range []string{
		"config s a\noption x 1;\n", "config s a\noption x '1';\n", "config s a\noption x 1 ;\n",
		"config s a\noption x y ''\r\n", "config s a; option y 2\n", "config\t", "config \n",
		"config s a\noption x foo\\\n bar\n", "config s a\noption x 'a'\"b\"c;option y 2\n",
	} {
		agreeWithModel(t, []byte(s))
	}
}
