//go:build (mips || mipsle) && !purego

package chacha20poly1305

import (
	"bufio"
	"os"
	"sync"
)

//go:noescape
func xorBlocksAsm(st *[16]uint32, dst, src *byte, n int)

//go:noescape
func polyBlocksAsm(p *polyState, m *byte, n int)

// The assembly needs MIPS32 release 2: ROTR and WSBH. (ROTR need not
// trap on release 1: qemu's 4Kc runs it as a plain shift, silently.) Every CPU
// OpenWrt's mips and mipsel targets name is release 2 but the plain
// "mips32" ones (bcm47xx, bcm63xx, rb532); those get the generic code.
// The kernel says which in /proc/cpuinfo's "isa" line; without such a
// line (not a MIPS kernel: qemu-user shows the host's) the assembly is
// used.
var useAsm = sync.OnceValue(func() bool {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return true
	}
	defer f.Close()
	return isaHasR2(bufio.NewScanner(f))
})

func xorBlocks(st *[16]uint32, dst, src []byte) {
	if useAsm() {
		xorBlocksAsm(st, &dst[0], &src[0], len(src))
	} else {
		xorBlocksGeneric(st, dst, src)
	}
}

func polyBlocks(p *polyState, m []byte) {
	if useAsm() {
		polyBlocksAsm(p, &m[0], len(m))
	} else {
		polyBlocksGeneric(p, m)
	}
}
