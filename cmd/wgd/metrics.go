//go:build !nometrics

package main

import (
	"context"
	"log/slog"

	"wgd/api"
	"wgd/hotplug"
	"wgd/metrics"
)

// startMetrics opens addr (option metrics_listen of /etc/config/wgd) and
// serves Prometheus metrics there until the returned server is closed,
// reading the daemon's status at each scrape. An empty addr disables
// metrics (nil server). An address the WAN could reach is refused
// (metrics.Listen; wan says which links are the WAN); the error says
// why. endpointLabels adds the peers' endpoints as labels.
func startMetrics(ctx context.Context, addr string, wan hotplug.WANConfig, endpointLabels bool,
	status func(context.Context) (*api.Status, error), log *slog.Logger) (metricsServing, error) {
	if addr == "" {
		log.Info("metrics disabled (metrics_listen is empty)")
		return nil, nil
	}
	l, err := metrics.Listen(ctx, addr, wan)
	if err != nil {
		return nil, err
	}
	log.Info("metrics served", "url", "http://"+l.Addr().String()+"/metrics")
	return &servedMetrics{metrics.NewServer(l, metrics.StatusSource(status), metricsOptions(endpointLabels), log)}, nil
}

func metricsOptions(endpointLabels bool) metrics.Options {
	return metrics.Options{EndpointLabels: endpointLabels, Version: version, Profile: dataPlaneProfile()}
}

type servedMetrics struct{ srv *metrics.Server }

func (s *servedMetrics) setEndpointLabels(on bool) { s.srv.SetOptions(metricsOptions(on)) }
func (s *servedMetrics) close() error              { return s.srv.Close() }
