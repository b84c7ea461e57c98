package uci

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Export writes p in `uci export` style: a package line, then each section
// with its name and values in single quotes, where a literal quote is
// written as quote, backslash, quote, quote. Anonymous sections are written
// without a name. Export refuses, writing nothing, a package that would not
// read back the same: invalid names or types, duplicate names, an empty
// option value or a NUL byte.
//
// Unlike `uci export`, a section type holding a character that is special
// in a bare word (' " # ; \) is quoted, so that it reads back.
func Export(w io.Writer, p *Package) error {
	if p == nil {
		return fmt.Errorf("uci: export of a nil package")
	}
	if err := checkExport(p); err != nil {
		return err
	}
	var b bytes.Buffer
	if p.Name != "" {
		b.WriteString("package " + p.Name + "\n")
	}
	for _, s := range p.Sections {
		b.WriteString("\nconfig " + typeWord(s.Type))
		if s.Name != "" {
			b.WriteString(" " + quote(s.Name))
		}
		b.WriteString("\n")
		for _, o := range s.Options {
			kw := "option"
			if o.List {
				kw = "list"
			}
			for _, v := range o.Values {
				b.WriteString("\t" + kw + " " + o.Name + " " + quote(v) + "\n")
			}
		}
	}
	b.WriteString("\n")
	_, err := w.Write(b.Bytes())
	return err
}

func checkExport(p *Package) error {
	if p.Name != "" && !validPackageName(p.Name) {
		return fmt.Errorf("uci: export: invalid package name %q", p.Name)
	}
	// Names as Parse will see them, including libuci's internal names of
	// anonymous sections, which a later named section would reopen.
	names := map[string]bool{}
	for i, s := range p.Sections {
		if s == nil {
			return fmt.Errorf("uci: export: section %d is nil", i)
		}
		ref := s.Ref()
		if !validType(s.Type) {
			return fmt.Errorf("uci: export: section %s: invalid type %q", ref, s.Type)
		}
		switch {
		case s.Name == "":
			names[anonymousName(i+1, s.Type)] = true
		case !validName(s.Name):
			return fmt.Errorf("uci: export: invalid section name %q", s.Name)
		case names[s.Name]:
			return fmt.Errorf("uci: export: section name %q is used twice", s.Name)
		default:
			names[s.Name] = true
		}
		if err := checkOptions(s); err != nil {
			return fmt.Errorf("uci: export: section %s: %w", ref, err)
		}
	}
	return nil
}

func checkOptions(s *Section) error {
	seen := map[string]bool{}
	for i, o := range s.Options {
		switch {
		case o == nil:
			return fmt.Errorf("option %d is nil", i)
		case !validName(o.Name):
			return fmt.Errorf("invalid option name %q", o.Name)
		case seen[o.Name]:
			return fmt.Errorf("option %q is used twice", o.Name)
		case len(o.Values) == 0:
			return fmt.Errorf("option %q has no value", o.Name)
		case !o.List && len(o.Values) > 1:
			return fmt.Errorf("option %q has %d values but is not a list", o.Name, len(o.Values))
		case !o.List && o.Values[0] == "":
			// libuci ignores `option x ''`
			return fmt.Errorf("option %q has an empty value", o.Name)
		}
		seen[o.Name] = true
		for _, v := range o.Values {
			if strings.IndexByte(v, 0) >= 0 {
				return fmt.Errorf("option %q: value holds a NUL byte", o.Name)
			}
		}
	}
	return nil
}

// quote puts s in single quotes; a quote inside ends the quoted piece,
// adds an escaped quote and opens a new piece.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// typeWord writes a type bare, as `uci export` does, unless it holds a
// character a bare word cannot carry.
func typeWord(t string) string {
	if strings.ContainsAny(t, `'"#;\`) {
		return quote(t)
	}
	return t
}
