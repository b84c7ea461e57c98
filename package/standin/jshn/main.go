// Command jshn is a test stand-in for libubox's jshn binary: `jshn -r JSON`
// and `jshn -R FILE` print the json_init / json_add_* / json_close_* calls
// that rebuild a JSON object in the shell (package/standin's jshn.sh runs
// them, as upstream's jshn.sh runs the real binary's). Members keep their
// order. Only these two modes exist: the stand-in jshn.sh dumps JSON
// itself.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "-r" && os.Args[1] != "-R") {
		fmt.Fprintln(os.Stderr, "usage: jshn -r JSON | jshn -R FILE")
		os.Exit(2)
	}
	data := []byte(os.Args[2])
	if os.Args[1] == "-R" {
		var err error
		if data, err = os.ReadFile(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "jshn:", err)
			os.Exit(1)
		}
	}
	script, err := Script(data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jshn: failed to parse message data:", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(script)
}

// Script turns a JSON object into the shell calls that rebuild it.
func Script(data []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	if tok != json.Delim('{') {
		return "", errors.New("not a JSON object")
	}
	var b strings.Builder
	b.WriteString("json_init;\n")
	if err := members(dec, &b, '}'); err != nil {
		return "", err
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New("data after the object")
	}
	return b.String(), nil
}

// members writes the calls for the members of an object (end '}') or the
// items of an array (end ']') whose opening token was just read.
func members(dec *json.Decoder, b *strings.Builder, end json.Delim) error {
	for {
		name := ""
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if tok == end {
			return nil
		}
		if end == '}' {
			s, ok := tok.(string)
			if !ok {
				return fmt.Errorf("object key %v", tok)
			}
			name = s
			if tok, err = dec.Token(); err != nil {
				return err
			}
		}
		switch v := tok.(type) {
		case json.Delim:
			kind, closing := "object", json.Delim('}')
			if v == '[' {
				kind, closing = "array", ']'
			}
			fmt.Fprintf(b, "json_add_%s %s;\n", kind, quote(name))
			if err := members(dec, b, closing); err != nil {
				return err
			}
			fmt.Fprintf(b, "json_close_%s;\n", kind)
		case string:
			fmt.Fprintf(b, "json_add_string %s %s;\n", quote(name), quote(v))
		case json.Number:
			if _, err := v.Int64(); err == nil {
				fmt.Fprintf(b, "json_add_int %s %s;\n", quote(name), v)
			} else {
				fmt.Fprintf(b, "json_add_double %s %s;\n", quote(name), v)
			}
		case bool:
			n := 0
			if v {
				n = 1
			}
			fmt.Fprintf(b, "json_add_boolean %s %d;\n", quote(name), n)
		case nil:
			fmt.Fprintf(b, "json_add_null %s;\n", quote(name))
		}
	}
}

// quote makes s one shell word in single quotes (a quote inside ends the
// quoting, is escaped and reopens it).
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
