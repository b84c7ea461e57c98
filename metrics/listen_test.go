package metrics

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"

	"testing"
	"time"

	"golang.org/x/sys/unix"

	"wgd/hotplug"
	"wgd/internal/netnstest"
	"wgd/internal/rtnl"
)

// TestCheckAddrSyntax: what is refused without looking at the host's links.
func TestCheckAddrSyntax(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"", "want IP:port"},
		{"192.168.1.1", "want IP:port"},
		{"localhost:9586", "not a name"},
		{"router.lan:9586", "not a name"},
		{"[fe80::1%br-lan]:9586", "not a name"},
		{"127.0.0.1:http", "bad port"},
		{"127.0.0.1:0", "bad port"},
		{"127.0.0.1:70000", "bad port"},
		{":9586", "not a name"},
		{"0.0.0.0:9586", "all addresses"},
		{"[::]:9586", "all addresses"},
		{"224.0.0.1:9586", "not a unicast"},
		{"[fe80::1]:9586", "not a unicast"},
		{"198.51.100.1:9586", "public address"},
		{"100.64.0.1:9586", "public address"}, // carrier-grade NAT: a typical WAN address
		{"[2001:db8::1]:9586", "public address"},
	} {
		err := CheckAddr(c.addr, hotplug.WANConfig{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckAddr(%q) = %v, want an error with %q", c.addr, err, c.want)
		}
	}
	for _, addr := range []string{DefaultListen, "127.1.2.3:9586", "[::1]:9586", "[::ffff:127.0.0.1]:9586"} {
		if err := CheckAddr(addr, hotplug.WANConfig{}); err != nil {
			t.Errorf("CheckAddr(%q): %v, want loopback accepted", addr, err)
		}
	}
}

func run(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// links makes, in the test's private namespace, a LAN link, a WAN link with
// a private address and the IPv4 default route, an IPv6 uplink with the
// IPv6 default route, and two uplinks sharing a multipath default route in
// another table.
func links(t *testing.T) {
	t.Helper()
	for _, l := range []string{"lan0", "wan0", "wan6", "mp0", "mp1"} {
		run(t, "ip", "link", "add", l, "type", "veth", "peer", "name", l+"p")
		t.Cleanup(func() { exec.Command("ip", "link", "del", l).Run() })
		run(t, "ip", "link", "set", l, "up")
		run(t, "ip", "link", "set", l+"p", "up")
	}
	for _, a := range [][2]string{
		{"lan0", "192.168.77.1/24"}, {"lan0", "fd77::1/64"}, {"lan0", "198.18.0.1/24"},
		{"wan0", "192.168.88.2/24"}, {"wan6", "fd88::2/64"},
		{"mp0", "10.61.0.1/24"}, {"mp1", "10.62.0.1/24"},
	} {
		run(t, "ip", "addr", "add", a[1], "dev", a[0], "nodad")
	}
	run(t, "ip", "route", "add", "default", "via", "192.168.88.1", "dev", "wan0")
	run(t, "ip", "-6", "route", "add", "default", "via", "fd88::1", "dev", "wan6")
	run(t, "ip", "route", "add", "default", "table", "100",
		"nexthop", "via", "10.61.0.254", "dev", "mp0", "nexthop", "via", "10.62.0.254", "dev", "mp1")
	// Routes that lead nowhere are not an uplink.
	run(t, "ip", "-6", "route", "add", "unreachable", "default", "table", "101")
	t.Cleanup(func() { exec.Command("ip", "-6", "route", "del", "unreachable", "default", "table", "101").Run() })
}

// TestCheckAddrLinks: the LAN address is accepted, addresses of links with
// a default route (IPv4, IPv6, multipath, other tables) or named as the
// WAN are not.
func TestCheckAddrLinks(t *testing.T) {
	netnstest.Root(t)
	links(t)
	for _, c := range []struct{ addr, want string }{
		{"192.168.77.1:9586", ""},
		{"[fd77::1]:9586", ""},
		{"192.168.88.2:9586", "wan0 carries a default route"},
		{"[fd88::2]:9586", "wan6 carries a default route"},
		{"10.61.0.1:9586", "mp0 carries a default route"},
		{"10.62.0.1:9586", "mp1 carries a default route"},
		{"198.18.0.1:9586", "public address"},
		{"192.168.77.99:9586", "not an address of this host"},
	} {
		err := CheckAddr(c.addr, hotplug.WANConfig{})
		if c.want == "" && err != nil {
			t.Errorf("CheckAddr(%q): %v, want accepted", c.addr, err)
		}
		if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("CheckAddr(%q) = %v, want an error with %q", c.addr, err, c.want)
		}
	}
	// A link named as the WAN (option wan_interface) is the WAN, default
	// route or not.
	if err := CheckAddr("192.168.77.1:9586", hotplug.WANConfig{Names: []string{"lan0"}}); err == nil || !strings.Contains(err.Error(), "lan0 is a WAN interface") {
		t.Errorf("an address of a link named as the WAN: %v", err)
	}
	// By its netifd name (wan_interface 'uplink', whose device is lan0),
	// as the WAN monitor maps it.
	byNetifd := hotplug.WANConfig{Names: []string{"uplink"}, Devices: map[string][]string{"uplink": {"lan0"}}}
	if err := CheckAddr("192.168.77.1:9586", byNetifd); err == nil || !strings.Contains(err.Error(), "lan0 is a WAN interface") {
		t.Errorf("an address of a link named as the WAN by its netifd interface: %v", err)
	}
	if err := CheckAddr("192.168.77.1:9586", hotplug.WANConfig{Names: []string{"wan0", "wan"}}); err != nil {
		t.Errorf("the LAN address with other links named as the WAN: %v", err)
	}
	// Naming the WAN does not make a link with a default route the LAN.
	if err := CheckAddr("192.168.88.2:9586", hotplug.WANConfig{Names: []string{"lan0"}}); err == nil || !strings.Contains(err.Error(), "wan0 carries a default route") {
		t.Errorf("a default route's link with wan_interface naming another: %v", err)
	}
	s, err := rtnl.ReadSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	wan := map[string]bool{}
	for _, r := range s.Defaults {
		for _, i := range r.Links() {
			wan[s.Links[i].Name] = true
		}
	}
	if wan["lan0"] || len(wan) != 4 {
		t.Errorf("links with a default route: %v, want wan0, wan6, mp0 and mp1 only", wan)
	}
}

