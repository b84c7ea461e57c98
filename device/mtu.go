package device

import (
	wgdevice "golang.zx2c4.com/wireguard/device"

	"wgd/config"
)

// MinMTU is the floor of an automatic MTU: IPv6 needs links of 1280.
const MinMTU = 1280

// MaxAutoMTU is the ceiling of an automatic MTU: WireGuard's usual 1420,
// or less when this build's data plane carries no larger packets (the
// lean profile's buffers).
var MaxAutoMTU = min(DefaultMTU, wgdevice.MaxContentSize)

// AutoMTU is the link MTU for a WAN path that carries inner packets of
// up to fits bytes (hotplug.TunnelMTU; 0: unknown, which gives the
// ceiling), kept between MinMTU and MaxAutoMTU.
func AutoMTU(fits int) int {
	if fits <= 0 {
		return MaxAutoMTU
	}
	return max(MinMTU, min(fits, MaxAutoMTU))
}

// MTU is the link MTU of c: its explicit MTU (capped at what the data
// plane carries), else auto, the automatic one (AutoMTU).
func MTU(c config.Interface, auto int) int {
	if c.MTU != 0 {
		return mtuOf(c)
	}
	return auto
}
