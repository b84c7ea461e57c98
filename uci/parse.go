package uci

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Parse parses data, the contents of file. It never panics and never gives
// up on the whole file: it reports every problem and keeps every
// well-formed command, while never inventing a value libuci would not
// produce. Package.Name is the base name of file.
func Parse(file string, data []byte) (*Package, []*Error) {
	p := &parser{
		file:    file,
		data:    data,
		pkg:     &Package{File: file},
		named:   map[string]*Section{},
		options: map[*Section]map[string]*Option{},
		ofType:  map[string]int{},
	}
	if file != "" {
		p.pkg.Name = filepath.Base(file)
	}
	for i, c := range data {
		if c == '\n' {
			p.newlines = append(p.newlines, i)
		}
	}
	p.run()
	return p.pkg, p.errs
}

// parser follows libuci's reader: it works on a line buffer, and a quote or
// a trailing backslash pulls the next physical line into that buffer. Here
// the buffer is the part of data up to lineEnd that is not yet read, and
// limit is where libuci would see the buffer end: it moves back to a '#' or
// ';' that libuci overwrites with its string terminator. The text a
// backslash-newline removes is simply skipped.
type parser struct {
	file     string
	data     []byte
	newlines []int // offsets of '\n', for line numbers

	pos     int
	limit   int
	lineEnd int

	sep     bool // the last argument read was a lone ';'
	wordEnd int  // end of the raw text of the last word read
	cmdEnd  int  // end of the raw text of the current command
	lexErr  bool // an unterminated quote ran to the end of the file

	pkg        *Package
	errs       []*Error
	sec        *Section // receives options; nil before the first config and after a rejected one
	seenConfig bool
	secLabel   string // section named in messages
	optLabel   string // option named in messages
	named      map[string]*Section
	options    map[*Section]map[string]*Option
	ofType     map[string]int
	created    int // sections created, as libuci counts them for anonymous names
}

// cmd is the keyword of the command being parsed.
type cmd struct {
	kind  string // "package", "config", "option" or "list"
	start int
	line  int
}

// arg is one argument as libuci's next_arg returns it.
type arg struct {
	val  string
	line int
}

func (p *parser) run() {
	nul := bytes.IndexByte(p.data, 0)
	if nul >= 0 {
		p.data = p.data[:bytes.LastIndexByte(p.data[:nul], '\n')+1]
	}
	for start := 0; start < len(p.data) && !p.lexErr; start = p.lineEnd {
		p.pos = start
		p.lineEnd = p.endOfLine(start)
		p.limit = p.lineEnd
		p.line()
	}
	if nul >= 0 {
		p.secLabel, p.optLabel = "", ""
		p.fail(p.lineOf(nul), "NUL byte: how libuci reads it depends on its buffer sizes; "+
			"the rest of the file from this line on is ignored")
	}
}

func (p *parser) endOfLine(from int) int {
	if i := bytes.IndexByte(p.data[from:], '\n'); i >= 0 {
		return from + i + 1
	}
	return len(p.data)
}

// readLine appends the next physical line to the buffer, as libuci's
// uci_getln does.
func (p *parser) readLine() bool {
	if p.lineEnd >= len(p.data) {
		return false
	}
	p.lineEnd = p.endOfLine(p.lineEnd)
	p.limit = p.lineEnd
	return true
}

func (p *parser) lineOf(off int) int {
	return sort.SearchInts(p.newlines, off) + 1
}

// line parses the commands in the buffer. Like libuci it finds each keyword
// by splitting on spaces and tabs only.
func (p *parser) line() {
	p.skipSpace()
	p.sep = false
	for !p.lexErr {
		afterSep := p.sep
		for p.pos < p.limit && isBlank(p.data[p.pos]) {
			p.pos++
		}
		if p.pos >= p.limit {
			return
		}
		start := p.pos
		for p.pos < p.limit && !isBlank(p.data[p.pos]) {
			p.pos++
		}
		word := string(p.data[start:p.pos])
		if word[0] == '#' {
			return
		}
		more := p.pos < p.limit
		if more {
			p.pos++
		}
		p.command(word, start, more, afterSep)
	}
}

