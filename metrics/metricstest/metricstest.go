// Package metricstest reads Prometheus text exposition in tests.
package metricstest

import "strings"

// Sample returns the value of the series of name whose labels include all
// of want (`k="v"` pieces), or "" when there is none.
func Sample(exposition, name string, want ...string) string {
	for _, line := range strings.Split(exposition, "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		all := true
		for _, w := range want {
			all = all && strings.Contains(","+labels+",", ","+w+",")
		}
		if all {
			return value
		}
	}
	return ""
}
