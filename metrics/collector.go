package metrics

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options tune what the collector exports.
type Options struct {
	// EndpointLabels adds remote_ip and remote_port to the peer metrics
	// (MindFlavor's -r). Off by default: a roaming peer then starts new
	// series at every move.
	EndpointLabels bool
	// RecentHandshake is how old a handshake may be for its peer to count
	// as connected. Default 3 minutes: WireGuard's Reject-After-Time, after
	// which a session carries no more data.
	RecentHandshake time.Duration
	// Timeout bounds reading the Source at each scrape. Default 5 s.
	Timeout time.Duration
	// Version and Profile describe the build, for wgd_build_info.
	Version, Profile string
}

const (
	defaultRecentHandshake = 3 * time.Minute
	defaultTimeout         = 5 * time.Second
)

// Collector is a prometheus.Collector reading its Source at every scrape.
type Collector struct {
	src  Source
	opts Options
	now  func() time.Time // the clock handshake ages are measured against

	sent, received, handshake, handshakeDelay *prometheus.Desc

	ifaceUp, ifaceListenPort, ifacePeers, ifacePeersRecent, ifaceDropped, ifaceProblem *prometheus.Desc

	buildInfo, lastReload, problems, reloads, lastReloadOK *prometheus.Desc
	hotplugEvents, hotplugDropped, hotplugRefreshes        *prometheus.Desc
	resolutions, firewall                                  *prometheus.Desc
	poolCapacity, poolInUse                                *prometheus.Desc

	totalSent, totalReceived, expiry *prometheus.Desc
}

