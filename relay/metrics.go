package relay

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics of the relay, served with the worker's others. Summed over workers, the leader gauge must be 1.
var (
	leaderGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "zendesk_sync_relay_leader",
		Help: "1 while this worker holds the relay lock and relays local changes, else 0.",
	})
	signalsSent = promauto.NewCounter(prometheus.CounterOpts{
		Name: "zendesk_sync_relay_signals_total",
		Help: "local-change signals sent to integration workflows.",
	})
)
