package main

import wgdevice "golang.zx2c4.com/wireguard/device"

// dataPlaneProfile names the buffer profile the wireguard module was built
// with (patches/lean or patches/throughput), read from the module's own
// constants so that it cannot disagree with what runs: "upstream" when the
// module was built without wgd's patches, whose pools are unbounded.
func dataPlaneProfile() string {
	switch {
	case wgdevice.PreallocatedBuffersPerPool == 0:
		return "upstream"
	case wgdevice.MaxSegmentSize < 1<<16-1:
		return "lean"
	default:
		return "throughput"
	}
}
