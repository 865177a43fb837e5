package activities

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/zendesk-sync/zendesk-sync/store"
)

// Metrics the worker serves on /metrics, labelled by integration name (never by anything secret).
var (
	pagesApplied = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "zendesk_sync_pages_applied_total", Help: "Zendesk export pages applied to PostgreSQL.",
	}, []string{"integration", "kind"})
	ticketsSynced = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "zendesk_sync_tickets_synced_total", Help: "Tickets written to the mirror (new or changed).",
	}, []string{"integration"})
	casesWritten = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "zendesk_sync_cases_written_total", Help: "Cases created or updated from Zendesk.",
	}, []string{"integration", "op"})
	commentsSynced = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "zendesk_sync_comments_synced_total", Help: "Case comments created from Zendesk comments.",
	}, []string{"integration"})
	recordFailures = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "zendesk_sync_record_failures_total", Help: "Records skipped and recorded as failures.",
	}, []string{"integration"})
	pushes = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "zendesk_sync_pushes_total", Help: "Updates sent to Zendesk by two-way sync.",
	}, []string{"integration"})
)

// ObservePage counts an applied page (a page applied before is not counted again).
func ObservePage(name, kind string, c store.Counters) {
	if c.AlreadyApplied {
		return
	}
	pagesApplied.WithLabelValues(name, kind).Inc()
	ticketsSynced.WithLabelValues(name).Add(float64(c.Tickets))
	casesWritten.WithLabelValues(name, "created").Add(float64(c.CasesCreated))
	casesWritten.WithLabelValues(name, "updated").Add(float64(c.CasesUpdated))
	commentsSynced.WithLabelValues(name).Add(float64(c.Comments))
	recordFailures.WithLabelValues(name).Add(float64(c.Failures))
}

// ObservePushes counts the updates a push sent to Zendesk.
func ObservePushes(name string, n int) { pushes.WithLabelValues(name).Add(float64(n)) }