// NewCollector makes a collector of src's state.
func NewCollector(src Source, opts Options) *Collector {
	if opts.RecentHandshake <= 0 {
		opts.RecentHandshake = defaultRecentHandshake
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	peer := []string{"interface", "public_key", "allowed_ips", "friendly_name"}
	if opts.EndpointLabels {
		peer = append(peer, "remote_ip", "remote_port")
	}
	iface := []string{"interface"}
	d := prometheus.NewDesc
	return &Collector{
		src:  src,
		opts: opts,
		now:  time.Now,

		sent:           d("wireguard_sent_bytes_total", "Bytes sent to the peer.", peer, nil),
		received:       d("wireguard_received_bytes_total", "Bytes received from the peer.", peer, nil),
		handshake:      d("wireguard_latest_handshake_seconds", "UNIX time of the latest handshake with the peer, 0 if none yet.", peer, nil),
		handshakeDelay: d("wireguard_latest_handshake_delay_seconds", "Seconds since the latest handshake with the peer; absent if none yet.", peer, nil),

		ifaceUp:          d("wireguard_interface_up", "Whether the interface is running (1) or configured but down (0).", iface, nil),
		ifaceListenPort:  d("wireguard_interface_listen_port", "UDP port the interface listens on.", iface, nil),
		ifacePeers:       d("wireguard_interface_peers", "Peers configured on the interface.", iface, nil),
		ifacePeersRecent: d("wireguard_interface_peers_recent_handshake", "Peers whose latest handshake is at most "+opts.RecentHandshake.String()+" old.", iface, nil),
		ifaceDropped:     d("wireguard_interface_dropped_packets_total", "Packets the interface dropped for being larger than its data plane carries (from its link after an MTU raised from outside, or from the network).", iface, nil),
		ifaceProblem:     d("wgd_interface_problem", "Why the interface is down, not on its configuration or without all of its layer 3: config_errors (kept on its last good configuration), listen_port_in_use, error or layer3_missing; the value is always 1.", []string{"interface", "reason"}, nil),

		buildInfo:        d("wgd_build_info", "Build of the running wgd; the value is always 1.", []string{"version", "profile", "goversion"}, nil),
		lastReload:       d("wgd_config_last_reload_timestamp_seconds", "UNIX time the configuration was last applied.", nil, nil),
		problems:         d("wgd_config_problems", "Problems (errors and warnings) found in the configuration last applied.", nil, nil),
		reloads:          d("wgd_config_reloads_total", "Configuration loads by result: ok, partial (applied with errors) or failed (not applied).", []string{"result"}, nil),
		lastReloadOK:     d("wgd_config_last_reload_success", "Whether the latest configuration load applied without problems.", nil, nil),
		hotplugEvents:    d("wgd_hotplug_events_total", "Hotplug events received.", nil, nil),
		hotplugDropped:   d("wgd_hotplug_events_dropped_total", "Hotplug events dropped because the queue was full.", nil, nil),
		hotplugRefreshes: d("wgd_hotplug_refreshes_total", "Refreshes (endpoint re-resolution, socket rebind) caused by hotplug events.", nil, nil),
		resolutions:      d("wgd_endpoint_resolutions_total", "Resolutions of endpoint names by result: ok or failed.", []string{"result"}, nil),
		firewall:         d("wgd_firewall_rule_active", "Whether the firewall rule opening the listen ports is in place.", []string{"backend"}, nil),
		poolCapacity:     d("wgd_buffer_pool_capacity", "Packet buffers the pool may hold at most.", nil, nil),
		poolInUse:        d("wgd_buffer_pool_in_use", "Packet buffers in use.", nil, nil),

		totalSent:     d("wgd_peer_sent_bytes_total", "Bytes sent to the peer over all its sessions, across restarts of wgd and the router.", peer, nil),
		totalReceived: d("wgd_peer_received_bytes_total", "Bytes received from the peer over all its sessions, across restarts of wgd and the router.", peer, nil),
		expiry:        d("wgd_peer_expiry_seconds", "Seconds until the peer's access expires (option expires), 0 once it has; absent for peers that never expire.", peer, nil),
	}
}

func (c *Collector) descs() []*prometheus.Desc {
	return []*prometheus.Desc{
		c.sent, c.received, c.handshake, c.handshakeDelay,
		c.ifaceUp, c.ifaceListenPort, c.ifacePeers, c.ifacePeersRecent, c.ifaceDropped, c.ifaceProblem,
		c.buildInfo, c.lastReload, c.problems, c.reloads, c.lastReloadOK,
		c.hotplugEvents, c.hotplugDropped, c.hotplugRefreshes, c.resolutions, c.firewall,
		c.poolCapacity, c.poolInUse,
		c.totalSent, c.totalReceived, c.expiry,
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads the Source once and
// exports what it holds. When the Source fails, the scrape fails with it:
// a missing state must not look like an idle one.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.buildInfo, prometheus.GaugeValue, 1,
		label(c.opts.Version), label(c.opts.Profile), runtime.Version())
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	s, err := c.src.Snapshot(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.ifaceUp, err)
		return
	}
	now := c.now()
	for _, i := range s.Interfaces {
		c.collectInterface(ch, &i, now)
	}
	c.collectDaemon(ch, &s.Daemon)
}

