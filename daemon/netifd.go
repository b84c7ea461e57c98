package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/firewall"
	"wgd/router"
)

// Under netifd, netifd owns addresses, routes and link state, and decides
// when an interface is up: its wgd protocol handler asks the daemon
// (`wgd ifup`, `wgd ifdown`), and reports the answer's addresses, routes
// and host dependencies to netifd itself. The answer's firewall rule goes
// to the wgd service instead, whose procd data fw4 reads
// (package/wgd/files/wgd.init). The links outlive the daemon (a
// persistent TUN), so a restarted daemon finds netifd's addresses and
// routes in place; a live change that alters an answer has netifd renew
// the interface, which runs the handler again (renewNetifd).

// endpointWait bounds how long ifup waits for endpoint names, so that
// netifd can add host routes to them; later answers still reach the
// engine, only without a host dependency.
const endpointWait = 5 * time.Second

// netifdState is what the daemon knows of netifd's view.
type netifdState struct {
	// told: the answer (its netifd part, netifdKey) each running
	// interface's handler last reported; asked: the answer a renew was
	// asked for and not yet fetched.
	told, asked map[string]string
	answering   string          // the interface an ifup is answering now
	restoring   map[string]bool // brought back from the state file, netifd has not asked since
}

func newNetifdState() netifdState {
	return netifdState{told: map[string]string{}, asked: map[string]string{}, restoring: map[string]bool{}}
}

// netifdKey is the part of an answer netifd acts on.
func netifdKey(r *api.IfupResult) string {
	c := *r
	c.Problems = nil
	b, _ := json.Marshal(c)
	return string(b)
}

