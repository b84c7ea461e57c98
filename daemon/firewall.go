package daemon

import (
	"wgd/config"
	"wgd/firewall"
)

// setFirewall switches to the backend of kind ("" = auto) when it differs
// from the one in use. A new backend first removes rules a crashed daemon
// left. A backend that cannot be had is reported; the tunnels stay up.
func (d *Daemon) setFirewall(kind string) {
	if kind == "" && d.opts.Netifd {
		// Under netifd the protocol handler records the ports `wgd ifup`
		// answers and /etc/init.d/wgd publishes them as procd service
		// data, which fw4 reads: nothing to do here.
		kind = "none"
	}
	if d.fw != nil && kind == d.fwKind {
		return
	}
	if d.fw != nil {
		if err := d.fw.Flush(); err != nil {
			d.log.Error("firewall", "backend", d.fw.Name(), "error", err)
		}
	}
	d.fwKind, d.fwErr = kind, ""
	b, err := firewall.New(kind, d.log)
	if err != nil {
		d.log.Error("firewall", "error", err)
		b, _ = firewall.New("none", d.log)
		d.fwErr = err.Error()
	}
	d.fw = b
	if err := b.Flush(); err != nil {
		d.log.Error("firewall", "backend", b.Name(), "error", err)
	}
}

// syncFirewall opens exactly the listen ports of the running interfaces
// that did not opt out. An interface without a configured port is a
// client: nobody can reach a port chosen at random, so none is opened.
func (d *Daemon) syncFirewall() {
	if d.fw == nil {
		return
	}
	holes := []firewall.Hole{}
	for _, c := range d.cfg.Interfaces {
		iface := d.ifaces[c.Name]
		if iface == nil || !c.OpenFirewall || c.ListenPort == 0 {
			continue
		}
		st, err := iface.State()
		if err != nil {
			continue
		}
		holes = append(holes, d.holes(&c, st.ListenPort, d.fw.Name() == "fw4")...)
	}
	d.fwStatus = firewall.Status{Backend: d.fw.Name(), Holes: holes, Error: d.fwErr}
	if err := d.fw.Sync(holes); err != nil {
		d.fwStatus.Error = err.Error()
		d.log.Error("firewall", "backend", d.fw.Name(), "error", err)
	}
}

// holes are the openings of c's listen port. With zones (fw4), one per
// firewall zone on c's WAN side (config.ListenZones), or one for every
// zone (Zone "") when no zone covers it.
func (d *Daemon) holes(c *config.Interface, port uint16, zones bool) []firewall.Hole {
	h := firewall.Hole{Interface: c.Name, Port: port}
	if !zones {
		return []firewall.Hole{h}
	}
	var out []firewall.Hole
	for _, z := range d.cfg.ListenZones(c) {
		h.Zone = z
		out = append(out, h)
	}
	if len(out) == 0 {
		h.Zone = ""
		out = append(out, h)
	}
	return out
}
