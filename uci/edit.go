package uci

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Doc is the text of one UCI file with its parse, for changing the file in
// place. An edit rewrites only the bytes of the section or command it
// changes: comments, blank lines, order, quoting and every other section
// stay as the user left them. Each edit parses the new text again and
// compares it with the intended change, so an edit that libuci would read
// differently (its quirks are many) is refused instead of written.
//
// Sections handed to an edit must come from the Doc's current Package; an
// edit replaces the Package, so look sections up again after each one.
type Doc struct {
	file     string
	data     []byte
	pkg      *Package
	warnings int
}

// maxErrorsShown bounds the parse errors quoted when a file is refused.
const maxErrorsShown = 5

// NewDoc parses data, the contents of file. A file with errors (not
// warnings) is refused: libuci rejects it as a whole, so an edit could
// not be checked against what the router really reads.
func NewDoc(file string, data []byte) (*Doc, error) {
	pkg, errs := Parse(file, data)
	var bad []string
	warnings := 0
	for _, e := range errs {
		if e.Warning {
			warnings++
			continue
		}
		if len(bad) < maxErrorsShown {
			bad = append(bad, e.Error())
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s has errors; fix them before it can be edited:\n  %s", file, strings.Join(bad, "\n  "))
	}
	return &Doc{file: file, data: data, pkg: pkg, warnings: warnings}, nil
}

// Bytes is the current text.
func (d *Doc) Bytes() []byte { return d.data }

// Package is the parse of the current text.
func (d *Doc) Package() *Package { return d.pkg }

// errEditByHand ends an edit whose result would not read back as intended.
var errEditByHand = errors.New("edit the file by hand")

// AddSection adds a section of type typ, named name ("" for an anonymous
// one), with opts, in `uci export` form: values in single quotes, where
// a literal quote is written as quote, backslash, quote, quote. It goes
// right after the section after (nil: at the end of the file), separated
// by a blank line.
func (d *Doc) AddSection(typ, name string, opts []*Option, after *Section) error {
	s := &Section{Type: typ, Name: name, Options: opts}
	if err := checkExport(&Package{Sections: []*Section{s}}); err != nil {
		return err
	}
	if name != "" {
		for _, o := range d.pkg.Sections {
			if o.Name == name {
				return fmt.Errorf("uci: section name %q is already used (type %s, line %d)", name, o.Type, o.Line)
			}
		}
	}
	nl := d.newline()
	var text bytes.Buffer
	text.WriteString("config " + typeWord(typ))
	if name != "" {
		text.WriteString(" " + quote(name))
	}
	text.WriteString(nl)
	for _, o := range opts {
		kw := "option"
		if o.List {
			kw = "list"
		}
		for _, v := range o.Values {
			text.WriteString("\t" + kw + " " + o.Name + " " + quote(v) + nl)
		}
	}

	at := -1 // index in Sections of the new section
	pos := len(d.data)
	var prefix string
	if after != nil {
		i, err := d.index(after)
		if err != nil {
			return err
		}
		if _, to, whole, err := d.sectionSpan(after); err == nil && whole {
			at, pos, prefix = i+1, to, nl
			if to == len(d.data) && !endsWithNewline(d.data) {
				prefix = nl + nl
			}
		}
	}
	if at < 0 { // at the end
		at = len(d.pkg.Sections)
		switch {
		case len(d.data) == 0:
		case !endsWithNewline(d.data):
			prefix = nl + nl
		case !isBlankLine(d.data[bytes.LastIndexByte(d.data[:len(d.data)-1], '\n')+1 : len(d.data)-1]):
			prefix = nl
		}
	}
	data := splice(d.data, pos, pos, prefix+text.String())
	return d.replace(data, func(old, new *Package) error {
		want := append(append(append([]*Section(nil), old.Sections[:at]...), s), old.Sections[at:]...)
		return sameSections(want, new.Sections)
	})
}

// DeleteSection removes section s: from its `config` line to the end of
// its last command's line (with a comment there), and one blank line that
// separated it from the next section.
func (d *Doc) DeleteSection(s *Section) error {
	i, err := d.index(s)
	if err != nil {
		return err
	}
	from, to, whole, err := d.sectionSpan(s)
	if err != nil {
		return err
	}
	if whole {
		from, to = d.blankSeparator(from, to)
	}
	data := splice(d.data, from, to, "")
	return d.replace(data, func(old, new *Package) error {
		want := append(append([]*Section(nil), old.Sections[:i]...), old.Sections[i+1:]...)
		return sameSections(want, new.Sections)
	})
}

// SetOption gives option name of section s the single value value. An
// existing option keeps its place: only the command that set it last is
// rewritten. A new one goes on a line of its own after the section's last
// line, indented like the section's options.
func (d *Doc) SetOption(s *Section, name, value string) (err error) {
	i, err := d.index(s)
	if err != nil {
		return err
	}
	defer d.restoreOnError(&err)()
	o := &Option{Name: name, Values: []string{value}}
	if err := checkOptions(&Section{Options: []*Option{o}}); err != nil {
		return fmt.Errorf("uci: %w", err)
	}
	if old := s.Get(name); old != nil && old.List {
		// A list is set by many commands; drop them all first.
		if err := d.DeleteOption(s, name); err != nil {
			return err
		}
		s = d.pkg.Sections[i]
	}
	cmd := "option " + name + " " + quote(value)
	var data []byte
	if old := s.Get(name); old != nil {
		data = splice(d.data, old.Start, old.End, cmd)
	} else {
		_, to, whole, err := d.sectionSpan(s)
		if err != nil {
			return err
		}
		if !whole {
			return fmt.Errorf("uci: section %s ends in the middle of a line; %w", s.Ref(), errEditByHand)
		}
		nl := d.newline()
		text := d.indent(s) + cmd + nl
		if to == len(d.data) && !endsWithNewline(d.data) {
			text = nl + text
		}
		data = splice(d.data, to, to, text)
	}
	return d.replace(data, func(old, new *Package) error {
		want := *old.Sections[i]
		want.Options = nil
		found := false
		for _, opt := range old.Sections[i].Options {
			if opt.Name == name {
				opt, found = o, true
			}
			want.Options = append(want.Options, opt)
		}
		if !found {
			want.Options = append(want.Options, o)
		}
		return sameSectionsExcept(old.Sections, new.Sections, i, &want)
	})
}

// DeleteOption removes option or list name from section s: every command
// that gave it a value, each with its own line when it has one to itself.
// A missing option is not an error.
func (d *Doc) DeleteOption(s *Section, name string) (err error) {
	i, err := d.index(s)
	if err != nil {
		return err
	}
	defer d.restoreOnError(&err)()
	// Each round removes the command that set the value last; an earlier
	// one (`option x 1` ... `option x 2`, or a list) then shows through.
	for round := 0; s.Get(name) != nil; round++ {
		if round > len(d.data) {
			return fmt.Errorf("uci: option %s of section %s does not go away; %w", name, s.Ref(), errEditByHand)
		}
		o := s.Get(name)
		from, to := d.commandSpan(o.Start, o.End)
		data := splice(d.data, from, to, "")
		err := d.replace(data, func(old, new *Package) error {
			want := *old.Sections[i]
			want.Options = nil
			for _, opt := range old.Sections[i].Options {
				if opt.Name != name {
					want.Options = append(want.Options, opt)
				}
			}
			got := *new.Sections[i]
			got.Options = nil
			for _, opt := range new.Sections[i].Options {
				if opt.Name != name {
					got.Options = append(got.Options, opt)
				}
			}
			return sameSectionsExcept(old.Sections, append(append(append([]*Section(nil), new.Sections[:i]...), &got), new.Sections[i+1:]...), i, &want)
		})
		if err != nil {
			return err
		}
		s = d.pkg.Sections[i]
	}
	return nil
}

// restoreOnError makes an edit of several steps all or nothing: the
// returned function puts the Doc back as it is now when *err is set.
func (d *Doc) restoreOnError(err *error) func() {
	data, pkg, warnings := d.data, d.pkg, d.warnings
	return func() {
		if *err != nil {
			d.data, d.pkg, d.warnings = data, pkg, warnings
		}
	}
}

// replace makes data the current text if it parses without new errors or
// warnings and check accepts the change from the old parse to the new.
func (d *Doc) replace(data []byte, check func(old, new *Package) error) error {
	pkg, errs := Parse(d.file, data)
	warnings := 0
	for _, e := range errs {
		if !e.Warning {
			return fmt.Errorf("uci: the edited %s would not read back (%v); %w", d.file, e, errEditByHand)
		}
		warnings++
	}
	if warnings > d.warnings {
		return fmt.Errorf("uci: the edited %s would read back with a new warning; %w", d.file, errEditByHand)
	}
	pkg.Name = d.pkg.Name
	if err := check(d.pkg, pkg); err != nil {
		return fmt.Errorf("uci: the edited %s would read back differently (%v); %w", d.file, err, errEditByHand)
	}
	d.data, d.pkg, d.warnings = data, pkg, warnings
	return nil
}

func (d *Doc) index(s *Section) (int, error) {
	for i, o := range d.pkg.Sections {
		if o == s {
			return i, nil
		}
	}
	return 0, errors.New("uci: section is not part of this document (look it up again after each edit)")
}

// sectionSpan is the text of s: from its `config` keyword to the end of
// its last command, widened to whole lines when s has its lines to itself.
// A section written in several places (a named section reopened later)
// has no single span.
func (d *Doc) sectionSpan(s *Section) (from, to int, whole bool, err error) {
	for _, o := range d.pkg.Sections {
		if o != s && o.Start >= s.Start && o.Start < s.End {
			return 0, 0, false, fmt.Errorf("uci: section %s is written in more than one place (line %d and later); %w", s.Ref(), s.Line, errEditByHand)
		}
	}
	from, to, whole = d.lines(s.Start, s.End)
	return from, to, whole, nil
}

// lines widens start..end to whole lines when only blanks precede start
// on its line and only blanks or a comment follow end on its line.
func (d *Doc) lines(start, end int) (from, to int, whole bool) {
	from = start
	for from > 0 && isLineBlank(d.data[from-1]) {
		from--
	}
	if from > 0 && d.data[from-1] != '\n' {
		return start, end, false
	}
	to = end
	for to < len(d.data) && isLineBlank(d.data[to]) {
		to++
	}
	if to < len(d.data) && d.data[to] == '#' {
		to = lineEnd(d.data, to)
	}
	switch {
	case to == len(d.data):
	case d.data[to] == '\n':
		to++
	default:
		return start, end, false
	}
	return from, to, true
}

// commandSpan is what removing the command start..end takes out: its
// line when it has one to itself, else the command and the ';' that joins
// it to its neighbour.
func (d *Doc) commandSpan(start, end int) (from, to int) {
	if from, to, whole := d.lines(start, end); whole {
		return from, to
	}
	after := end
	for after < len(d.data) && isLineBlank(d.data[after]) {
		after++
	}
	if after < len(d.data) && d.data[after] == ';' {
		after++
		for after < len(d.data) && isLineBlank(d.data[after]) {
			after++
		}
		return start, after
	}
	before := start
	for before > 0 && isLineBlank(d.data[before-1]) {
		before--
	}
	if before > 0 && d.data[before-1] == ';' {
		before--
		for before > 0 && isLineBlank(d.data[before-1]) {
			before--
		}
		return before, end
	}
	return start, end
}

// blankSeparator widens a removed span of whole lines by one blank line
// when a blank line (or the start of the file) precedes it: the blank line
// after it, or at the end of the file the one before it, so that removing
// a section leaves the spacing around it as it was.
func (d *Doc) blankSeparator(from, to int) (int, int) {
	prev := from // start of the line before the span
	if from > 0 {
		prev = bytes.LastIndexByte(d.data[:from-1], '\n') + 1
		if !isBlankLine(d.data[prev : from-1]) {
			return from, to
		}
	}
	if to < len(d.data) {
		if e := lineEnd(d.data, to); e < len(d.data) && isBlankLine(d.data[to:e]) {
			return from, e + 1
		}
		return from, to
	}
	return prev, to
}

// indent is the indentation of the section's last option line, or a tab.
func (d *Doc) indent(s *Section) string {
	last := -1
	for _, o := range s.Options {
		last = max(last, o.Start)
	}
	if last < 0 {
		return "\t"
	}
	from := last
	for from > 0 && isLineBlank(d.data[from-1]) {
		from--
	}
	if from == 0 || d.data[from-1] == '\n' {
		return string(d.data[from:last])
	}
	return "\t"
}

// newline is the file's line ending: "\r\n" when its first line ends so.
func (d *Doc) newline() string {
	if i := bytes.IndexByte(d.data, '\n'); i > 0 && d.data[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

func splice(data []byte, from, to int, text string) []byte {
	out := make([]byte, 0, len(data)-(to-from)+len(text))
	out = append(out, data[:from]...)
	out = append(out, text...)
	return append(out, data[to:]...)
}

// lineEnd is the offset of the '\n' ending the line at i, or len(data).
func lineEnd(data []byte, i int) int {
	if j := bytes.IndexByte(data[i:], '\n'); j >= 0 {
		return i + j
	}
	return len(data)
}

func endsWithNewline(data []byte) bool {
	return len(data) > 0 && data[len(data)-1] == '\n'
}

// isLineBlank is white space that does not end a line.
func isLineBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

func isBlankLine(line []byte) bool {
	for _, c := range line {
		if !isLineBlank(c) {
			return false
		}
	}
	return true
}

// sameSections compares what sections say: type, name, options in order.
func sameSections(want, got []*Section) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d sections, want %d", len(got), len(want))
	}
	for i := range want {
		if err := sameSection(want[i], got[i]); err != nil {
			return err
		}
	}
	return nil
}

// sameSectionsExcept compares old and new, where section i must match want.
func sameSectionsExcept(old, new []*Section, i int, want *Section) error {
	w := append([]*Section(nil), old...)
	w[i] = want
	return sameSections(w, new)
}

func sameSection(a, b *Section) error {
	if a.Type != b.Type || a.Name != b.Name {
		return fmt.Errorf("section %s %q where %s %q was expected", b.Type, b.Name, a.Type, a.Name)
	}
	if len(a.Options) != len(b.Options) {
		return fmt.Errorf("section %s: %d options, want %d", b.Ref(), len(b.Options), len(a.Options))
	}
	for j, o := range a.Options {
		u := b.Options[j]
		if o.Name != u.Name || o.List != u.List || len(o.Values) != len(u.Values) {
			return fmt.Errorf("section %s: option %s differs", b.Ref(), o.Name)
		}
		for k := range o.Values {
			if o.Values[k] != u.Values[k] {
				return fmt.Errorf("section %s: option %s differs", b.Ref(), o.Name)
			}
		}
	}
	return nil
}