func parseIfArgs(raw json.RawMessage) (string, error) {
	var a api.InterfaceArgs
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
	var upErr error
	if err := d.do(ctx, func() {
		d.requested[name] = true
		delete(d.netifd.restoring, name)
		d.saveRequested()
		d.netifd.answering = name
		_, upErr = d.reload() // the handler may just have committed a generated key
		d.netifd.answering = ""
	}); err != nil {
		return nil, err
	}
	if upErr != nil {
		return nil, upErr
	}
	deadline := time.Now().Add(endpointWait)
	for {
		var out *api.IfupResult
		var pending bool
		final := time.Now().After(deadline)
		if err := d.do(ctx, func() {
			out, pending, upErr = d.ifupResult(name)
			if upErr == nil && (!pending || final) {
				d.netifd.told[name] = netifdKey(out)
				delete(d.netifd.asked, name)
			}
		}); err != nil {
			return nil, err
		}
		if upErr != nil {
			// netifd retries setup itself; until then the interface is not wanted.
			d.do(ctx, func() { delete(d.requested, name); d.saveRequested(); d.apply(d.cfg, &api.ReloadResult{}) })
			return nil, upErr
		}
		if !pending || final {
			return out, nil
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// problemsOf are the configuration problems of one interface (its own
// section and its peers').
func (d *Daemon) problemsOf(name string) []string {
	var out []string
	for _, p := range d.problems {
		if p.Interface == name {
			out = append(out, p.Error())
		}
	}
	return out
}

// ifupResult describes a running interface; pending tells whether some
// of its endpoint names are still being resolved.
func (d *Daemon) ifupResult(name string) (*api.IfupResult, bool, error) {
	c := d.cfg.Interface(name)
	if c == nil {
		why := d.problemsOf(name)
		if len(why) == 0 {
			why = []string{"no enabled interface with proto 'wgd' of that name in " + d.opts.ConfigDir + "/network"}
		}
		return nil, false, fmt.Errorf("%s: %s", name, strings.Join(why, "; "))
	}
	iface := d.ifaces[name]
	if iface == nil {
		return nil, false, fmt.Errorf("%s: %s", name, d.ifaceErrs[name])
	}
	l3 := d.routers[name].State()
	out := &api.IfupResult{
		Interface: name, ListenPort: c.ListenPort, MTU: l3.MTU, Addresses: l3.Addresses,
		Routes:    netifdRoutes(l3.Routes),
		Endpoints: append([]netip.Addr{}, l3.Endpoints...), NoHostRoute: c.NoHostRoute, TunLink: c.TunLink,
	}
	if st, err := iface.State(); err == nil {
		out.ListenPort = st.ListenPort
	}
	pending := false
	for _, p := range c.Peers {
		if ep, ok := d.endpoints.get(name, p.PublicKey); ok && !ep.addr.IsValid() {
			pending = true
		}
	}
	out.Problems = d.problemsOf(name)
	if c.OpenFirewall && c.ListenPort != 0 {
		holes := d.holes(c, out.ListenPort)
		out.Firewall, _ = firewall.Fw4Rules(holes)
		if holes[0].Zone == "" {
			out.Problems = append(out.Problems, fmt.Sprintf("no firewall zone covers %s: the listen port is opened in every zone",
				strings.Join(d.cfg.Uplinks(c), " ")))
		}
	}
	if e := d.ifaceErrs[name]; e != "" {
		out.Problems = append(out.Problems, e)
	}
	out.Problems = append(out.Problems, l3.Missing...)
	return out, pending, nil
}

// netifdRoutes are the router's routes as the handler hands them.
func netifdRoutes(rs []router.Route) []api.Route {
	out := make([]api.Route, 0, len(rs))
	for _, r := range rs {
		out = append(out, api.Route{Target: r.Dst, Metric: r.Metric})
	}
	return out
}

// renewNetifd asks netifd to run the handler of each interface again
// whose answer would now differ from what netifd last got (peers or
// their routes, endpoints or the firewall rule changed): netifd's renew
// replaces the interface's routes and host dependencies without taking
// it down, so untouched peers keep their sessions.
func (d *Daemon) renewNetifd() {
	if !d.opts.Netifd || d.opts.NetifdCall == nil {
		return
	}
	for name, told := range d.netifd.told {
		if name == d.netifd.answering || d.ifaces[name] == nil {
			continue
		}
		out, _, err := d.ifupResult(name)
		if err != nil {
			continue
		}
		if k := netifdKey(out); k != told && k != d.netifd.asked[name] {
			d.netifd.asked[name] = k
			d.log.Info("asking netifd to renew the interface", "interface", name)
			d.callNetifd(name, "renew")
		}
	}
}

// restored is called when an interface came up. One that a restarted
// daemon brought back from the state file is renewed when it is on the
// link netifd set up (the configuration may have changed while no daemon
// ran, and nothing else tells netifd); on a new link (the old one was
// gone, or could not be attached to) it has lost what netifd set up on
// it, and netifd is asked to set the interface up again.
func (d *Daemon) restored(name string, reattached bool) {
	if !d.netifd.restoring[name] {
		return
	}
	delete(d.netifd.restoring, name)
	if d.opts.NetifdCall == nil {
		return
	}
	if reattached {
		d.log.Info("interface back on its link: asking netifd to renew it", "interface", name)
		d.callNetifd(name, "renew")
		return
	}
	d.log.Warn("interface restored on a new link: asking netifd to set it up again", "interface", name)
	d.callNetifd(name, "down", "up")
}

func (d *Daemon) ifdownRequest(ctx context.Context, raw json.RawMessage) (any, error) {
	name, err := parseIfArgs(raw)
	if err != nil {
		return nil, err
	}
	return nil, d.do(ctx, func() {
		delete(d.requested, name)
		delete(d.netifd.told, name)
		delete(d.netifd.asked, name)
		d.saveRequested()
		d.apply(d.cfg, &api.ReloadResult{})
	})
}

// wanted tells whether an interface of the configuration should run:
// under netifd, when netifd asked for it; standalone, unless it has
// auto '0' and was not asked for (`wgd ifup`).
func (d *Daemon) wanted(c *config.Interface) bool {
	switch {
	case c == nil:
		return false
	case d.opts.Netifd:
		return d.requested[c.Name]
	}
	return c.Auto || d.requested[c.Name]
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
		d.netifd.restoring[name] = true
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

// callNetifd queues a call to netifd; on the daemon's goroutine.
func (d *Daemon) callNetifd(iface string, methods ...string) {
	call := d.opts.NetifdCall
	d.netifdQ.push(func(ctx context.Context) { call(ctx, iface, methods...) })
}

// callQueue runs calls in order, on its own goroutine (run), so that
// who pushes them never waits.
type callQueue struct {
	mu    sync.Mutex
	calls []func(context.Context)
	wake  chan struct{}
}

func newCallQueue() *callQueue { return &callQueue{wake: make(chan struct{}, 1)} }

func (q *callQueue) push(f func(context.Context)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, f)
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is pending
	}
}

// run makes the calls until ctx ends; those left then are dropped.
func (q *callQueue) run(ctx context.Context) {
	for {
		q.mu.Lock()
		calls := q.calls
		q.calls = nil
		q.mu.Unlock()
		for _, f := range calls {
			if ctx.Err() != nil {
				return
			}
			f(ctx)
		}
		select {
		case <-q.wake:
		case <-ctx.Done():
			return
		}
	}
}

// NetifdUbus is a NetifdCall through the ubus command line (found in
// PATH). netifd ignores a renew of an interface it has down
// (interface_renew) and says nothing; so after a renew the interface's
// status is read, and down (not up, not being set up) is passed to down:
// netifd took the interface down while no daemon listened (its
// teardown's `wgd ifdown` failed).
func NetifdUbus(log *slog.Logger, down func(ctx context.Context, iface string)) func(ctx context.Context, iface string, methods ...string) {
	ubus := func(ctx context.Context, iface, method string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "ubus", "call", "network.interface."+iface, method).Output()
		if err != nil {
			log.Warn("asking netifd", "interface", iface, "method", method, "error", err)
		}
		return out, err
	}
	return func(ctx context.Context, iface string, methods ...string) {
		for _, m := range methods {
			if _, err := ubus(ctx, iface, m); err != nil {
				return
			}
		}
		if !slices.Contains(methods, "renew") || down == nil {
			return
		}
		out, err := ubus(ctx, iface, "status")
		var st struct {
			Up      *bool `json:"up"`
			Pending bool  `json:"pending"`
		}
		if err == nil && json.Unmarshal(out, &st) == nil && st.Up != nil && !*st.Up && !st.Pending {
			log.Info("netifd has the interface down: taking it down", "interface", iface)
			down(ctx, iface)
		}
	}
}

// IfDown takes an interface down as netifd's `wgd ifdown` does.
func (d *Daemon) IfDown(ctx context.Context, name string) error {
	raw, _ := json.Marshal(api.InterfaceArgs{Interface: name})
	_, err := d.ifdownRequest(ctx, raw)
	return err
}
