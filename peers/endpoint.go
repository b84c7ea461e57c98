package peers

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"wgd/config"
	"wgd/hotplug"
	"wgd/internal/rtnl"
)

// Endpoint is where a client connects: host:port.
//
// The host is, in order: given (the --endpoint flag), public (option
// public_endpoint of /etc/config/wgd), or the router's address on the
// WAN (WANAddress). A port in given or public wins over listenPort.
// warning is set when the detected address cannot be reached from the
// internet.
func Endpoint(given, public string, listenPort uint16, wan hotplug.WANConfig) (endpoint, warning string, err error) {
	var host string
	var port uint16
	for _, s := range []string{given, public} {
		if s == "" {
			continue
		}
		if host, port, err = config.ParseEndpoint(s); err != nil {
			return "", "", err
		}
		break
	}
	if host == "" {
		a, err := WANAddress(wan)
		if err != nil {
			return "", "", fmt.Errorf("%w; set option public_endpoint in the wgd config file or pass --endpoint", err)
		}
		host = a.String()
		if !Public(a) {
			warning = fmt.Sprintf("the router's WAN address %s is not reachable from the internet; "+
				"set option public_endpoint in the wgd config file (for instance a dynamic DNS name) or pass --endpoint", a)
		}
	}
	if port == 0 {
		port = listenPort
	}
	if port == 0 {
		return "", "", errors.New("the interface has no fixed listen_port for clients to connect to; set option listen_port")
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port))), warning, nil
}

// WANAddress is the router's address on the WAN links wan names, IPv4
// first (hotplug.Address).
func WANAddress(wan hotplug.WANConfig) (netip.Addr, error) {
	s, err := rtnl.ReadSnapshot()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("reading the routes: %w", err)
	}
	if a, ok := hotplug.Address(s, wan); ok {
		return a, nil
	}
	return netip.Addr{}, errors.New("no route to the internet to take the router's public address from")
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Public reports whether a can be reached from the internet, as far as
// the address itself tells.
func Public(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate() && !cgnat.Contains(a)
}
