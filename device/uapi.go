package device

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"wgd/config"
)

// uapiDelta writes the wireguard-go configuration commands that move a
// device from old to new. Peers that are equal in both are not mentioned,
// so their sessions, endpoints learnt by roaming and counters stay.
func uapiDelta(old, new Desired) string {
	var b strings.Builder
	line := func(key, value string) { b.WriteString(key + "=" + value + "\n") }
	o, n := &old.Config, &new.Config
	if o.PrivateKey != n.PrivateKey {
		line("private_key", n.PrivateKey.Hex())
	}
	if o.ListenPort != n.ListenPort {
		line("listen_port", strconv.Itoa(int(n.ListenPort)))
	}
	if o.FwMark != n.FwMark {
		line("fwmark", strconv.FormatUint(uint64(n.FwMark), 10))
	}
	for _, p := range o.Peers {
		if n.Peer(p.PublicKey) == nil {
			line("public_key", p.PublicKey.Hex())
			line("remove", "true")
		}
	}
	contested := contestedIPs(o, n)
	for _, p := range n.Peers {
		was := o.Peer(p.PublicKey)
		endpoint, hadEndpoint := new.Endpoints[p.PublicKey], false
		if was != nil {
			var oldEndpoint netip.AddrPort
			oldEndpoint, hadEndpoint = old.Endpoints[p.PublicKey]
			hadEndpoint = hadEndpoint && oldEndpoint == endpoint
		}
		resend := slices.ContainsFunc(p.AllowedIPs, func(a netip.Prefix) bool { return contested[a] })
		if was != nil && peerEqual(*was, p) && (hadEndpoint || !endpoint.IsValid()) && !resend {
			continue
		}
		line("public_key", p.PublicKey.Hex())
		if was != nil {
			line("update_only", "true")
		}
		if was == nil || was.PresharedKey != p.PresharedKey {
			line("preshared_key", p.PresharedKey.Hex())
		}
		if endpoint.IsValid() && !hadEndpoint {
			line("endpoint", endpoint.String())
		}
		if was == nil || was.PersistentKeepalive != p.PersistentKeepalive {
			line("persistent_keepalive_interval", strconv.Itoa(int(p.PersistentKeepalive)))
		}
		if was == nil || !slices.Equal(was.AllowedIPs, p.AllowedIPs) || resend {
			line("replace_allowed_ips", "true")
			for _, a := range p.AllowedIPs {
				line("allowed_ip", a.String())
			}
		}
	}
	return b.String()
}

// contestedIPs are the allowed IPs of the peers that are removed, added
// or given other allowed IPs. The engine routes an allowed IP to the peer
// that was given it last; every peer holding one of these gets its list
// again, in configuration order, so that the last peer of the
// configuration holds it, as after a fresh start.
func contestedIPs(o, n *config.Interface) map[netip.Prefix]bool {
	out := map[netip.Prefix]bool{}
	for _, p := range o.Peers {
		if q := n.Peer(p.PublicKey); q == nil || !slices.Equal(p.AllowedIPs, q.AllowedIPs) {
			for _, a := range p.AllowedIPs {
				out[a] = true
			}
		}
	}
	for _, p := range n.Peers {
		if q := o.Peer(p.PublicKey); q == nil || !slices.Equal(p.AllowedIPs, q.AllowedIPs) {
			for _, a := range p.AllowedIPs {
				out[a] = true
			}
		}
	}
	return out
}

// peerEqual compares what the engine runs; description and route flags
// do not reach it.
func peerEqual(a, b config.Peer) bool {
	return a.PresharedKey == b.PresharedKey &&
		a.PersistentKeepalive == b.PersistentKeepalive &&
		slices.Equal(a.AllowedIPs, b.AllowedIPs)
}

// PeerState is what the engine reports of one peer.
type PeerState struct {
	PublicKey           config.Key
	Endpoint            netip.AddrPort // zero if none known
	LastHandshake       time.Time      // zero if never
	RxBytes, TxBytes    uint64
	PersistentKeepalive uint16
	AllowedIPs          []netip.Prefix
}

