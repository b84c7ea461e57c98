package device

import (
	"testing"

	wgdevice "golang.zx2c4.com/wireguard/device"

	"wgd/config"
)

func TestAutoMTU(t *testing.T) {
	top := min(1420, wgdevice.MaxContentSize)
	if MaxAutoMTU != top {
		t.Fatalf("MaxAutoMTU %d, want %d", MaxAutoMTU, top)
	}
	for _, c := range []struct{ fits, want int }{
		{0, top},               // unknown WAN
		{1440, top},            // IPv4-only ethernet: no more than WireGuard's usual
		{1420, top},            // ethernet with IPv6
		{1412, min(1412, top)}, // PPPoE
		{1380, min(1380, top)}, // DS-Lite
		{1000, MinMTU},
		{-5, top},
	} {
		if got := AutoMTU(c.fits); got != c.want {
			t.Errorf("AutoMTU(%d) = %d, want %d", c.fits, got, c.want)
		}
	}
	if got := MTU(config.Interface{MTU: 1300}, 1412); got != 1300 {
		t.Errorf("an explicit MTU: %d, want 1300", got)
	}
	if got := MTU(config.Interface{MTU: 9000}, 1412); got != wgdevice.MaxContentSize {
		t.Errorf("an explicit MTU above the data plane's: %d, want %d", got, wgdevice.MaxContentSize)
	}
	if got := MTU(config.Interface{}, 1412); got != 1412 {
		t.Errorf("auto: %d, want 1412", got)
	}
}
