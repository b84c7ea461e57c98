//go:build !nometrics

package main

import (
	"context"
	"log/slog"

	"wgd/daemon"
	"wgd/metrics"
)

// startMetrics opens addr (option metrics_listen of /etc/config/wgd) and
// serves Prometheus metrics there until ctx ends, reading the daemon's
// status at each scrape. An empty addr disables metrics. An address the
// WAN could reach is refused (metrics.Listen); the error says why.
// endpointLabels adds the peers' endpoints as labels.
func startMetrics(ctx context.Context, addr string, endpointLabels bool,
	status func(context.Context) (*daemon.Status, error), log *slog.Logger) error {
	if addr == "" {
		log.Info("metrics disabled (metrics_listen is empty)")
		return nil
	}
	l, err := metrics.Listen(ctx, addr)
	if err != nil {
		return err
	}
	log.Info("metrics served", "url", "http://"+l.Addr().String()+"/metrics")
	opts := metrics.Options{EndpointLabels: endpointLabels, Version: version, Profile: dataPlaneProfile()}
	go func() {
		if err := metrics.Serve(ctx, l, metrics.StatusSource(status), opts, log); err != nil {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	return nil
}
