package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/workflows"
)

// TestRecordWebhookHistory records testdata/integration_history_webhook.json: a first sync, then webhook calls
// (a burst about one ticket, then another ticket) applied between passes, then deactivation. The replay test
// replays it, so a later change of the webhook path that would break running workflows fails there:
//
//	UPDATE_REPLAY_HISTORY=1 go test ./workflows -run TestRecordWebhookHistory -count=1
func TestRecordWebhookHistory(t *testing.T) {
	ctx, ts, c := recordingServer(t)
	f := newFake(2, 1)
	ts.NewWorker(contract.TaskQueue, func(r worker.Registry) {
		r.RegisterWorkflowWithOptions(workflows.IntegrationWorkflow,
			workflow.RegisterOptions{Name: contract.IntegrationWorkflowName})
		for name, fn := range map[string]any{
			"LoadSettings": f.LoadSettings, "SyncPosition": f.SyncPosition,
			"FetchTicketPage": f.FetchTicketPage, "ApplyTicketPage": f.ApplyTicketPage,
			"FetchCommentPage": f.FetchCommentPage, "ApplyCommentPage": f.ApplyCommentPage,
			"EndSync": f.EndSync, "RecordError": f.RecordError, "ResetSync": f.ResetSync,
			contract.ActivityApplyChangedTickets: f.ApplyChangedTickets,
		} {
			r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
		}
	})
	r := &recorder{t: t, ctx: ctx, c: c}
	id := contract.IntegrationWorkflowID(integrationID + 2)
	run := r.start(id, contract.Input{IntegrationID: integrationID + 2, Name: "acme-webhook"})
	r.waitProgress(id, func(p contract.Progress) bool { return p.FirstSyncDone && p.Phase == contract.PhaseWaiting })
	for i := 0; i < 5; i++ {
		require.NoError(t, c.SignalWorkflow(ctx, id, "", contract.SignalTicketsChanged,
			contract.TicketsChanged{TicketIDs: []int64{7}}))
	}
	require.NoError(t, c.SignalWorkflow(ctx, id, "", contract.SignalTicketsChanged,
		contract.TicketsChanged{TicketIDs: []int64{8, 7}}))
	for deadline := time.Now().Add(time.Minute); len(f.callsTo("ApplyChangedTickets")) == 0; time.Sleep(50 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "no webhook step")
	}
	time.Sleep(time.Second)
	require.NoError(t, c.SignalWorkflow(ctx, id, "", contract.SignalTicketsChanged,
		contract.TicketsChanged{TicketIDs: []int64{9}}))
	for deadline := time.Now().Add(time.Minute); len(f.callsTo("ApplyChangedTickets")) < 2; time.Sleep(50 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "no second webhook step")
	}
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, c.SignalWorkflow(ctx, id, "", contract.SignalDeactivate, nil))
	require.NoError(t, run.Get(ctx, nil))
	r.write(id, run.GetRunID(), "integration_history_webhook.json", enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
}