func (p *parser) command(word string, start int, more, afterSep bool) {
	c := &cmd{start: start, line: p.lineOf(start)}
	p.cmdEnd = start + len(word)
	p.sep = false
	p.optLabel = ""
	var ok bool
	switch word {
	case "p", "package":
		c.kind = "package"
		ok = p.packageCmd(c, more)
	case "c", "config":
		c.kind = "config"
		ok = p.configCmd(c, more)
	case "o", "option":
		c.kind = "option"
		ok = p.optionCmd(c, more, false)
	case "l", "list":
		c.kind = "list"
		ok = p.optionCmd(c, more, true)
	default:
		// libuci's keyword split does not skip a line break, so one left
		// over after a command reads as a command.
		lineBreak := strings.Trim(word, "\r\n") == ""
		switch {
		case lineBreak && afterSep:
			p.fail(c.line, "invalid command: libuci rejects a line ending in ';'")
		case lineBreak:
			p.fail(c.line, "invalid command: libuci rejects a line ending in an empty quoted argument and whitespace")
		default:
			p.fail(c.line, fmt.Sprintf("invalid command %q", word))
		}
	}
	if !ok {
		p.skipRest()
	}
	if p.sec != nil && !p.lexErr {
		p.sec.End = p.cmdEnd
	}
}

// skipRest reads the arguments of a rejected command up to its end, so
// that quotes in it do not leak into what follows.
func (p *parser) skipRest() {
	for !p.sep && !p.lexErr && p.pos < p.limit {
		p.nextArg()
	}
}

// packageCmd checks `package NAME`: inside a file the name is ignored, but
// libuci still validates it.
func (p *parser) packageCmd(c *cmd, more bool) bool {
	if !more {
		return p.fail(c.line, "package without a name")
	}
	name, ok := p.nextArg()
	switch {
	case !ok:
		return false
	case name.val == "":
		return p.fail(c.line, "missing package name")
	case !validPackageName(name.val):
		return p.fail(name.line, fmt.Sprintf("invalid character in name field %q", name.val))
	}
	return p.endOfCommand()
}

func (p *parser) configCmd(c *cmd, more bool) bool {
	p.seenConfig = true
	p.sec, p.secLabel = nil, ""
	if !more {
		return p.fail(c.line, "config without a section type")
	}
	typ, ok := p.nextArg()
	switch {
	case !ok:
		return false
	case typ.val == "":
		return p.fail(c.line, "missing section type")
	case !validType(typ.val):
		return p.fail(typ.line, fmt.Sprintf("invalid character in type field %q", typ.val))
	}
	name, ok := p.nextArg()
	if !ok {
		return false
	}
	p.secLabel = name.val
	if name.val != "" && !validName(name.val) {
		return p.fail(name.line, "invalid character in name field")
	}
	if !p.endOfCommand() {
		return false
	}
	return p.openSection(c, typ.val, name.val)
}

func (p *parser) openSection(c *cmd, typ, name string) bool {
	if s := p.named[name]; name != "" && s != nil {
		if s.Type != typ {
			return p.fail(c.line, fmt.Sprintf("section %q already declared with type %q on line %d", name, s.Type, s.Line))
		}
		p.sec, p.secLabel = s, s.Ref()
		return true
	}
	s := &Section{Type: typ, Name: name, Index: p.ofType[typ], Line: c.line, Start: c.start, End: p.cmdEnd}
	p.ofType[typ]++
	p.created++
	key := name
	if name == "" {
		key = anonymousName(p.created, typ)
	}
	if p.named[key] == nil {
		p.named[key] = s
	}
	p.pkg.Sections = append(p.pkg.Sections, s)
	p.sec, p.secLabel = s, s.Ref()
	return true
}

// anonymousName is the internal name libuci gives the n-th section created
// in a package when it is anonymous: a counter and a djb hash of the type.
func anonymousName(n int, typ string) string {
	h := uint32(5381)
	for i := 0; i < len(typ); i++ {
		h = h*33 + uint32(typ[i])
	}
	return fmt.Sprintf("cfg%02x%04x", n, (h&0x7fffffff)%(1<<16))
}

func (p *parser) optionCmd(c *cmd, more, list bool) bool {
	if p.sec == nil && !p.seenConfig {
		return p.fail(c.line, c.kind+" before the first section")
	}
	if !more {
		return p.fail(c.line, c.kind+" without a name")
	}
	name, ok := p.nextArg()
	if !ok {
		return false
	}
	p.optLabel = name.val
	switch {
	case name.val == "":
		return p.fail(c.line, "missing option name")
	case !validName(name.val):
		return p.fail(name.line, "invalid character in name field")
	}
	value, ok := p.nextArg()
	if !ok || !p.endOfCommand() {
		return false
	}
	if p.sec != nil { // else it follows a rejected config line, which was reported
		p.setOption(c, name.val, value.val, list)
	}
	return true
}

// setOption applies an option or list command as libuci does: an empty
// option value neither creates nor deletes, a list item may be empty, a
// list onto an option keeps the option's value as its first item, and an
// option replaces a list. The option keeps its place in the section.
func (p *parser) setOption(c *cmd, name, value string, list bool) {
	if !list && value == "" {
		return
	}
	opts := p.options[p.sec]
	if opts == nil {
		opts = map[string]*Option{}
		p.options[p.sec] = opts
	}
	o := opts[name]
	if o == nil {
		o = &Option{Name: name}
		opts[name] = o
		p.sec.Options = append(p.sec.Options, o)
	}
	if list {
		o.Values = append(o.Values, value)
	} else {
		o.Values = []string{value}
	}
	o.List = list
	o.Line, o.Start, o.End = c.line, c.start, p.cmdEnd
}

