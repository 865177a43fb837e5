package workflows_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/server/temporaltest"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/workflows"
)

// TestRecordLeanPassHistory records testdata/integration_history_lean_pass.json: a first sync, a pass that finds
// nothing (one fetch per stream: no SyncPosition, no apply, no EndSync), a pass with new tickets and comments, a pass
// with new tickets only (its empty comment page ends it), then deactivation. The replay test replays it, so a later
// change of the lean pass that would break running workflows fails there:
//
//	UPDATE_REPLAY_HISTORY=1 go test ./workflows -run TestRecordLeanPassHistory -count=1
func TestRecordLeanPassHistory(t *testing.T) {
	if os.Getenv("UPDATE_REPLAY_HISTORY") != "1" {
		t.Skip("set UPDATE_REPLAY_HISTORY=1 to record the replay histories")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	c := ts.GetDefaultClient()
	_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: ts.GetDefaultNamespace(),
		SearchAttributes: map[string]enumspb.IndexedValueType{
			workflows.IntegrationKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			workflows.PhaseKey.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		},
	})
	require.NoError(t, err)
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
	require.Equal(t, []string{"FetchTicketPage", "FetchCommentPage"}, f.names()[before:], "the empty pass")

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
