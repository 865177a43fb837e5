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

// ActivitySlots is the most activities this worker runs at once.
var ActivitySlots = promauto.NewGauge(prometheus.GaugeOpts{
	Name: "zendesk_sync_activity_slots",
	Help: "Activity slots of this worker (the most activities it executes at once).",
})
