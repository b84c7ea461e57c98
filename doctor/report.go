package doctor

import (
	"encoding/json"
	"fmt"
	"io"
)

// Report is `wgd doctor --json`. Fields may be added, never renamed.
type Report struct {
	Failures int       `json:"failures"`
	Warnings int       `json:"warnings"`
	Findings []Finding `json:"findings"`
}

// NewReport counts the findings.
func NewReport(fs []Finding) Report {
	r := Report{Findings: fs}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	for _, x := range fs {
		switch x.Severity {
		case Fail:
			r.Failures++
		case Warn:
			r.Warnings++
		}
	}
	return r
}

// WriteJSON writes r as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r for a person: one line a finding, what to do below
// each one that is not fine.
func (r Report) WriteText(w io.Writer) error {
	label := map[Severity]string{OK: "ok", Info: "info", Warn: "WARN", Fail: "FAIL"}
	for _, x := range r.Findings {
		where := x.Check
		if x.Interface != "" {
			where += " " + x.Interface
		}
		if _, err := fmt.Fprintf(w, "%-4s  %-24s %s\n", label[x.Severity], where, x.Message); err != nil {
			return err
		}
		if x.Fix != "" && x.Severity != OK {
			fmt.Fprintf(w, "      %-24s -> %s\n", "", x.Fix)
		}
	}
	switch {
	case r.Failures > 0:
		_, err := fmt.Fprintf(w, "\n%d problem(s) keep devices out, %d warning(s).\n", r.Failures, r.Warnings)
		return err
	case r.Warnings > 0:
		_, err := fmt.Fprintf(w, "\nNo problem found; %d warning(s).\n", r.Warnings)
		return err
	}
	_, err := fmt.Fprintln(w, "\nNo problem found.")
	return err
}