// endOfCommand reads one more argument, as libuci's assert_eol does, and
// rejects it unless it is empty.
func (p *parser) endOfCommand() bool {
	extra, ok := p.nextArg()
	if !ok {
		return false
	}
	if extra.val != "" {
		return p.fail(extra.line, fmt.Sprintf("too many arguments (%q)", extra.val))
	}
	return true
}

// nextArg reads one argument. A lone ';' is an empty argument that ends
// the command.
func (p *parser) nextArg() (arg, bool) {
	p.skipSpace()
	p.sep = false
	a := arg{line: p.lineOf(p.pos)}
	if p.pos < p.limit && p.data[p.pos] == ';' {
		p.pos++
		p.sep = true
		return a, true
	}
	start := p.pos
	val, ok := p.word()
	if !ok {
		return a, false
	}
	if p.wordEnd > start {
		p.cmdEnd = p.wordEnd
	}
	a.val = val
	return a, true
}

// word reads quoted and bare pieces up to whitespace, '#', ';' or the end
// of the buffer.
func (p *parser) word() (string, bool) {
	var b []byte
	plain := true // no quote or backslash removed yet
	semi := false
loop:
	for p.pos < p.limit {
		switch c := p.data[p.pos]; c {
		case '\'', '"':
			plain = false
			if !p.quoted(&b, c) {
				return "", false
			}
		case '#':
			p.limit = p.pos
			break loop
		case ';':
			semi = true
			break loop
		case '\\':
			plain = false
			if p.backslash() {
				b = append(b, p.data[p.pos])
				p.pos++
			}
		default:
			b = append(b, c)
			p.pos++
		}
		if p.pos >= p.limit || isSpace(p.data[p.pos]) {
			break
		}
	}
	p.wordEnd = p.pos
	switch {
	case semi && plain:
		p.semicolonQuirk()
	case !semi && p.pos < p.limit:
		p.pos++ // the whitespace that ended the word
	}
	return string(b), true
}

// semicolonQuirk mirrors libuci writing its string terminator over a ';'
// that directly follows a bare word: the rest of the line is lost.
func (p *parser) semicolonQuirk() {
	rest := bytes.TrimLeft(p.data[p.pos+1:p.lineEnd], " \t\r\n\v\f")
	if len(rest) > 0 && rest[0] != '#' {
		p.warn(p.lineOf(p.pos), "text after ';' ignored: libuci drops the rest of the line "+
			"when ';' directly follows an unquoted word (put a space before ';' or quote the word)")
	}
	p.limit = p.pos
}

// quoted reads a quoted piece starting at the quote character q. Only
// double quotes honour backslashes.
func (p *parser) quoted(b *[]byte, q byte) bool {
	open := p.pos
	p.pos++
	for {
		if p.pos >= p.limit {
			if !p.readLine() {
				p.unterminated(q, open)
				return false
			}
			continue
		}
		c := p.data[p.pos]
		if c == q {
			p.pos++
			return true
		}
		if c == '\\' && q == '"' && !p.backslash() {
			continue
		}
		*b = append(*b, p.data[p.pos])
		p.pos++
	}
}

// backslash steps over a backslash. At the end of a line it joins the next
// line and returns false; otherwise the next character is literal.
func (p *parser) backslash() bool {
	p.pos++
	if p.pos >= p.limit || p.data[p.pos] == '\n' ||
		p.data[p.pos] == '\r' && p.pos+1 < p.limit && p.data[p.pos+1] == '\n' {
		p.pos = p.lineEnd
		p.readLine()
		return false
	}
	return true
}

func (p *parser) unterminated(q byte, open int) {
	p.lexErr = true
	p.pos, p.limit = len(p.data), len(p.data)
	p.fail(p.lineOf(len(p.data)-1), fmt.Sprintf("unterminated %c quote (opened on line %d)", q, p.lineOf(open)))
}

func (p *parser) skipSpace() {
	for p.pos < p.limit && isSpace(p.data[p.pos]) {
		p.pos++
	}
}

func (p *parser) fail(line int, msg string) bool {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Section: p.secLabel, Option: p.optLabel, Msg: msg})
	return false
}

func (p *parser) warn(line int, msg string) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Section: p.secLabel, Option: p.optLabel, Msg: msg, Warning: true})
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// isBlank separates keywords, as libuci's strtok(" \t") does.
func isBlank(c byte) bool {
	return c == ' ' || c == '\t'
}
