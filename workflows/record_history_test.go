package workflows_test

// This file and long_history_test.go import temporaltest (the in-process server): this one records the histories
// the replay test replays.

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/server/temporaltest"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/workflows"
)

// TestRecordHistory regenerates testdata/*.json from real runs on an in-process Temporal server, with the fake
// activities registered under the real activity names. Run it after a deliberate workflow change, review the diff,
// and commit the files:
//
//	UPDATE_REPLAY_HISTORY=1 go test ./workflows -run TestRecordHistory -count=1
func TestRecordHistory(t *testing.T) {
	ctx, ts, c := recordingServer(t)

	f := newFake(3, 2)
	f.serve(ts)
	r := &recorder{t: t, ctx: ctx, c: c}

	// Life of an integration: first sync, sync-now, a local change, reset, a settings change, deactivation.
	id := contract.IntegrationWorkflowID(integrationID)
	run := r.start(id, contract.Input{IntegrationID: integrationID, Name: "acme"})
	r.waitProgress(id, func(p contract.Progress) bool { return p.FirstSyncDone && p.Phase == contract.PhaseWaiting })
	f.grow(1, 1)
	var res contract.SyncResult
	r.update(id, contract.UpdateSyncNow, contract.SyncRequest{Wait: true}, &res)
	require.Equal(t, 2, res.Seq)
	require.Empty(t, res.Error)
	require.NoError(t, c.SignalWorkflow(ctx, id, "", contract.SignalLocalChange, nil))
	r.waitProgress(id, func(p contract.Progress) bool { return p.SyncsCompleted == 3 && p.Phase == contract.PhaseWaiting })
	var reset contract.ResetResult
	r.update(id, contract.UpdateReset, contract.ResetRequest{Confirm: true}, &reset)
	require.Equal(t, 2, reset.Generation)
	r.waitProgress(id, func(p contract.Progress) bool { return p.FirstSyncDone && p.SyncsCompleted == 4 })
	require.NoError(t, c.SignalWorkflow(ctx, id, "", contract.SignalSettingsChanged, nil))
	r.waitProgress(id, func(p contract.Progress) bool { return p.SyncsCompleted == 5 && p.Phase == contract.PhaseWaiting })
	require.NoError(t, c.SignalWorkflow(ctx, id, "", contract.SignalDeactivate, nil))
	require.NoError(t, run.Get(ctx, nil))
	r.write(id, run.GetRunID(), "integration_history.json", enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)

	// A run that continues as new: it carries a state one pass short of the cycle cap, and sync-now runs that pass.
	id = contract.IntegrationWorkflowID(integrationID + 1)
	last := time.Now().UTC().Truncate(time.Second)
	run = r.start(id, contract.Input{IntegrationID: integrationID + 1, Name: "acme-2", State: &contract.State{
		Phase: contract.PhaseWaiting, FirstSyncDone: true, Generation: 2, Totals: firstSyncTotals, LastSyncAt: &last,
		SyncsCompleted: 4, Cycles: workflows.MaxCyclesPerRun - 1}})
	r.update(id, contract.UpdateSyncNow, contract.SyncRequest{Wait: true}, &res)
	require.Equal(t, 5, res.Seq)
	r.waitProgress(id, func(p contract.Progress) bool { return p.Phase == contract.PhaseWaiting })
	require.NoError(t, c.SignalWorkflow(ctx, id, "", contract.SignalDeactivate, nil))
	require.NoError(t, c.GetWorkflow(ctx, id, "").Get(ctx, nil))
	r.write(id, run.GetRunID(), "integration_history_continue_as_new.json",
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW)
}

// recordingServer is an in-process Temporal server with the search attributes registered, for a recording; ctx
// ends with the recording's time limit.
func recordingServer(t *testing.T) (context.Context, *temporaltest.TestServer, client.Client) {
	t.Helper()
	if os.Getenv("UPDATE_REPLAY_HISTORY") != "1" {
		t.Skip("set UPDATE_REPLAY_HISTORY=1 to record the replay histories")
	}
	return testServer(t, 5*time.Minute)
}