// TestListenBindsToLAN: a packet for the LAN address arriving on the WAN
// link (Linux accepts it: the weak host model) reaches a plain listener but
// not Listen's. The "internet" is a second namespace behind wan0 with a
// route to the LAN address through us.
func TestListenBindsToLAN(t *testing.T) {
	netnstest.Root(t)
	links(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	inet := exec.CommandContext(ctx, "unshare", "--net", "sleep", "60")
	if err := inet.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inet.Process.Kill(); inet.Wait() })
	pid := strconv.Itoa(inet.Process.Pid)
	// Wait until sleep runs in its own namespace, then move wan0's peer there.
	deadline := time.Now().Add(5 * time.Second)
	for run(t, "readlink", "/proc/"+pid+"/ns/net") == run(t, "readlink", "/proc/self/ns/net") {
		if time.Now().After(deadline) {
			t.Fatal("unshare did not enter a new namespace")
		}
		time.Sleep(10 * time.Millisecond)
	}
	run(t, "ip", "link", "set", "wan0p", "netns", pid)
	in := func(argv ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "nsenter", append([]string{"-t", pid, "-n"}, argv...)...).CombinedOutput()
		return string(out), err
	}
	for _, argv := range [][]string{
		{"ip", "link", "set", "wan0p", "up"},
		{"ip", "addr", "add", "192.168.88.1/24", "dev", "wan0p"},
		{"ip", "route", "add", "192.168.77.1/32", "via", "192.168.88.2"},
	} {
		if out, err := in(argv...); err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
	}
	fetch := func(port int) (string, error) {
		return in("socat", "-T", "5", "-u", fmt.Sprintf("TCP:192.168.77.1:%d,connect-timeout=5", port), "STDOUT")
	}
	serve := func(l net.Listener) {
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("metrics\n"))
				c.Close()
			}
		}()
	}

	// The control: without binding to the link, the WAN side gets in.
	plain, err := net.Listen("tcp", "192.168.77.1:9001")
	if err != nil {
		t.Fatal(err)
	}
	serve(plain)
	if out, err := fetch(9001); err != nil || strings.TrimSpace(out) != "metrics" {
		t.Fatalf("control: the WAN side cannot reach even a plain listener on the LAN address (%v: %s); the test proves nothing", err, out)
	}

	l, err := Listen(ctx, "192.168.77.1:9002", hotplug.WANConfig{})
	if err != nil {
		t.Fatal(err)
	}
	serve(l)
	if out, err := fetch(9002); err == nil {
		t.Errorf("the WAN side reached Listen's listener on the LAN address: %q", out)
	}
	// The LAN side and the host itself still get in.
	if c, err := net.DialTimeout("tcp", "192.168.77.1:9002", 5*time.Second); err != nil {
		t.Errorf("local connection to the LAN address: %v", err)
	} else {
		c.Close()
	}
	raw, err := l.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var dev string
	raw.Control(func(fd uintptr) {
		dev, err = unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
	})
	if err != nil || dev != "lan0" {
		t.Errorf("SO_BINDTODEVICE = %q, %v; want lan0", dev, err)
	}

	if _, err := Listen(ctx, "192.168.88.2:9003", hotplug.WANConfig{}); err == nil {
		t.Error("Listen accepted the WAN link's address")
	}
}
