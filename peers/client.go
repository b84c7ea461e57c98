package peers

import (
	"net/netip"
	"strconv"
	"strings"

	"wgd/config"
)

// DefaultKeepalive keeps a client's NAT mapping open, as phones need.
const DefaultKeepalive = 25

// Client is the configuration of the device at the other end of a peer
// section: what its WireGuard app or wg-quick needs to reach the router.
type Client struct {
	PrivateKey   config.Secret
	Addresses    []netip.Prefix // its tunnel addresses
	DNS          []string       // resolvers (and search domains) for wg-quick's DNS line
	MTU          int            // 0: the client's default
	ServerKey    config.Key     // the router interface's public key
	PresharedKey config.Secret  // zero: none
	AllowedIPs   []netip.Prefix // what the client sends into the tunnel
	Endpoint     string         // host:port of the router
	Keepalive    int            // seconds, 0: off
}

// Config renders c in wg-quick's format, which the WireGuard apps import
// as a file or a QR code. It holds the client's private key: it is for
// the client, never for a log.
func (c *Client) Config() string {
	var b strings.Builder
	b.WriteString("[Interface]\n")
	b.WriteString("PrivateKey = " + c.PrivateKey.Base64() + "\n")
	if len(c.Addresses) > 0 {
		b.WriteString("Address = " + join(c.Addresses) + "\n")
	}
	if len(c.DNS) > 0 {
		b.WriteString("DNS = " + strings.Join(c.DNS, ", ") + "\n")
	}
	if c.MTU > 0 {
		b.WriteString("MTU = " + strconv.Itoa(c.MTU) + "\n")
	}
	b.WriteString("\n[Peer]\n")
	b.WriteString("PublicKey = " + c.ServerKey.String() + "\n")
	if !c.PresharedKey.IsZero() {
		b.WriteString("PresharedKey = " + c.PresharedKey.Base64() + "\n")
	}
	b.WriteString("AllowedIPs = " + join(c.AllowedIPs) + "\n")
	b.WriteString("Endpoint = " + c.Endpoint + "\n")
	if c.Keepalive > 0 {
		b.WriteString("PersistentKeepalive = " + strconv.Itoa(c.Keepalive) + "\n")
	}
	return b.String()
}

// usualMTU is what WireGuard clients use unless told otherwise.
const usualMTU = 1420

// FitMTU tells a client without an MTU of its own (the router's interface
// sets none: it follows the WAN) the tunnel's, when that is below the
// usual 1420; tunnel 0 is unknown.
func (c *Client) FitMTU(tunnel int) {
	if c.MTU == 0 && tunnel > 0 && tunnel < usualMTU {
		c.MTU = tunnel
	}
}

func join(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// FullTunnel is every address: the client sends all its traffic through
// the router.
var FullTunnel = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
