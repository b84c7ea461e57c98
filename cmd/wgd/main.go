// Command wgd is a WireGuard gateway daemon configured through UCI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/daemon"
	"wgd/device"
	"wgd/hotplug"
)

// version is stamped by the build (-ldflags -X main.version=...).
var version = "dev"

const usage = `wgd: WireGuard gateway daemon configured through UCI

Usage:
  wgd run [--config-dir DIR] [--socket PATH] [--netifd]
                                               run the daemon in the foreground
  wgd reload [--socket PATH]                   re-read UCI and apply the difference
  wgd status [--json] [--socket PATH]          show interfaces and peers
  wgd hotplug [--socket PATH]                  pass a hotplug.d event (environment) to the daemon
  wgd peer add|list|show|remove|disable|enable ...
                                               add a phone or laptop with a QR code (wgd peer help)
  wgd doctor [IFACE] [--json]                  check the router: what keeps devices from connecting
  wgd ifup IFACE | wgd ifdown IFACE            netifd's protocol handler: bring an interface up or down
  wgd genkey                                   print a new private key
  wgd pubkey                                   read a private key on stdin, print its public key
  wgd genpsk                                   print a new preshared key
  wgd version                                  print the version

The control socket defaults to $WGD_SOCKET, else ` + api.DefaultSocket + `.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	var err error
	switch cmd {
	case "run":
		err = cmdRun(args, stderr)
	case "reload":
		err = cmdReload(args, stdout)
	case "status":
		err = cmdStatus(args, stdout)
	case "hotplug":
		err = cmdHotplug(args, stdout)
	case "doctor":
		err = cmdDoctor(args, stdout)
	case "peer":
		err = cmdPeer(args, stdout, stderr)
	case "ifup", "ifdown":
		err = cmdInterface(cmd, args, stdout)
	case "genkey":
		err = printKey(stdout, config.GeneratePrivateKey)
	case "genpsk":
		err = printKey(stdout, config.GeneratePresharedKey)
	case "pubkey":
		err = cmdPubkey(stdin, stdout)
	case "version", "--version":
		fmt.Fprintf(stdout, "wgd %s (%s data plane)\n", version, dataPlaneProfile())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "wgd: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, errProblems) {
		return 1 // the report said it
	}
	if err != nil {
		fmt.Fprintf(stderr, "wgd %s: %v\n", cmd, err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

var errUsage = errors.New("bad usage")

func flags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	def := os.Getenv("WGD_SOCKET")
	if def == "" {
		def = api.DefaultSocket
	}
	return fs, fs.String("socket", def, "control socket")
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func cmdRun(args []string, stderr io.Writer) error {
	// The runtime and package initialisation have mapped most of the
	// binary by now (fault-around maps 64 KiB per fault): let the daemon's
	// start fault back only what it uses (cmd/wgd/pageout_linux.go).
	pageoutBinary()
	fs, socket := flags("run")
	configDir := fs.String("config-dir", "/etc/config", "directory of the UCI files network and wgd")
	uapiDir := fs.String("uapi-dir", device.DefaultUAPIDir, "directory of the wg(8) sockets")
	netifd := fs.Bool("netifd", false, "run under netifd: bring up only what its protocol handler asks for, leave L3 to it")
	netifdState := fs.String("netifd-state", "/var/run/wgd.netifd", "file remembering the interfaces netifd asked for")
	if err := parse(fs, args); err != nil {
		return err
	}
	level := new(slog.LevelVar)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var d *daemon.Daemon
	m := &metricsServer{ctx: ctx, log: log, start: startMetrics}
	opts := daemon.Options{
		ConfigDir: *configDir, Socket: *socket, UAPIDir: *uapiDir,
		Logger: log, Level: level,
		Settings: func(s config.Daemon) {
			m.set(s.MetricsListen, hotplug.WANConfig{Names: s.WANInterfaces, Devices: s.WANDevices}, s.MetricsEndpointLabels, d.Status)
		},
	}
	var stopPageout func()
	opts.Applied, stopPageout = pageoutWhenSettled(ctx, log)
	opts.Stop = func() { m.stop(); stopPageout() }
	if *netifd {
		opts.Netifd, opts.NetifdState = true, *netifdState
		opts.NetifdCall = daemon.NetifdUbus(log, func(ctx context.Context, iface string) {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := d.IfDown(ctx, iface); err != nil {
				log.Warn("interface down", "interface", iface, "error", err)
			}
		})
	}
	d = daemon.New(opts)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reloads := make(chan struct{}) // closed when SIGHUP is no longer followed
	go func() {
		defer close(reloads)
		for {
			select {
			case <-hup:
			case <-ctx.Done():
				return
			}
			if _, err := d.Reload(ctx); err != nil {
				log.Error("reload", "error", err)
			}
		}
	}()
	log.Info("wgd starting", "version", version, "data_plane", dataPlaneProfile(), "config_dir", *configDir, "netifd", *netifd)
	err := d.Run(ctx)
	stop() // Run may also end by itself (its socket taken)
	<-reloads
	return err
}

// metricsServer starts the metrics endpoint, and applies changes of its
// settings: the listener stays when the address and the WAN's names do,
// and is closed before a new address is bound (or the same one checked
// against other WAN names).
type metricsServer struct {
	ctx            context.Context
	log            *slog.Logger
	addr           string
	wan            hotplug.WANConfig
	endpointLabels bool
	started        bool
	srv            metricsServing // nil: none
	start          func(ctx context.Context, addr string, wan hotplug.WANConfig, endpointLabels bool,
		status func(context.Context) (*api.Status, error), log *slog.Logger) (metricsServing, error) // startMetrics
}

// metricsServing is a running metrics endpoint.
type metricsServing interface {
	setEndpointLabels(bool)
	close() error
}

func (m *metricsServer) set(addr string, wan hotplug.WANConfig, endpointLabels bool, status func(context.Context) (*api.Status, error)) {
	if m.started && addr == m.addr && reflect.DeepEqual(wan, m.wan) {
		if endpointLabels != m.endpointLabels && m.srv != nil {
			m.srv.setEndpointLabels(endpointLabels)
		}
		m.endpointLabels = endpointLabels
		return
	}
	m.stop()
	m.addr, m.wan, m.endpointLabels, m.started = addr, wan, endpointLabels, true
	srv, err := m.start(m.ctx, addr, wan, endpointLabels, status, m.log)
	if err != nil {
		m.log.Error("metrics not served", "metrics_listen", addr, "error", err)
		m.started = false // try again on the next reload
		return
	}
	m.srv = srv
}

// stop closes the endpoint, if any, and returns once its port is free.
func (m *metricsServer) stop() {
	if m.srv == nil {
		return
	}
	if err := m.srv.close(); err != nil {
		m.log.Warn("metrics server", "error", err)
	}
	m.srv = nil
}

// cmdInterface passes netifd's protocol handler requests to the daemon;
// ifup prints what the handler reports to netifd, as JSON.
func cmdInterface(cmd string, args []string, stdout io.Writer) error {
	fs, socket := flags(cmd)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: wgd %s IFACE", errUsage, cmd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out jsonRaw
	if err := api.Call(ctx, *socket, cmd, api.InterfaceArgs{Interface: fs.Arg(0)}, &out); err != nil {
		return err
	}
	if cmd == "ifup" {
		_, err := stdout.Write(append(out, '\n'))
		return err
	}
	return nil
}

func cmdReload(args []string, stdout io.Writer) error {
	fs, socket := flags("reload")
	if err := parse(fs, args); err != nil {
		return err
	}
	var res api.ReloadResult
	if err := call(*socket, "reload", &res); err != nil {
		return err
	}
	for _, p := range res.Problems {
		fmt.Fprintln(stdout, p)
	}
	for _, f := range res.Failed {
		fmt.Fprintln(stdout, "failed:", f)
	}
	for _, k := range res.Kept {
		fmt.Fprintln(stdout, "kept on its last good configuration:", k)
	}
	fmt.Fprintf(stdout, "reloaded: %s up, %s down, %s updated\n", names(res.Up), names(res.Down), names(res.Updated))
	if res.Errors > 0 || len(res.Failed) > 0 {
		return fmt.Errorf("applied with %d configuration errors and %d failed interfaces", res.Errors, len(res.Failed))
	}
	return nil
}

func names(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}

func cmdStatus(args []string, stdout io.Writer) error {
	fs, socket := flags("status")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *asJSON {
		var raw jsonRaw
		if err := call(*socket, "status", &raw); err != nil {
			return err
		}
		_, err := stdout.Write(append(raw, '\n'))
		return err
	}
	var s api.Status
	if err := call(*socket, "status", &s); err != nil {
		return err
	}
	return printStatus(stdout, &s, time.Now())
}

func call(socket, command string, result any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return api.Call(ctx, socket, command, nil, result)
}

func printKey(w io.Writer, gen func() (config.Secret, error)) error {
	k, err := gen()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, k.Base64())
	return err
}

func cmdPubkey(stdin io.Reader, stdout io.Writer) error {
	in, err := io.ReadAll(io.LimitReader(stdin, 1024))
	if err != nil {
		return err
	}
	k, err := config.ParseSecret(strings.TrimSpace(string(in)))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, k.PublicKey())
	return err
}
