// Command hotplugbench measures how long a tunnel stays broken after a WAN
// change, with wgd's reaction and without it, side by side in one run:
// from the change (and its event) to the first ping reply through the
// tunnel. Each case gets a fresh lab in network namespaces. Needs root.
//
//	go run ./scripts/hotplugbench -wgd bin/wgd
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"wgd/internal/lab"
)

const (
	noReaction = "config wgd 'main'\n\toption hotplug '0'\n\toption watchdog_age '0'\n"
	watchdog   = "config wgd 'main'\n\toption hotplug '0'\n" // default age, 150 s
	reacting   = "config wgd 'main'\n"
)

type benchCase struct {
	name string
	runs int
	max  time.Duration // give up waiting for a reply after this
	run  func(ctx context.Context, l *lab.Lab, wgd string, max time.Duration) (time.Duration, error)
}

func main() {
	wgd := flag.String("wgd", "bin/wgd", "path of the wgd binary")
	runs := flag.Int("runs", 3, "runs of each case with wgd's reaction")
	stockMax := flag.Duration("stock-max", 40*time.Second, "how long to wait when nothing reacts")
	withWatchdog := flag.Bool("watchdog", true, "also measure recovery by the watchdog alone (about 3 minutes)")
	only := flag.String("only", "", "run only the cases whose name contains this")
	flag.BoolVar(&showLogs, "logs", false, "print the daemons' logs of every run")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "hotplugbench: needs root (network namespaces)")
		os.Exit(1)
	}
	if _, err := os.Stat(*wgd); err != nil {
		fmt.Fprintf(os.Stderr, "hotplugbench: wgd binary: %v (build it with `make`)\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// "firewalled": the laptop drops packets from the router that do not
	// answer its own (a stateful firewall), so the router cannot mend the
	// tunnel from its new address by itself.
	cases := []benchCase{
		{"renumbered server, firewalled laptop: hotplug event", *runs, 20 * time.Second, renumber(true, true, reacting)},
		{"renumbered server, firewalled laptop: no reaction", 1, *stockMax, renumber(false, true, noReaction)},
		{"renumbered server, open laptop: no reaction (stock)", 1, *stockMax, renumber(false, false, noReaction)},
		{"renumbered server: the router reacts (netlink)", *runs, 20 * time.Second, routerReacts},
		{"NAT lost its mappings: laptop hotplug event", *runs, 20 * time.Second, natCase(true)},
		{"NAT lost its mappings: no reaction (stock)", 1, *stockMax, natCase(false)},
	}
	if *withWatchdog {
		cases = append(cases, benchCase{"renumbered server, firewalled laptop: watchdog (150 s)", 1, 240 * time.Second, renumber(false, true, watchdog)})
	}
	fmt.Printf("%-56s %5s  %s\n", "case", "runs", "event to first reply")
	failed := false
	for _, c := range cases {
		if !strings.Contains(c.name, *only) {
			continue
		}
		var got []time.Duration
		var errs []string
		for i := 0; i < c.runs && ctx.Err() == nil; i++ {
			d, err := once(ctx, *wgd, c)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			got = append(got, d)
		}
		fmt.Printf("%-56s %5d  %s\n", c.name, c.runs, summary(got, len(errs), c.max))
		for _, e := range errs {
			if !strings.Contains(e, "no reply") {
				fmt.Printf("    error: %s\n", e)
				failed = true
			}
		}
	}
	if failed || ctx.Err() != nil {
		os.Exit(1)
	}
}

func once(ctx context.Context, wgd string, c benchCase) (time.Duration, error) {
	l, err := lab.New()
	if err != nil {
		return 0, err
	}
	defer l.Close()
	defer func() {
		l.StopAll()
		if showLogs {
			for _, p := range l.Procs() {
				fmt.Printf("--- log of %s:\n%s\n", p, p.Output())
			}
		}
	}()
	return c.run(ctx, l, wgd, c.max)
}

var showLogs bool

func summary(ds []time.Duration, failures int, max time.Duration) string {
	var parts []string
	if len(ds) > 0 {
		slices.Sort(ds)
		s := fmt.Sprintf("median %.2f s", ds[len(ds)/2].Seconds())
		if len(ds) > 1 {
			s += fmt.Sprintf(" (min %.2f s, max %.2f s)", ds[0].Seconds(), ds[len(ds)-1].Seconds())
		}
		parts = append(parts, s)
	}
	if failures > 0 {
		parts = append(parts, fmt.Sprintf("%d without a reply within %v", failures, max))
	}
	return strings.Join(parts, "; ")
}

// renumber: the router's WAN address changes and its DNS name follows;
// the router itself does not react. With event, the laptop gets a
// hotplug.d event right after the change. The laptop pings the LAN host
// all along, so stock WireGuard's timers are in play.
func renumber(event, firewalled bool, laptopWGD string) func(context.Context, *lab.Lab, string, time.Duration) (time.Duration, error) {
	return func(ctx context.Context, l *lab.Lab, wgd string, max time.Duration) (time.Duration, error) {
		g, err := lab.NewGateway(ctx, l, wgd, nil)
		if err != nil {
			return 0, err
		}
		laptop, err := g.AddLaptop(ctx, "laptop", lab.ClientWGD)
		if err != nil {
			return 0, err
		}
		dns, err := lab.StartDNS(ctx, g.Inet, lab.InetWANIP)
		if err != nil {
			return 0, err
		}
		if err := lab.UseDNS(laptop.Host, lab.InetWANIP); err != nil {
			return 0, err
		}
		if err := dns.Set(ctx, laptop.Host, lab.VPNName, lab.RouterWANIP); err != nil {
			return 0, err
		}
		if err := g.StartRouterWith(ctx, noReaction); err != nil {
			return 0, err
		}
		if err := laptop.StartWith(ctx, lab.LaptopOptions{EndpointHost: lab.VPNName, WGD: laptopWGD}); err != nil {
			return 0, err
		}
		if err := lab.WaitReachable(ctx, laptop.Host, lab.LANHostIP); err != nil {
			return 0, err
		}
		if firewalled {
			if err := lab.StatefulFirewall(ctx, laptop.Host, lab.RouterWANIP+"/24"); err != nil {
				return 0, err
			}
		}
		ping, err := lab.StartPinger(laptop.Host, lab.LANHostIP, max+30*time.Second)
		if err != nil {
			return 0, err
		}
		defer ping.Stop()
		const newIP = "198.51.100.2"
		if _, err := lab.Renumber(ctx, g.Router, lab.RouterWANIP, newIP, lab.InetWANIP); err != nil {
			return 0, err
		}
		if err := dns.Set(ctx, laptop.Host, lab.VPNName, newIP); err != nil {
			return 0, err
		}
		t0 := time.Now()
		if event {
			if err := hotplugEvent(ctx, wgd, laptop, "ACTION=ifupdate", "IFUPDATE_ADDRESSES=1"); err != nil {
				return 0, err
			}
		}
		return since(ctx, ping, t0, max)
	}
}

// routerReacts: the router is renumbered and reacts by itself (netlink);
// the laptop's endpoint is the router's address and it does not react.
func routerReacts(ctx context.Context, l *lab.Lab, wgd string, max time.Duration) (time.Duration, error) {
	g, err := lab.NewGateway(ctx, l, wgd, nil)
	if err != nil {
		return 0, err
	}
	laptop, err := g.AddLaptop(ctx, "laptop", lab.ClientWGD)
	if err != nil {
		return 0, err
	}
	if err := g.StartRouterWith(ctx, reacting); err != nil {
		return 0, err
	}
	if err := laptop.StartWith(ctx, lab.LaptopOptions{WGD: noReaction}); err != nil {
		return 0, err
	}
	if err := lab.WaitReachable(ctx, laptop.Host, lab.LANHostIP); err != nil {
		return 0, err
	}
	ping, err := lab.StartPinger(laptop.Host, lab.LANHostIP, max+30*time.Second)
	if err != nil {
		return 0, err
	}
	defer ping.Stop()
	// The renumbering is the event; replies still in flight while it
	// happens do not count.
	if _, err := lab.Renumber(ctx, g.Router, lab.RouterWANIP, "198.51.100.3", lab.InetWANIP); err != nil {
		return 0, err
	}
	t0 := time.Now()
	return since(ctx, ping, t0, max)
}

// natCase: the laptop's NAT gets a new public address and forgets its
// mappings; the router pings the laptop all along. The laptop keeps
// stock WireGuard's persistent keepalive of 25 s.
func natCase(event bool) func(context.Context, *lab.Lab, string, time.Duration) (time.Duration, error) {
	return func(ctx context.Context, l *lab.Lab, wgd string, max time.Duration) (time.Duration, error) {
		g, err := lab.NewGateway(ctx, l, wgd, nil)
		if err != nil {
			return 0, err
		}
		laptop, nat, err := g.AddNATLaptop(ctx, "laptop")
		if err != nil {
			return 0, err
		}
		if err := g.StartRouterWith(ctx, noReaction); err != nil {
			return 0, err
		}
		conf := reacting
		if !event {
			conf = noReaction
		}
		if err := laptop.StartWith(ctx, lab.LaptopOptions{WGD: conf}); err != nil {
			return 0, err
		}
		if err := lab.WaitReachable(ctx, laptop.Host, lab.LANHostIP); err != nil {
			return 0, err
		}
		if err := lab.WaitReachable(ctx, g.Router, laptop.TunnelIP); err != nil {
			return 0, err
		}
		ping, err := lab.StartPinger(g.Router, laptop.TunnelIP, max+30*time.Second)
		if err != nil {
			return 0, err
		}
		defer ping.Stop()
		if err := nat.Renumber(ctx, "100.64.0.3"); err != nil {
			return 0, err
		}
		t0 := time.Now()
		if event {
			if err := hotplugEvent(ctx, wgd, laptop, "ACTION=ifup"); err != nil {
				return 0, err
			}
		}
		return since(ctx, ping, t0, max)
	}
}

// hotplugEvent runs `wgd hotplug` in the laptop the way the hotplug.d
// script does, for its WAN device.
func hotplugEvent(ctx context.Context, wgd string, lt *lab.Laptop, env ...string) error {
	dev, err := lab.DeviceWith(ctx, lt.Host, lt.WANIP)
	if err != nil {
		return err
	}
	args := append([]string{"env", "INTERFACE=wan", "DEVICE=" + dev}, env...)
	args = append(args, wgd, "hotplug", "--socket", lt.Socket)
	out, err := lt.Host.Run(ctx, args...)
	if err != nil {
		return err
	}
	if strings.Contains(out, "not passed on") {
		return errors.New(strings.TrimSpace(out))
	}
	return nil
}

func since(ctx context.Context, p *lab.Pinger, t0 time.Time, max time.Duration) (time.Duration, error) {
	at, err := p.FirstReplyAfter(ctx, t0, max)
	if err != nil {
		return 0, err
	}
	return at.Sub(t0), nil
}
