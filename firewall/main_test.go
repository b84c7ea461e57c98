package firewall

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// responderEnv makes the test binary a responder instead of running tests:
// "udp/53 tcp/22 ..." are ports to answer on, IPv4 and IPv6, each datagram
// and each connection with "open". Tests start it inside a namespace.
// (socat's forking UDP server can hand a datagram to a child that is still
// finishing the previous one, which then never answers.)
const responderEnv = "WGD_FIREWALL_TEST_RESPONDER"

// probeEnv makes the test binary a probe: "udp/53 198.51.100.1" sends one
// datagram (or connects) and prints what comes back within probeWait.
const probeEnv = "WGD_FIREWALL_TEST_PROBE"

// probeWait is how long a probe waits for an answer: an admitted packet
// over veth is answered within milliseconds.
const probeWait = time.Second

func TestMain(m *testing.M) {
	if spec := os.Getenv(responderEnv); spec != "" {
		if err := respond(spec); err != nil {
			fmt.Fprintln(os.Stderr, "responder:", err)
			os.Exit(1)
		}
		select {} // until the lab stops it
	}
	if spec := os.Getenv(probeEnv); spec != "" {
		fmt.Print(probeOnce(spec))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// probeOnce returns the answer of "proto/port address", "" for none.
func probeOnce(spec string) string {
	p, addr, _ := strings.Cut(spec, " ")
	proto, port, _ := strings.Cut(p, "/")
	c, err := net.DialTimeout(proto, net.JoinHostPort(addr, port), probeWait)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(probeWait))
	if proto == "udp" {
		if _, err := c.Write([]byte("probe\n")); err != nil {
			return ""
		}
	}
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	return string(buf[:n])
}

func respond(spec string) error {
	for _, f := range strings.Fields(spec) {
		proto, num, _ := strings.Cut(f, "/")
		port, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("%q: %w", f, err)
		}
		// No host: one socket for IPv4 and IPv6.
		addr := ":" + strconv.Itoa(port)
		switch proto {
		case "udp":
			c, err := net.ListenPacket("udp", addr)
			if err != nil {
				return err
			}
			go func() {
				buf := make([]byte, 2048)
				for {
					_, from, err := c.ReadFrom(buf)
					if err != nil {
						return
					}
					c.WriteTo([]byte("open\n"), from)
				}
			}()
		case "tcp":
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Write([]byte("open\n"))
					c.Close()
				}
			}()
		default:
			return fmt.Errorf("%q: protocol udp or tcp", f)
		}
	}
	return nil
}
