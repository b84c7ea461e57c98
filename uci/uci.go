// Package uci reads and writes OpenWrt UCI configuration files
// (/etc/config/<package>) the way libuci, the library behind the `uci`
// command, reads them.
//
// The grammar is libuci's, including its quirks:
//
//   - Commands are `package`, `config`, `option`, `list` or their one-letter
//     forms `p c o l`; the keyword ends at a space or tab only.
//   - `#` outside quotes ends the line, even inside a bare word.
//   - `;` separates commands. A bare word written directly against `;`
//     makes libuci drop the rest of the line; Parse does the same and warns.
//   - Single quotes take everything literally. In double quotes and bare
//     words a backslash makes the next character literal, and a backslash
//     at the end of a line joins the next line. Adjacent pieces join.
//   - An anonymous section gets an internal name cfgNNHHHH; a later `config`
//     naming it reopens it, as in libuci.
//
// libuci rejects a whole file on its first error. Parse instead reports every
// problem and keeps every well-formed command: a bad command is skipped up to
// its end (the next `;` or the end of its line), and after a rejected
// `config` line the options that follow are dropped until the next good one.
// A NUL byte makes libuci's reading depend on its buffer sizes, so Parse
// ignores the file from the line holding the first NUL byte on.
package uci

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Package is one parsed UCI file (/etc/config/<name>).
type Package struct {
	Name     string
	File     string     // path it came from, for messages
	Sections []*Section // in file order; a repeated named section is merged into its first occurrence
}

// Section is one `config` section.
type Section struct {
	Type       string
	Name       string    // "" for an anonymous section
	Index      int       // position among sections of the same Type (for @type[N])
	Line       int       // line of the `config` keyword (1-based)
	Start, End int       // byte offsets: start of the `config` keyword .. end of its last command
	Options    []*Option // in order of first appearance
}

// Option is one option or list of a section.
type Option struct {
	Name       string
	Values     []string // one value for an option, the items for a list
	List       bool
	Line       int // line of the last command that set it
	Start, End int // byte offsets of that command
}

// Ref names the section the way `uci show` does: its name, or @type[N]
// for an anonymous section.
func (s *Section) Ref() string {
	if s.Name != "" {
		return s.Name
	}
	return "@" + s.Type + "[" + strconv.Itoa(s.Index) + "]"
}

// Get returns the option called name, or nil.
func (s *Section) Get(name string) *Option {
	for _, o := range s.Options {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// SectionsOfType returns the sections of type t in file order.
func (p *Package) SectionsOfType(t string) []*Section {
	var out []*Section
	for _, s := range p.Sections {
		if s.Type == t {
			out = append(out, s)
		}
	}
	return out
}

// Error is a problem at a position. Warning is set for things libuci
// accepts silently but a user must hear about.
type Error struct {
	File    string
	Line    int
	Section string // Ref() of the section being parsed, "" if none
	Option  string
	Msg     string
	Warning bool
}

// Error formats e as "FILE:LINE: section X, option Y: MSG", leaving out
// the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if e.File != "" {
			b.WriteByte(':')
		} else {
			b.WriteString("line ")
		}
		b.WriteString(strconv.Itoa(e.Line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Section != "" {
		b.WriteString("section " + e.Section)
		if e.Option != "" {
			b.WriteString(", ")
		}
	}
	if e.Option != "" {
		b.WriteString("option " + e.Option)
	}
	if e.Section != "" || e.Option != "" {
		b.WriteString(": ")
	}
	if e.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads dir/name and parses it. When the file cannot be read the
// package is nil and the single error has Line 0.
func Load(dir, name string) (*Package, []*Error) {
	path := filepath.Join(dir, name)
	fail := func(msg string) (*Package, []*Error) {
		return nil, []*Error{{File: path, Msg: msg}}
	}
	// libuci only loads packages with valid names; this also keeps name inside dir.
	if !validPackageName(name) {
		return fail(fmt.Sprintf("invalid package name %q", name))
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fail("file not found")
	}
	if err != nil {
		return fail(pathErrorText(err))
	}
	if !fi.Mode().IsRegular() {
		return fail("not a regular file")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fail(pathErrorText(err))
	}
	pkg, errs := Parse(path, data)
	pkg.Name = name
	return pkg, errs
}

// pathErrorText drops the path that os errors repeat.
func pathErrorText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// validName is libuci's rule for section and option names.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

// validPackageName also allows '-', as libuci does for package names.
func validPackageName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameChar(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

// validType accepts any printable ASCII except space, as libuci does.
func validType(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}
