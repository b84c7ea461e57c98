package device

import (
	"fmt"
	"time"

	wgdevice "golang.zx2c4.com/wireguard/device"

	"wgd/config"
)

// Rebind reopens the UDP sockets on the same port and forgets the source
// addresses cached for the peers.
func (i *Interface) Rebind() error {
	// A configured port is set again rather than rebound: should the port
	// have been lost, the engine would otherwise open a random one.
	var err error
	if port := i.applied.Config.ListenPort; port != 0 {
		err = i.setPort(port)
	} else {
		err = i.dev.BindUpdate()
	}
	if err != nil {
		return portError(i.applied.Config.ListenPort, fmt.Errorf("rebind %s: %w", i.name, err))
	}
	return nil
}

// Kick sends a keepalive to each of peers (all peers when nil) that has
// an endpoint or a persistent keepalive; one without a current session
// gets a handshake initiation instead. A peer whose endpoint was only
// learnt from its packets (roaming) counts as having one. It returns how
// many peers were kicked.
func (i *Interface) Kick(peers []config.Key) int {
	st, err := i.State()
	if err != nil {
		i.log.Warn("kick: reading peers", "error", err)
		return 0
	}
	n := 0
	for _, p := range st.Peers {
		if peers != nil && !containsKey(peers, p.PublicKey) {
			continue
		}
		if !p.Endpoint.IsValid() && p.PersistentKeepalive == 0 {
			continue
		}
		peer := i.dev.LookupPeer(wgdevice.NoisePublicKey(p.PublicKey))
		if peer == nil {
			continue
		}
		// Without an endpoint there is nowhere to send: the engine
		// drops it, and the peer's own keepalive will reach us.
		peer.SendKeepalive()
		n++
	}
	return n
}

func containsKey(keys []config.Key, k config.Key) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// Handshake starts a handshake with peer now unless it has a session: a
// peer given its endpoint late need not wait for the engine's retry
// (5 seconds after the attempt that had nowhere to go).
func (i *Interface) Handshake(peer config.Key) {
	p := i.dev.LookupPeer(wgdevice.NoisePublicKey(peer))
	if p == nil {
		return
	}
	st, err := i.State()
	if err != nil {
		return
	}
	for _, ps := range st.Peers {
		if ps.PublicKey == peer && !ps.LastHandshake.IsZero() && time.Since(ps.LastHandshake) < wgdevice.RejectAfterTime {
			return // a session that is still good
		}
	}
	// Forgets the handshake state, and with it the time of the last
	// attempt that holds the next one back.
	p.ExpireCurrentKeypairs()
	p.SendHandshakeInitiation(false)
}