// State is what the engine reports of the interface.
type State struct {
	ListenPort uint16
	FwMark     uint32
	Peers      []PeerState
	// The packet buffer pool: its bound (0: unbounded or not reported by
	// this build's engine) and the buffers in use.
	PoolCapacity, PoolInUse int
	// Packets dropped for being larger than the data plane's buffers
	// (patches/0014, 0015): read from the TUN after the link's MTU was
	// raised, of which TooBigSent were answered with an ICMP error; and
	// datagrams from the network too large to receive. Zero when this
	// build's engine does not count them.
	OversizedFromTUN, OversizedFromNetwork, TooBigSent uint64
}

// poolStats is what the patched engine adds (patches/0011); plain
// upstream builds have no such method and report no pool.
type poolStats interface {
	BufferPoolStats() (capacity, inUse int)
}

// oversizedDrops is what the patched engine adds (patches/0014).
type oversizedDrops interface {
	OversizedDrops() (fromTUN, fromNetwork, icmpSent uint64)
}

// State reads the running state from the engine.
func (i *Interface) State() (State, error) {
	text, err := i.dev.IpcGet()
	if err != nil {
		return State{}, fmt.Errorf("read state of %s: %w", i.name, err)
	}
	s, err := parseState(text)
	if ps, ok := any(i.dev).(poolStats); ok {
		s.PoolCapacity, s.PoolInUse = ps.BufferPoolStats()
	}
	if od, ok := any(i.dev).(oversizedDrops); ok {
		s.OversizedFromTUN, s.OversizedFromNetwork, s.TooBigSent = od.OversizedDrops()
	}
	return s, err
}

// parseState reads the engine's "get" answer. Secret lines (private_key,
// preshared_key) are skipped without being kept anywhere.
func parseState(text string) (State, error) {
	var s State
	var peer *PeerState
	var sec, nsec int64
	finish := func() {
		if peer != nil && (sec != 0 || nsec != 0) {
			peer.LastHandshake = time.Unix(sec, nsec)
		}
		sec, nsec = 0, 0
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		var err error
		switch key {
		case "listen_port":
			var n uint64
			n, err = strconv.ParseUint(value, 10, 16)
			s.ListenPort = uint16(n)
		case "fwmark":
			var n uint64
			n, err = strconv.ParseUint(value, 10, 32)
			s.FwMark = uint32(n)
		case "public_key":
			finish()
			s.Peers = append(s.Peers, PeerState{})
			peer = &s.Peers[len(s.Peers)-1]
			var k []byte
			k, err = hex.DecodeString(value)
			if err == nil && len(k) == config.KeyLen {
				peer.PublicKey = config.Key(k)
			}
		}
		if peer == nil || err != nil {
			if err != nil {
				return s, fmt.Errorf("engine state: %s: %w", key, err)
			}
			continue
		}
		switch key {
		case "endpoint":
			peer.Endpoint, err = netip.ParseAddrPort(value)
		case "last_handshake_time_sec":
			sec, err = strconv.ParseInt(value, 10, 64)
		case "last_handshake_time_nsec":
			nsec, err = strconv.ParseInt(value, 10, 64)
		case "rx_bytes":
			peer.RxBytes, err = strconv.ParseUint(value, 10, 64)
		case "tx_bytes":
			peer.TxBytes, err = strconv.ParseUint(value, 10, 64)
		case "persistent_keepalive_interval":
			var n uint64
			n, err = strconv.ParseUint(value, 10, 16)
			peer.PersistentKeepalive = uint16(n)
		case "allowed_ip":
			var p netip.Prefix
			p, err = netip.ParsePrefix(value)
			peer.AllowedIPs = append(peer.AllowedIPs, p)
		}
		if err != nil {
			return s, fmt.Errorf("engine state: %s: %w", key, err)
		}
	}
	finish()
	return s, nil
}
