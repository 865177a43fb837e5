// Package opsmetrics is what an operator of many integrations watches on the worker's /metrics, beside the sync's
// own counters (package activities): Zendesk requests and 429s by integration and endpoint, the accounts'
// rate-limit budgets, and — read from PostgreSQL at each scrape — sync lag, phase and pending outbox rows per
// integration. Labels are integration names, endpoint templates and account URLs: never anything secret.
package opsmetrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

var (
	zendeskRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "zendesk_sync_zendesk_requests_total",
		Help: "HTTP requests sent to Zendesk, by integration, method, endpoint template and status code (0: no response).",
	}, []string{"integration", "method", "endpoint", "code"})
	budgetRemaining = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "zendesk_sync_ratelimit_remaining",
		Help: "Requests left in the current rate-limit window, as Zendesk's last response said, by account bucket.",
	}, []string{"bucket"})
	budgetLimit = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "zendesk_sync_ratelimit_limit",
		Help: "Requests allowed per rate-limit window, by account bucket.",
	}, []string{"bucket"})
	budgetWaits = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "zendesk_sync_ratelimit_wait_seconds_total",
		Help: "Time requests waited for the account's shared rate-limit budget, by integration.",
	}, []string{"integration"})
)

// ZendeskHooks counts one integration's Zendesk client.
func ZendeskHooks(integration string) zendesk.Hooks {
	return zendesk.Hooks{
		Response: func(method, endpoint string, status int) {
			zendeskRequests.WithLabelValues(integration, method, endpoint, strconv.Itoa(status)).Inc()
		},
		Budget: func(bucket string, limit, remaining int) {
			budgetLimit.WithLabelValues(bucket).Set(float64(limit))
			budgetRemaining.WithLabelValues(bucket).Set(float64(remaining))
		},
		Wait: func(d time.Duration) { budgetWaits.WithLabelValues(integration).Add(d.Seconds()) },
	}
}
