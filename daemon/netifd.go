package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"wgd/firewall"
)

// Under netifd, netifd owns addresses, routes and link state, and decides
// when an interface is up: its wgd protocol handler asks the daemon
// (`wgd ifup`, `wgd ifdown`), and reports the answer's addresses, routes
// and host dependencies to netifd itself. The answer's firewall rule goes
// to the wgd service instead, whose procd data fw4 reads
// (package/wgd/files/wgd.init).

// endpointWait bounds how long ifup waits for endpoint names, so that
// netifd can add host routes to them; later answers still reach the
// engine, only without a host dependency.
const endpointWait = 5 * time.Second

// IfupResult is what the protocol handler reports to netifd.
type IfupResult struct {
	Interface   string             `json:"interface"`
	ListenPort  uint16             `json:"listen_port"`
	MTU         int                `json:"mtu,omitempty"`
	Addresses   []netip.Prefix     `json:"addresses"`
	Routes      []netip.Prefix     `json:"routes"`
	Endpoints   []netip.Addr       `json:"endpoints"`
	NoHostRoute bool               `json:"nohostroute"`
	TunLink     string             `json:"tunlink,omitempty"`
	Firewall    []firewall.Fw4Rule `json:"firewall,omitempty"`
	Problems    []string           `json:"problems,omitempty"`
}

type ifArgs struct {
	Interface string `json:"interface"`
}

func parseIfArgs(raw json.RawMessage) (string, error) {
	var a ifArgs
	if err := json.Unmarshal(raw, &a); err != nil || a.Interface == "" {
		return "", errors.New("want {\"interface\": NAME}")
	}
	return a.Interface, nil
}

func (d *Daemon) ifupRequest(ctx context.Context, raw json.RawMessage) (any, error) {
	name, err := parseIfArgs(raw)
	if err != nil {
		return nil, err
	}
	var res *ReloadResult
	var upErr error
	if err := d.do(ctx, func() {
		d.requested[name] = true
		d.saveRequested()
		res, upErr = d.reload() // the handler may just have committed a generated key
	}); err != nil {
		return nil, err
	}
	if upErr != nil {
		return nil, upErr
	}
	deadline := time.Now().Add(endpointWait)
	for {
		var out *IfupResult
		var pending bool
		if err := d.do(ctx, func() { out, pending, upErr = d.ifupResult(name, res) }); err != nil {
			return nil, err
		}
		if upErr != nil {
			// netifd retries setup itself; until then the interface is not wanted.
			d.do(ctx, func() { delete(d.requested, name); d.saveRequested(); d.apply(d.cfg, &ReloadResult{}) })
			return nil, upErr
		}
		if !pending || time.Now().After(deadline) {
			return out, nil
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// ifupResult describes a running interface; pending tells whether some
// of its endpoint names are still being resolved.
func (d *Daemon) ifupResult(name string, res *ReloadResult) (*IfupResult, bool, error) {
	c := d.cfg.Interface(name)
	if c == nil {
		var why []string
		for _, p := range res.Problems {
			if strings.Contains(p, "section "+name) {
				why = append(why, p)
			}
		}
		if len(why) == 0 {
			why = []string{"no enabled interface with proto 'wgd' of that name in " + d.opts.ConfigDir + "/network"}
		}
		return nil, false, fmt.Errorf("%s: %s", name, strings.Join(why, "; "))
	}
	iface := d.ifaces[name]
	if iface == nil {
		return nil, false, fmt.Errorf("%s: %s", name, d.ifaceErrs[name])
	}
	out := &IfupResult{
		Interface: name, ListenPort: c.ListenPort, MTU: iface.MTU(), Addresses: c.Addresses, Routes: c.Routes(),
		Endpoints: []netip.Addr{}, NoHostRoute: c.NoHostRoute, TunLink: c.TunLink,
	}
	if st, err := iface.State(); err == nil {
		out.ListenPort = st.ListenPort
	}
	pending := false
	for _, p := range c.Peers {
		ap, ok := d.endpoints[name][p.PublicKey]
		switch {
		case ok && !slices.Contains(out.Endpoints, ap.Addr()):
			out.Endpoints = append(out.Endpoints, ap.Addr())
		case !ok && p.EndpointHost != "":
			pending = true
		}
	}
	if c.OpenFirewall && c.ListenPort != 0 {
		out.Firewall, _ = firewall.Fw4Rules([]firewall.Hole{{Interface: name, Port: out.ListenPort}})
	}
	for _, p := range res.Problems {
		if strings.Contains(p, "wireguard_"+name) || strings.Contains(p, "section "+name) {
			out.Problems = append(out.Problems, p)
		}
	}
	if e := d.ifaceErrs[name]; e != "" {
		out.Problems = append(out.Problems, e)
	}
	return out, pending, nil
}

func (d *Daemon) ifdownRequest(ctx context.Context, raw json.RawMessage) (any, error) {
	name, err := parseIfArgs(raw)
	if err != nil {
		return nil, err
	}
	return nil, d.do(ctx, func() {
		delete(d.requested, name)
		d.saveRequested()
		d.apply(d.cfg, &ReloadResult{})
	})
}

// wanted tells whether an interface of the configuration should run.
func (d *Daemon) wanted(name string) bool {
	return !d.opts.Netifd || d.requested[name]
}

// The interfaces netifd asked for are kept in a file, so that a daemon
// respawned by procd brings them back without netifd asking again.
func (d *Daemon) loadRequested() {
	if d.opts.NetifdState == "" {
		return
	}
	b, err := os.ReadFile(d.opts.NetifdState)
	if err != nil {
		return
	}
	for _, name := range strings.Fields(string(b)) {
		d.requested[name] = true
	}
}

func (d *Daemon) saveRequested() {
	if d.opts.NetifdState == "" {
		return
	}
	var names []string
	for name := range d.requested {
		names = append(names, name)
	}
	slices.Sort(names)
	tmp := d.opts.NetifdState + ".tmp"
	err := os.WriteFile(tmp, []byte(strings.Join(names, "\n")+"\n"), 0o600)
	if err == nil {
		err = os.Rename(tmp, d.opts.NetifdState)
	}
	if err != nil {
		d.log.Warn("cannot record the interfaces netifd asked for", "error", err)
	}
}
