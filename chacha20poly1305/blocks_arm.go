//go:build arm && arm.7 && !purego

package chacha20poly1305

//go:noescape
func xorBlocksAsm(st *[16]uint32, dst, src *byte, n int)

//go:noescape
func polyBlocksAsm(p *polyState, m *byte, n int)

func xorBlocks(st *[16]uint32, dst, src []byte) { xorBlocksAsm(st, &dst[0], &src[0], len(src)) }

func polyBlocks(p *polyState, m []byte) { polyBlocksAsm(p, &m[0], len(m)) }