// testServer is an in-process Temporal server with the workflow's search attributes registered, and a context that
// ends after timeout.
func testServer(t *testing.T, timeout time.Duration) (context.Context, *temporaltest.TestServer, client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
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
	return ctx, ts, c
}

type recorder struct {
	t   *testing.T
	ctx context.Context
	c   client.Client
}

// newRecording is a recorder on an in-process server whose worker runs f's activities.
func newRecording(t *testing.T, f *fakeZendesk) *recorder {
	ctx, ts, c := recordingServer(t)
	f.serve(ts)
	return &recorder{t: t, ctx: ctx, c: c}
}

// startSynced starts the workflow of integration integrationID+offset and waits for its first sync.
func (r *recorder) startSynced(offset int64, name string) (string, client.WorkflowRun) {
	id := contract.IntegrationWorkflowID(integrationID + offset)
	run := r.start(id, contract.Input{IntegrationID: integrationID + offset, Name: name})
	r.waitProgress(id, func(p contract.Progress) bool { return p.FirstSyncDone && p.Phase == contract.PhaseWaiting })
	return id, run
}

// deactivateAndWrite deactivates the integration, waits for its run to end and saves the run's history as file.
func (r *recorder) deactivateAndWrite(id string, run client.WorkflowRun, file string) {
	require.NoError(r.t, r.c.SignalWorkflow(r.ctx, id, "", contract.SignalDeactivate, nil))
	require.NoError(r.t, run.Get(r.ctx, nil))
	r.write(id, run.GetRunID(), file, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
}

// emptyPass asks for a pass that finds nothing, the seq-th, and checks that it was one fetch.
func (r *recorder) emptyPass(id string, f *fakeZendesk, seq int) {
	before := len(f.names())
	var res contract.SyncResult
	r.update(id, contract.UpdateSyncNow, contract.SyncRequest{Wait: true}, &res)
	require.Equal(r.t, seq, res.Seq)
	require.Equal(r.t, contract.Counters{Pages: 2}, res.Counters)
	require.Equal(r.t, []string{"FetchTicketPage"}, f.names()[before:], "the empty pass")
}

func (r *recorder) start(id string, in contract.Input) client.WorkflowRun {
	run, err := r.c.ExecuteWorkflow(r.ctx, client.StartWorkflowOptions{ID: id, TaskQueue: contract.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.IntegrationKey.ValueSet(in.Name))},
		contract.IntegrationWorkflowName, in)
	require.NoError(r.t, err)
	return run
}

func (r *recorder) update(id, name string, arg, out any) {
	h, err := r.c.UpdateWorkflow(r.ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: name,
		Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(r.t, err)
	require.NoError(r.t, h.Get(r.ctx, out))
}

func (r *recorder) waitProgress(id string, cond func(contract.Progress) bool) {
	var p contract.Progress
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		v, err := r.c.QueryWorkflow(r.ctx, id, "", contract.QueryProgress)
		if err == nil && v.Get(&p) == nil && cond(p) {
			return
		}
	}
	r.t.Fatalf("%s never reached the expected progress; last %+v", id, p)
}

// write saves one run's history in the JSON form `temporal workflow show --output json` writes.
func (r *recorder) write(id, runID, file string, lastEvent enumspb.EventType) {
	hist := &historypb.History{}
	it := r.c.GetWorkflowHistory(r.ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(r.t, err)
		hist.Events = append(hist.Events, ev)
	}
	require.NotEmpty(r.t, hist.Events)
	require.Equal(r.t, lastEvent, hist.Events[len(hist.Events)-1].GetEventType())
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	require.NoError(r.t, err)
	require.NoError(r.t, os.WriteFile(filepath.Join("testdata", file), append(b, '\n'), 0o644))
	r.t.Logf("wrote testdata/%s: %d events", file, len(hist.Events))
}
