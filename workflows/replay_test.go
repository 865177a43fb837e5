package workflows_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/workflows"
)

// TestReplayIntegrationHistory replays recorded histories (see TestRecordHistory) against the current workflow code:
// a change that would break running workflows fails here with a nondeterminism error.
func TestReplayIntegrationHistory(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "integration_history*.json"))
	require.NoError(t, err)
	require.Contains(t, files, filepath.Join("testdata", "integration_history.json"))
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(workflows.IntegrationWorkflow,
				workflow.RegisterOptions{Name: contract.IntegrationWorkflowName})
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, file))
		})
	}
}

// TestReplayHistoryCoversTheLifecycle checks that the main recorded history still exercises what it is meant to:
// updates, signals, search attribute upserts and a clean end.
func TestReplayHistoryCoversTheLifecycle(t *testing.T) {
	hist := loadHistory(t, "integration_history.json")
	count := map[enumspb.EventType]int{}
	updates := map[string]int{}
	signals := map[string]int{}
	for _, ev := range hist.Events {
		count[ev.GetEventType()]++
		if a := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes(); a != nil {
			updates[a.GetAcceptedRequest().GetInput().GetName()]++
		}
		if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil {
			signals[a.GetSignalName()]++
		}
	}
	assert.Equal(t, map[string]int{contract.UpdateSyncNow: 1, contract.UpdateReset: 1}, updates)
	assert.Equal(t, map[string]int{contract.SignalLocalChange: 1, contract.SignalSettingsChanged: 1,
		contract.SignalDeactivate: 1}, signals)
	assert.Equal(t, 2, count[enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED])
	assert.Positive(t, count[enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES])
	assert.Equal(t, 1, count[enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED])
}

// TestReplayHistoryCoversTheLeanPass checks that the lean-pass history still records what it is meant to: no
// position read, and an empty pass that is one activity (a ticket fetch that went on with the comment stream and
// ended the pass).
func TestReplayHistoryCoversTheLeanPass(t *testing.T) {
	hist := loadHistory(t, "integration_history_lean_pass.json")
	types := map[int64]string{}
	empty := 0
	for _, ev := range hist.Events {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[ev.GetEventId()] = a.GetActivityType().GetName()
			assert.NotEqual(t, contract.ActivitySyncPosition, a.GetActivityType().GetName())
		}
		a := ev.GetActivityTaskCompletedEventAttributes()
		if a == nil || types[a.GetScheduledEventId()] != contract.ActivityFetchTicketPage {
			continue
		}
		var fr contract.FetchResult
		require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(a.GetResult(), &fr))
		if fr.Applied != nil && fr.Comments != nil && fr.Comments.PassEnded {
			empty++
		}
	}
	assert.Equal(t, 1, empty, "one empty pass, of one activity")
}

// The local-fetch history holds what versionLocalFirstFetch changed: a pass that is one workflow task (its fetch a
// local activity, recorded as a marker) and a failed local fetch followed by the same fetch as an activity.
func TestReplayHistoryCoversTheLocalFetch(t *testing.T) {
	hist := loadHistory(t, "integration_history_local_fetch.json")
	var local, failed, fallback int
	afterFailure := false
	for _, ev := range hist.Events {
		if a := ev.GetMarkerRecordedEventAttributes(); a != nil && a.GetMarkerName() == "LocalActivity" {
			local++
			if a.GetFailure() != nil {
				failed++
				afterFailure = true
			}
			continue
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && afterFailure {
			if a.GetActivityType().GetName() == contract.ActivityFetchTicketPage {
				fallback++
			}
			afterFailure = false
		}
	}
	assert.Equal(t, 3, local, "three passes began with a local fetch")
	assert.Equal(t, 1, failed)
	assert.Equal(t, 1, fallback, "the failed local fetch ran again as an activity, next")
}

// loadHistory reads a recorded history of testdata.
func loadHistory(t *testing.T, file string) *historypb.History {
	t.Helper()
	fh, err := os.Open(filepath.Join("testdata", file))
	require.NoError(t, err)
	defer fh.Close()
	hist, err := client.HistoryFromJSON(fh, client.HistoryJSONOptions{})
	require.NoError(t, err)
	return hist
}
