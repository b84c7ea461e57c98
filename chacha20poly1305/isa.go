package chacha20poly1305

import (
	"bufio"
	"strings"
)

// isaHasR2 reads a Linux /proc/cpuinfo: false only when its "isa" line
// (MIPS kernels list every ISA level the CPU implements) lacks mips32r2.
// Used on mips and mipsle; here on every CPU so its test runs anywhere.
func isaHasR2(s *bufio.Scanner) bool {
	for s.Scan() {
		key, val, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(key) == "isa" {
			for _, isa := range strings.Fields(val) {
				if isa == "mips32r2" {
					return true
				}
			}
			return false
		}
	}
	return true
}
