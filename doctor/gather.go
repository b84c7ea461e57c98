package doctor

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"wgd/api"
	"wgd/config"
	"wgd/firewall"
	"wgd/internal/rtnl"
	"wgd/uci"
)

// Options say where Gather looks.
type Options struct {
	ConfigDir string
	Socket    string
	// Resolve looks a name up; nil: the system's resolver.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Gather reads the facts from this host: the configuration, the daemon's
// status, the kernel's routes and sockets, the firewall and DNS.
func Gather(ctx context.Context, o Options) *Facts {
	f := &Facts{Now: time.Now(), ConfigDir: o.ConfigDir}
	f.Config, f.Problems = config.Load(o.ConfigDir)
	if network, _ := uci.Load(o.ConfigDir, "network"); network != nil {
		f.LAN = config.ReadLAN(network).Networks
	}
	var st api.Status
	if err := api.Call(ctx, o.Socket, "status", nil, &st); err != nil {
		f.StatusErr = err
	} else {
		f.Status = &st
	}
	f.WAN, _ = rtnl.ReadSnapshot()
	f.UDPPorts = boundUDPPorts()
	f.Firewall, f.FirewallErr = readFirewall(f)
	if ep := f.Config.Daemon.PublicEndpoint; ep != "" {
		f.PublicAddrs, f.PublicErr = resolve(ctx, o, ep)
	}
	return f
}

func resolve(ctx context.Context, o Options, endpoint string) ([]netip.Addr, error) {
	host, _, err := config.ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if o.Resolve != nil {
		return o.Resolve(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// boundUDPPorts reads the UDP sockets of this network namespace.
func boundUDPPorts() map[uint16]bool {
	ports := map[uint16]bool{}
	for _, file := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		fh, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 {
				continue
			}
			_, port, ok := strings.Cut(fields[1], ":") // local_address: ADDR:PORT in hex
			if n, err := strconv.ParseUint(port, 16, 16); ok && err == nil {
				ports[uint16(n)] = true
			}
		}
		fh.Close()
	}
	return ports
}

// readFirewall asks the input chains about every listen port, arriving on
// the link of the default route.
func readFirewall(f *Facts) (map[Probe]firewall.Admission, error) {
	if f.WAN == nil || f.Config == nil {
		return nil, nil
	}
	dev := ""
	for _, r := range f.WAN.Defaults {
		for _, i := range r.Links() {
			if l, ok := f.WAN.Links[i]; ok && dev == "" {
				dev = l.Name
			}
		}
	}
	if dev == "" {
		return nil, nil
	}
	// The kernel runs the input chains of nftables and of iptables-legacy
	// (fw3) in turn: a port is open when both admit it.
	var judges []func(firewall.Probe) (firewall.Admission, error)
	if _, err := exec.LookPath("nft"); err == nil {
		listing, err := exec.Command("nft", "--terse", "--json", "list", "ruleset").Output()
		if err != nil {
			return nil, errors.New("nft list ruleset: " + err.Error())
		}
		judges = append(judges, func(p firewall.Probe) (firewall.Admission, error) { return firewall.NftAdmits(listing, p) })
	}
	if v4, v6 := legacyIptables(); v4 != "" {
		listings := map[bool]string{}
		for family, bin := range map[bool]string{false: v4, true: v6} {
			out, err := exec.Command(bin, "-w", "-S").Output()
			if err != nil {
				return nil, errors.New(bin + " -S: " + err.Error())
			}
			listings[family] = string(out)
		}
		judges = append(judges, func(p firewall.Probe) (firewall.Admission, error) {
			return firewall.IptablesAdmits(listings[p.IPv6], p)
		})
	}
	if len(judges) == 0 {
		return nil, errors.New("neither nft nor iptables is installed: the firewall cannot be read back")
	}
	out := map[Probe]firewall.Admission{}
	for _, c := range f.Config.Interfaces {
		if c.ListenPort == 0 {
			continue
		}
		for _, v6 := range []bool{false, true} {
			verdict := firewall.Admission{Admitted: true}
			for _, judge := range judges {
				a, err := judge(firewall.Probe{IPv6: v6, Device: dev, Port: c.ListenPort})
				if err != nil {
					return nil, err
				}
				if verdict.Admitted && !a.Admitted {
					verdict.Admitted, verdict.Chain = false, a.Chain
				}
				verdict.Unsure = verdict.Unsure || a.Unsure
			}
			out[Probe{Port: c.ListenPort, IPv6: v6}] = verdict
		}
	}
	return out, nil
}

// legacyIptables names the commands of iptables-legacy, whose rules nft
// does not show ("" when there is none): plain iptables where it is the
// legacy one (fw3), else iptables-legacy.
func legacyIptables() (v4, v6 string) {
	if out, err := exec.Command("iptables", "-V").Output(); err == nil && strings.Contains(string(out), "legacy") {
		return "iptables", "ip6tables"
	}
	if _, err := exec.LookPath("iptables-legacy"); err == nil {
		if _, err := exec.LookPath("ip6tables-legacy"); err == nil {
			return "iptables-legacy", "ip6tables-legacy"
		}
	}
	return "", ""
}
