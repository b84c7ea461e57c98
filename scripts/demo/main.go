// Command demo plays the home-gateway scenario with wgd on both ends: a
// laptop on the internet side reaches a host on the router's LAN through the
// tunnel. Everything runs in network namespaces made for this run and is
// removed at the end, also on failure and on Ctrl-C. Needs root.
//
//	go run ./scripts/demo -wgd bin/wgd
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"wgd/internal/lab"
)

func main() {
	wgdPath := flag.String("wgd", "bin/wgd", "path of the wgd binary to run on router and laptop")
	showLogs := flag.Bool("logs", false, "print the daemons' logs at the end, also on success")
	hold := flag.Bool("hold", false, "after the demo, keep the network up until Ctrl-C, to explore it by hand")
	flag.Parse()

	// Ctrl-C cancels the running step; cleanup below still runs.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	d := &demo{wgd: *wgdPath, showLogs: *showLogs, hold: *hold}
	err := d.run(ctx)
	if ctx.Err() != nil && !d.held {
		err = errors.Join(errors.New("interrupted"), err)
	}
	if err != nil {
		fmt.Printf("\nFAIL: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("\nPASS: the laptop reached the LAN host through wgd's tunnel")
}

type demo struct {
	wgd      string
	showLogs bool
	hold     bool
	held     bool // the demo passed and then waited for Ctrl-C
	step     int
}

// say prints a numbered step.
func (d *demo) say(format string, args ...any) {
	d.step++
	fmt.Printf("\n[%d] %s\n", d.step, fmt.Sprintf(format, args...))
}

// detail prints an indented line under the current step.
func detail(format string, args ...any) {
	for _, line := range strings.Split(strings.TrimRight(fmt.Sprintf(format, args...), "\n"), "\n") {
		fmt.Printf("    %s\n", line)
	}
}

func (d *demo) run(ctx context.Context) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("needs root: creates network namespaces, veth links and TUN devices")
	}
	if _, err := os.Stat(d.wgd); err != nil {
		return fmt.Errorf("wgd binary: %w (build it with `make`)", err)
	}
	l, err := lab.New()
	if err != nil {
		return err
	}
	defer func() {
		fmt.Printf("\n[cleanup] stopping daemons, deleting namespaces %s*\n", "wgdlab-"+l.ID)
		l.StopAll()
		// Logs help with a failure, not with a Ctrl-C.
		if (err != nil && ctx.Err() == nil) || d.showLogs {
			for _, p := range l.Procs() {
				fmt.Printf("\n--- log of %s (%s) ---\n%s", p, p.ExitStatus(), p.Output())
			}
		}
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("cleanup: %w", cerr))
		}
	}()

	fmt.Println("wgd demo: remote access to a home LAN through a router running wgd")
	fmt.Printf("\n  lan %s --- router (wgd, WAN %s) --- inet --- laptop (wgd)\n", lab.LANHostIP, lab.RouterWANIP)
	fmt.Printf("  tunnel %s; LAN %s; run id %s\n", lab.TunnelPrefix, lab.LANPrefix, l.ID)

	d.say("Build the network: hosts in namespaces, links, routes, TCP service on the LAN host")
	g, err := lab.NewGateway(ctx, l, d.wgd, detail)
	if err != nil {
		return err
	}
	laptop, err := g.AddLaptop(ctx, "laptop", lab.ClientWGD)
	if err != nil {
		return err
	}

	d.say("Without a tunnel the LAN is private: inet cannot reach %s", lab.LANHostIP)
	if _, err := lab.Ping(ctx, g.Inet, lab.LANHostIP, 1); err == nil {
		return errors.New("inet reaches the LAN host without a tunnel")
	}
	detail("ok: no route from the internet side")

	d.say("Start wgd on the router with a LuCI-style UCI config")
	if err := g.StartRouter(ctx); err != nil {
		return err
	}
	detail("%s/network:\n%s", g.RouterDir, indentConfig(g.RouterNetworkConfig(), g.RouterKey.Private))

	d.say("Start wgd on the laptop, peer = router at %s:%d", lab.RouterWANIP, lab.ListenPort)
	if err := laptop.Start(ctx); err != nil {
		return err
	}
	detail("%s/network:\n%s", laptop.Dir, indentConfig(laptop.NetworkConfig(), laptop.Key.Private))

	d.say("laptop: wait for the tunnel (handshake), pinging %s", lab.LANHostIP)
	start := time.Now()
	if err := lab.WaitReachable(ctx, laptop.Host, lab.LANHostIP); err != nil {
		return fmt.Errorf("laptop cannot reach the LAN host: %w", err)
	}
	detail("reachable after %s", time.Since(start).Round(time.Millisecond))

	d.say("laptop: ping -c 3 %s", lab.LANHostIP)
	out, err := lab.Ping(ctx, laptop.Host, lab.LANHostIP, 3)
	if err != nil {
		return err
	}
	detail("%s", strings.TrimSpace(out))

	d.say("laptop: TCP to the LAN service %s:%d", lab.LANHostIP, lab.ServicePort)
	reply, err := lab.Fetch(ctx, laptop.Host, lab.LANHostIP)
	if err != nil {
		return err
	}
	detail("reply: %q", reply)

	d.say("router: wgd status")
	out, err = g.WGDCmd(ctx, g.Router, "status", "--socket", g.RouterSocket)
	if err != nil {
		return err
	}
	detail("%s", out)

	d.say("laptop: wgd status")
	out, err = g.WGDCmd(ctx, laptop.Host, "status", "--socket", laptop.Socket)
	if err != nil {
		return err
	}
	detail("%s", out)

	if d.hold {
		fmt.Printf("\nThe network stays up until Ctrl-C. For example:\n")
		fmt.Printf("  ip netns exec %s ping %s\n", laptop.Host.NS, lab.LANHostIP)
		fmt.Printf("  ip netns exec %s wg show %s\n", g.Router.NS, g.RouterIface)
		fmt.Printf("  %s status --socket %s\n", g.WGD, g.RouterSocket)
		d.held = true
		<-ctx.Done()
	}
	return nil
}

// indentConfig shows a UCI file with the private key shortened: the demo's
// keys are throwaway, but keys printed in full teach bad habits.
func indentConfig(cfg, privateKey string) string {
	cfg = strings.ReplaceAll(cfg, privateKey, "(hidden)")
	return "  " + strings.ReplaceAll(strings.TrimSpace(cfg), "\n", "\n  ")
}
