package opsmetrics

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
)

// scrapeTimeout bounds the queries of one scrape, so a slow database slows /metrics, never blocks it.
const scrapeTimeout = 5 * time.Second

// State reads, at each scrape, the per-integration state every worker sees alike in PostgreSQL: sync lag, phase and
// pending outbox rows, and the shared rate-limit budgets. Every worker serves the same values: aggregate with max()
// (not sum()) across workers. Register it on a registry of its own per worker (see workerapp).
type State struct {
	DB *sqlx.DB

	lag, phase, outbox, budget *prometheus.Desc
}

// NewState returns the collector over db.
func NewState(db *sqlx.DB) *State {
	return &State{DB: db,
		lag: prometheus.NewDesc("zendesk_sync_sync_lag_seconds",
			"Now minus the Zendesk time of the newest ticket change applied, per integration.", []string{"integration"}, nil),
		phase: prometheus.NewDesc("zendesk_sync_integration_phase",
			"1 for the integration's current phase (first_sync, incremental, inactive), else absent.",
			[]string{"integration", "phase"}, nil),
		outbox: prometheus.NewDesc("zendesk_sync_outbox_pending",
			"Local changes not yet pushed to Zendesk, per integration; parked=\"true\" for those waiting on a fix.",
			[]string{"integration", "parked"}, nil),
		budget: prometheus.NewDesc("zendesk_sync_ratelimit_shared_remaining",
			"Requests left in the current window of an account's shared rate-limit budget (all workers), by bucket.",
			[]string{"bucket"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (s *State) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.lag
	ch <- s.phase
	ch <- s.outbox
	ch <- s.budget
}

// Collect implements prometheus.Collector. A query that fails leaves its metrics out of this scrape.
func (s *State) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	var states []struct {
		Name   string   `db:"name"`
		Phase  string   `db:"phase"`
		LagSec *float64 `db:"lag"`
	}
	if s.DB.SelectContext(ctx, &states, `SELECT i.name, CASE WHEN NOT i.active THEN 'inactive' ELSE st.phase END AS phase,
		CASE WHEN st.ticket_generated_max > 0 THEN extract(epoch FROM now() - to_timestamp(st.ticket_generated_max))
		END::float8 AS lag FROM integrations i JOIN sync_state st ON st.integration_id = i.id`) == nil {
		for _, st := range states {
			ch <- prometheus.MustNewConstMetric(s.phase, prometheus.GaugeValue, 1, st.Name, st.Phase)
			if st.LagSec != nil {
				ch <- prometheus.MustNewConstMetric(s.lag, prometheus.GaugeValue, *st.LagSec, st.Name)
			}
		}
	}
	var pending []struct {
		Name   string  `db:"name"`
		Parked bool    `db:"parked"`
		N      float64 `db:"n"`
	}
	if s.DB.SelectContext(ctx, &pending, `SELECT i.name, o.parked_at IS NOT NULL AS parked, count(*)::float8 AS n
		FROM outbox o JOIN integrations i ON i.id = o.integration_id WHERE o.processed_at IS NULL
		GROUP BY 1, 2`) == nil {
		for _, p := range pending {
			parked := "false"
			if p.Parked {
				parked = "true"
			}
			ch <- prometheus.MustNewConstMetric(s.outbox, prometheus.GaugeValue, p.N, p.Name, parked)
		}
	}
	var budgets []struct {
		Key       string  `db:"key"`
		Remaining float64 `db:"remaining"`
	}
	if s.DB.SelectContext(ctx, &budgets, `SELECT key, CASE WHEN window_ends IS NULL OR window_ends <= clock_timestamp()
		THEN limit_total ELSE greatest(limit_total - used, 0) END::float8 AS remaining FROM zendesk_rate_limits
		WHERE limit_total IS NOT NULL AND updated_at > now() - interval '1 hour'`) == nil {
		for _, b := range budgets {
			ch <- prometheus.MustNewConstMetric(s.budget, prometheus.GaugeValue, b.Remaining, b.Key)
		}
	}
}