func (c *Collector) collectInterface(ch chan<- prometheus.Metric, i *Interface, now time.Time) {
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, label(i.Name))
	}
	gauge(c.ifaceUp, boolValue(i.Up))
	gauge(c.ifaceListenPort, float64(i.ListenPort))
	gauge(c.ifacePeers, float64(len(i.Peers)))
	if i.Reason != "" {
		ch <- prometheus.MustNewConstMetric(c.ifaceProblem, prometheus.GaugeValue, 1, label(i.Name), label(i.Reason))
	}
	if i.DroppedPackets != nil {
		ch <- prometheus.MustNewConstMetric(c.ifaceDropped, prometheus.CounterValue, float64(*i.DroppedPackets), label(i.Name))
	}
	recent := 0
	seen := make(map[string]bool, len(i.Peers))
	for _, p := range i.Peers {
		// The same key twice would make the whole scrape fail; the
		// configuration does not allow it, so this only guards.
		if seen[p.PublicKey] {
			continue
		}
		seen[p.PublicKey] = true
		labels := c.peerLabels(i.Name, &p)
		ch <- prometheus.MustNewConstMetric(c.sent, prometheus.CounterValue, float64(p.TxBytes), labels...)
		ch <- prometheus.MustNewConstMetric(c.received, prometheus.CounterValue, float64(p.RxBytes), labels...)
		ch <- prometheus.MustNewConstMetric(c.handshake, prometheus.GaugeValue, float64(p.LatestHandshake), labels...)
		if p.Totals != nil {
			ch <- prometheus.MustNewConstMetric(c.totalSent, prometheus.CounterValue, float64(p.Totals.Tx), labels...)
			ch <- prometheus.MustNewConstMetric(c.totalReceived, prometheus.CounterValue, float64(p.Totals.Rx), labels...)
		}
		if p.Expires != 0 {
			left := max(time.Unix(p.Expires, 0).Sub(now), 0)
			ch <- prometheus.MustNewConstMetric(c.expiry, prometheus.GaugeValue, left.Truncate(time.Second).Seconds(), labels...)
		}
		if p.LatestHandshake == 0 {
			continue
		}
		// A handshake stamped ahead of our clock is as fresh as it gets.
		age := max(now.Sub(time.Unix(p.LatestHandshake, 0)), 0)
		ch <- prometheus.MustNewConstMetric(c.handshakeDelay, prometheus.GaugeValue, age.Truncate(time.Second).Seconds(), labels...)
		if age <= c.opts.RecentHandshake {
			recent++
		}
	}
	gauge(c.ifacePeersRecent, float64(recent))
}

// peerLabels are the values of the peer metrics' labels, in the order of
// their descriptions.
func (c *Collector) peerLabels(iface string, p *Peer) []string {
	ips := make([]string, len(p.AllowedIPs))
	for k, a := range p.AllowedIPs {
		ips[k] = a.String()
	}
	labels := []string{label(iface), p.PublicKey, strings.Join(ips, ","), label(p.Description)}
	if c.opts.EndpointLabels {
		ip, port := "", ""
		if p.Endpoint.IsValid() {
			ip, port = p.Endpoint.Addr().String(), strconv.Itoa(int(p.Endpoint.Port()))
		}
		labels = append(labels, ip, port)
	}
	return labels
}

func (c *Collector) collectDaemon(ch chan<- prometheus.Metric, d *Daemon) {
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	if !d.LastReload.IsZero() {
		gauge(c.lastReload, float64(d.LastReload.Unix()))
		gauge(c.problems, float64(d.Problems))
	}
	if r := d.Reloads; r != nil {
		counter(c.reloads, r.OK, ReloadOK)
		counter(c.reloads, r.Partial, ReloadPartial)
		counter(c.reloads, r.Failed, ReloadFailed)
		if r.Last != "" {
			gauge(c.lastReloadOK, boolValue(r.Last == ReloadOK))
		}
	}
	if h := d.Hotplug; h != nil {
		counter(c.hotplugEvents, h.Events)
		counter(c.hotplugDropped, h.Dropped)
		counter(c.hotplugRefreshes, h.Refreshes)
	}
	if r := d.Resolutions; r != nil {
		counter(c.resolutions, r.OK, "ok")
		counter(c.resolutions, r.Failed, "failed")
	}
	if f := d.Firewall; f != nil {
		gauge(c.firewall, boolValue(f.Active), label(f.Backend))
	}
	if p := d.Pool; p != nil {
		if p.Capacity > 0 {
			gauge(c.poolCapacity, float64(p.Capacity))
		}
		gauge(c.poolInUse, float64(p.InUse))
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// label makes text from the configuration a valid label value: UCI
// values are bytes, label values must be UTF-8 or the scrape fails.
func label(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}
