//go:build nometrics

package main

import (
	"context"
	"log/slog"

	"wgd/api"
	"wgd/hotplug"
)

// startMetrics: this build leaves metrics (and the Prometheus client
// library) out, for devices with little flash. It only says so.
func startMetrics(_ context.Context, addr string, _ hotplug.WANConfig, _ bool,
	_ func(context.Context) (*api.Status, error), log *slog.Logger) (metricsServing, error) {
	if addr != "" {
		log.Info("metrics not served: this wgd is built without them (tag nometrics)", "metrics_listen", addr)
	}
	return nil, nil
}
