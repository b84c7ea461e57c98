// Command uci is a test stand-in for OpenWrt's uci(1), enough for package
// scripts: get, set, commit and batch, with -q and -c CONFDIR. Files are
// read and written with wgd's own libuci-grammar package. Like the real
// tool, set stages a change (under SAVEDIR, default /tmp/.uci) that only
// commit writes to CONFDIR/<package>, get sees staged changes, and set on
// a package whose file does not exist fails. A section is named as libuci
// names it: its name, or @type[N] (N counting sections of that type from
// 0, or from the end when negative).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"wgd/uci"
)

var errNotFound = errors.New("Entry not found")

type tool struct {
	confDir, saveDir string
	stdout           io.Writer
}

func main() {
	t := &tool{confDir: "/etc/config", saveDir: "/tmp/.uci", stdout: os.Stdout}
	args, quiet := os.Args[1:], false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch {
		case args[0] == "-q":
			quiet = true
		case args[0] == "-c" && len(args) > 1:
			t.confDir, args = args[1], args[1:]
		case args[0] == "-t" && len(args) > 1:
			t.saveDir, args = args[1], args[1:]
		default:
			fail(quiet, fmt.Errorf("unsupported option %s", args[0]))
		}
		args = args[1:]
	}
	if len(args) == 0 {
		fail(quiet, errors.New("usage: uci [-q] [-c confdir] get|set|commit|batch ..."))
	}
	var err error
	if args[0] == "batch" {
		err = t.batch(os.Stdin)
	} else {
		err = t.run(args)
	}
	if err != nil {
		fail(quiet, err)
	}
}

func fail(quiet bool, err error) {
	if !quiet {
		fmt.Fprintln(os.Stderr, "uci:", err)
	}
	os.Exit(1)
}

func (t *tool) batch(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		words, err := split(sc.Text())
		if err != nil {
			return err
		}
		if len(words) == 0 {
			continue
		}
		if err := t.run(words); err != nil {
			return err
		}
	}
	return sc.Err()
}

// split cuts a batch line into words the way the shell would (quotes and
// backslashes), which is how uci's batch mode reads its arguments too.
func split(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				w.WriteByte(c)
			}
		case quote == '"':
			if c == '"' {
				quote = 0
			} else if c == '\\' && i+1 < len(line) {
				i++
				w.WriteByte(line[i])
			} else {
				w.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
			in = true
		case c == ' ' || c == '\t':
			if in {
				words, in = append(words, w.String()), false
				w.Reset()
			}
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote in batch line")
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}

func (t *tool) run(args []string) error {
	switch {
	case args[0] == "get" && len(args) == 2:
		return t.get(args[1])
	case args[0] == "set" && len(args) == 2:
		return t.set(args[1])
	case args[0] == "commit" && len(args) <= 2:
		pkgs := args[1:]
		if len(pkgs) == 0 {
			staged, _ := filepath.Glob(filepath.Join(t.saveDir, "*"))
			for _, f := range staged {
				pkgs = append(pkgs, filepath.Base(f))
			}
		}
		for _, p := range pkgs {
			if err := t.commit(p); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unsupported command: %s", strings.Join(args, " "))
}

// load reads the committed package and applies the staged changes.
func (t *tool) load(name string) (*uci.Package, error) {
	data, err := os.ReadFile(filepath.Join(t.confDir, name))
	if err != nil {
		return nil, errNotFound
	}
	p, problems := uci.Parse(name, data)
	for _, e := range problems {
		if !e.Warning {
			return nil, fmt.Errorf("Parse error (%v)", e)
		}
	}
	p.Name = name
	staged, _ := os.ReadFile(filepath.Join(t.saveDir, name))
	for _, line := range strings.Split(string(staged), "\n") {
		if path, value, ok := strings.Cut(line, "\t"); ok {
			if err := apply(p, path, value); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// parsePath splits PKG.SECTION[.OPTION].
func parsePath(path string) (pkg, section, option string, err error) {
	parts := strings.Split(path, ".")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return "", "", "", fmt.Errorf("Invalid argument: %s", path)
	}
	if len(parts) == 3 {
		option = parts[2]
	}
	return parts[0], parts[1], option, nil
}

func section(p *uci.Package, name string) *uci.Section {
	if typ, n, ok := typeIndex(name); ok {
		var of []*uci.Section
		for _, s := range p.Sections {
			if s.Type == typ {
				of = append(of, s)
			}
		}
		if n < 0 {
			n += len(of)
		}
		if n < 0 || n >= len(of) {
			return nil
		}
		return of[n]
	}
	for _, s := range p.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// typeIndex reads @type[N].
func typeIndex(ref string) (typ string, n int, ok bool) {
	if !strings.HasPrefix(ref, "@") || !strings.HasSuffix(ref, "]") {
		return "", 0, false
	}
	typ, num, ok := strings.Cut(ref[1:len(ref)-1], "[")
	if !ok || typ == "" {
		return "", 0, false
	}
	n, err := strconv.Atoi(num)
	return typ, n, err == nil
}

// apply sets PKG.SECTION=TYPE or PKG.SECTION.OPTION=VALUE in p; an empty
// option value removes the option.
func apply(p *uci.Package, path, value string) error {
	_, sec, opt, err := parsePath(path)
	if err != nil {
		return err
	}
	s := section(p, sec)
	if opt == "" {
		if _, _, ref := typeIndex(sec); ref && s == nil {
			return errNotFound
		}
		if s == nil {
			p.Sections = append(p.Sections, &uci.Section{Type: value, Name: sec})
		} else {
			s.Type = value
		}
		return nil
	}
	if s == nil {
		return errNotFound
	}
	for i, o := range s.Options {
		if o.Name == opt {
			if value == "" {
				s.Options = append(s.Options[:i], s.Options[i+1:]...)
			} else {
				o.Values, o.List = []string{value}, false
			}
			return nil
		}
	}
	if value != "" {
		s.Options = append(s.Options, &uci.Option{Name: opt, Values: []string{value}})
	}
	return nil
}

func (t *tool) get(path string) error {
	pkg, sec, opt, err := parsePath(path)
	if err != nil {
		return err
	}
	p, err := t.load(pkg)
	if err != nil {
		return err
	}
	s := section(p, sec)
	if s == nil {
		return errNotFound
	}
	if opt == "" {
		fmt.Fprintln(t.stdout, s.Type)
		return nil
	}
	o := s.Get(opt)
	if o == nil {
		return errNotFound
	}
	fmt.Fprintln(t.stdout, strings.Join(o.Values, " "))
	return nil
}

func (t *tool) set(arg string) error {
	path, value, ok := strings.Cut(arg, "=")
	if !ok {
		return fmt.Errorf("Invalid argument: %s", arg)
	}
	pkg, _, _, err := parsePath(path)
	if err != nil {
		return err
	}
	p, err := t.load(pkg)
	if err != nil {
		return err
	}
	if err := apply(p, path, value); err != nil {
		return err
	}
	if err := os.MkdirAll(t.saveDir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(t.saveDir, pkg), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%s\t%s\n", path, value)
	return err
}

func (t *tool) commit(pkg string) error {
	p, err := t.load(pkg)
	if err != nil {
		return err
	}
	p.Name = "" // a committed file has no package line
	var b bytes.Buffer
	if err := uci.Export(&b, p); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(t.confDir, pkg), b.Bytes(), 0o600); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(t.saveDir, pkg)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
