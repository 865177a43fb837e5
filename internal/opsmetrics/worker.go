package opsmetrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// ActivitiesRunning is the activity slots in use in this worker process (activities executing now), by activity
// type. The worker's slot limit is the SDK's MaxConcurrentActivityExecutionSize (zendesk_sync_activity_slots).
var ActivitiesRunning = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Name: "zendesk_sync_activities_running",
	Help: "Activities executing in this worker (activity slots in use), by activity type.",
}, []string{"activity"})

// ActivitySlots is the most interactive activities (the task queue's) this worker runs at once.
var ActivitySlots = promauto.NewGauge(prometheus.GaugeOpts{
	Name: "zendesk_sync_activity_slots",
	Help: "Activity slots of this worker on the task queue (the most interactive activities it executes at once).",
})

// BulkActivitySlots is the most bulk activities (the bulk queue's first-sync pages) this worker runs at once.
var BulkActivitySlots = promauto.NewGauge(prometheus.GaugeOpts{
	Name: "zendesk_sync_bulk_activity_slots",
	Help: "Activity slots of this worker on the bulk queue (the most first-sync page activities it executes at once).",
})
