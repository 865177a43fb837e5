package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// TestRecordLeanPassHistory records testdata/integration_history_lean_pass.json: a first sync, a pass that finds
// nothing (one activity: a ticket fetch that goes on with the comment stream and ends the pass; no SyncPosition, no
// apply, no EndSync), a pass with new tickets and comments, a pass with new tickets only (its empty comment page ends
// it), then deactivation. The replay test replays it, so a later change of the lean pass that would break running
// workflows fails there:
//
//	UPDATE_REPLAY_HISTORY=1 go test ./workflows -run TestRecordLeanPassHistory -count=1
func TestRecordLeanPassHistory(t *testing.T) {
	ctx, ts, c := recordingServer(t)
	f := newFake(2, 1)
	f.serve(ts)
	r := &recorder{t: t, ctx: ctx, c: c}
	id := contract.IntegrationWorkflowID(integrationID + 3)
	run := r.start(id, contract.Input{IntegrationID: integrationID + 3, Name: "acme-lean"})
	r.waitProgress(id, func(p contract.Progress) bool { return p.FirstSyncDone && p.Phase == contract.PhaseWaiting })

	before := len(f.names())
	var res contract.SyncResult
	r.update(id, contract.UpdateSyncNow, contract.SyncRequest{Wait: true}, &res)
	require.Equal(t, 2, res.Seq)
	require.Equal(t, contract.Counters{Pages: 2}, res.Counters)
	require.Equal(t, []string{"FetchTicketPage"}, f.names()[before:], "the empty pass")

	f.grow(1, 1)
	r.update(id, contract.UpdateSyncNow, contract.SyncRequest{Wait: true}, &res)
	require.Equal(t, 3, res.Seq)
	require.Equal(t, ticketsPer, res.Counters.TicketsSynced)
	f.grow(1, 0)
	r.update(id, contract.UpdateSyncNow, contract.SyncRequest{Wait: true}, &res)
	require.Equal(t, 4, res.Seq)
	require.Equal(t, contract.Counters{Pages: 2, TicketsSynced: ticketsPer, CasesCreated: ticketsPer}, res.Counters)
	r.waitProgress(id, func(p contract.Progress) bool { return p.Phase == contract.PhaseWaiting })

	require.NoError(t, c.SignalWorkflow(ctx, id, "", contract.SignalDeactivate, nil))
	require.NoError(t, run.Get(ctx, nil))
	r.write(id, run.GetRunID(), "integration_history_lean_pass.json", enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
}
