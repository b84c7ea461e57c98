package daemon

import (
	"context"

	"wgd/config"
	"wgd/device"
	"wgd/hotplug"
)

// An interface without an explicit MTU follows the WAN: its link MTU is
// what crosses the WAN links in one piece (hotplug.TunnelMTU), kept
// within device.AutoMTU's bounds. A change of the WAN (a PPPoE re-dial,
// DS-Lite coming up) is applied live to the running links.

// seeWAN records what the WAN carries, as the monitor's snapshot shows
// it now: on each load and each change the monitor reports. While no WAN
// link is known (a PPPoE re-dial) the last known one holds.
func (d *Daemon) seeWAN() {
	if fits, ok := hotplug.TunnelMTU(hotplug.WANLinks(d.wan.Snapshot(), d.wanConfig())); ok {
		d.wanFits = fits
	}
}

// mtuOf is the link MTU interface c runs with, for the WAN as last seen.
func (d *Daemon) mtuOf(c config.Interface) int {
	if c.MTU != 0 {
		return device.MTU(c, 0)
	}
	return device.AutoMTU(d.wanFits)
}

// followWAN applies a changed automatic MTU to the running interfaces;
// on the daemon goroutine.
func (d *Daemon) followWAN() {
	d.seeWAN()
	for _, c := range d.cfg.Interfaces {
		iface := d.ifaces[c.Name]
		if iface == nil || c.MTU != 0 {
			continue
		}
		if m := d.mtuOf(c); m != iface.MTU() {
			d.log.Info("the WAN changed: tunnel MTU follows", "interface", c.Name, "from", iface.MTU(), "to", m)
			d.update(c.Name)
		}
	}
	d.renewNetifd()
}

// runMTU applies the MTU after each change the monitor reports, until
// ctx ends.
func (d *Daemon) runMTU(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wanChanged:
			d.do(ctx, d.followWAN)
		}
	}
}
