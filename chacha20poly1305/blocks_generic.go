//go:build purego || !(mips || mipsle || (arm && arm.7))

package chacha20poly1305

func xorBlocks(st *[16]uint32, dst, src []byte) { xorBlocksGeneric(st, dst, src) }

func polyBlocks(p *polyState, m []byte) { polyBlocksGeneric(p, m) }
