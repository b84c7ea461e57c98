package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Totals across sessions and the time a guest has left are series of
// their own, only for peers that have them.
func TestCollectorTotalsAndExpiry(t *testing.T) {
	s := fixed()
	s.Interfaces[0].Peers[0].Totals = &Totals{Rx: 5 << 30, Tx: 7}
	s.Interfaces[0].Peers[0].Expires = now.Unix() + 3600
	s.Interfaces[0].Peers[1].Expires = now.Unix() - 10 // expired
	c := newTestCollector(fixedSource(s), Options{})
	want := `
# HELP wgd_peer_received_bytes_total Bytes received from the peer over all its sessions, across restarts of wgd and the router.
# TYPE wgd_peer_received_bytes_total counter
wgd_peer_received_bytes_total{allowed_ips="10.0.0.2/32,fd00:10::2/128",friendly_name="laptop",interface="wg0",public_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="} 5.36870912e+09
# HELP wgd_peer_sent_bytes_total Bytes sent to the peer over all its sessions, across restarts of wgd and the router.
# TYPE wgd_peer_sent_bytes_total counter
wgd_peer_sent_bytes_total{allowed_ips="10.0.0.2/32,fd00:10::2/128",friendly_name="laptop",interface="wg0",public_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="} 7
# HELP wgd_peer_expiry_seconds Seconds until the peer's access expires (option expires), 0 once it has; absent for peers that never expire.
# TYPE wgd_peer_expiry_seconds gauge
wgd_peer_expiry_seconds{allowed_ips="10.0.0.2/32,fd00:10::2/128",friendly_name="laptop",interface="wg0",public_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="} 3600
wgd_peer_expiry_seconds{allowed_ips="10.0.0.3/32",friendly_name="spare phone",interface="wg0",public_key="AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "wgd_peer_received_bytes_total", "wgd_peer_sent_bytes_total", "wgd_peer_expiry_seconds"); err != nil {
		t.Error(err)
	}
}
