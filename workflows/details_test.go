package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// details reads the workflow's current details the way the Web UI does: through the built-in metadata query.
func (h *harness) details() string {
	v, err := h.env.QueryWorkflow("__temporal_workflow_metadata")
	require.NoError(h.t, err)
	var md sdkpb.WorkflowMetadata
	require.NoError(h.t, v.Get(&md))
	return md.GetCurrentDetails()
}

// The workflow's current details say what it is doing: the phase, the counts so far, the last sync, the last
// error and when the next pass is due.
func TestCurrentDetailsSummariseTheSync(t *testing.T) {
	f := newFake(3, 2)
	f.setDelay("ApplyTicketPage", time.Minute)
	h := newHarness(t, f)
	var during, waiting string
	h.at(90*time.Second, func() { during = h.details() })
	h.at(20*time.Minute, func() { waiting = h.details() })
	h.signalAt(21*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()

	assert.Contains(t, during, "**First sync** in progress")
	assert.Contains(t, during, "Tickets synced: ")
	assert.Contains(t, during, "Last sync: never")
	assert.Contains(t, during, "Last error: none")

	assert.Contains(t, waiting, "**Waiting**: next pass at ")
	// The first sync's three ticket applies of a minute each overlap (pipelined) in the test's simulated time, which
	// has no sync-state lock to make them wait for each other: it ends after two minutes.
	assert.Contains(t, waiting, "next pass at 2026-01-05 10:02:00 UTC (every 1h0m0s)")
	assert.Contains(t, waiting, "Tickets synced: 30 · cases created: 30")
	assert.Contains(t, waiting, "Last sync: 2026-01-05T09:")
	assert.Contains(t, waiting, "Last error: none")
}

// A push between passes does not move the next pass, and the details keep saying when it is due.
func TestCurrentDetailsKeepTheNextPassAcrossPushes(t *testing.T) {
	f := newFake(1, 1)
	f.settings.TwoWay = true
	h := newHarness(t, f) // interval 1h: the first sync ends at t0, the next pass is due at t0+1h
	h.signalAt(30*time.Minute, contract.SignalLocalChange)
	var afterPush string
	h.at(31*time.Minute, func() { afterPush = h.details() })
	h.signalAt(40*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()
	assert.Contains(t, afterPush, "next pass at "+t0.Add(time.Hour).UTC().Format("2006-01-02 15:04:05 UTC"))
}
