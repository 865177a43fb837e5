package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// `integration deactivate` then `integration activate` at once, again and again: the activation may find the run
// that is ending still open. Whatever the timing, the integration ends active with exactly one running workflow,
// and that workflow syncs.
func TestDeactivateThenActivateAtOnceLeavesOneRunningWorkflowThatSyncs(t *testing.T) {
	e := newEnv(t)
	s, url := newSim(t, sim.Options{Seed: 5, Tickets: 30})
	e.integration("flip", url, nil)
	e.firstSyncDone("flip")
	in, err := e.store.IntegrationByName(e.ctx, "flip")
	require.NoError(t, err)
	wfID := contract.IntegrationWorkflowID(in.ID)
	tc := e.ts.GetDefaultClient()

	for i := 0; i < 8; i++ {
		_, err := e.ctl.Deactivate(e.ctx, "flip")
		require.NoError(t, err)
		_, err = e.ctl.Activate(e.ctx, "flip")
		require.NoError(t, err)
	}
	in, err = e.store.IntegrationByName(e.ctx, "flip")
	require.NoError(t, err)
	require.True(t, in.Active)

	// Let every run that was told to stop decide (each re-reads the flag), then look: one run, open.
	running := func() bool {
		d, err := tc.DescribeWorkflowExecution(e.ctx, wfID, "")
		require.NoError(t, err)
		return d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		p, err := e.ctl.Progress(e.ctx, "flip")
		if err == nil && p.Phase != "" && p.Phase != contract.PhaseInactive && running() {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	if !running() {
		dumpRuns(t, e, wfID)
	}
	require.True(t, running(), "no workflow runs while the integration is active")
	resp, err := tc.ListWorkflow(e.ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: e.ts.GetDefaultNamespace(), Query: "WorkflowId = '" + wfID + "' AND ExecutionStatus = 'Running'"})
	require.NoError(t, err)
	assert.Len(t, resp.GetExecutions(), 1, "open runs of %s", wfID)

	// And it syncs: a change made in Zendesk now reaches its case.
	id := s.TicketIDs()[0]
	subject := "changed after the flips"
	require.NoError(t, s.ChangeTicket(id, sim.TicketChange{Subject: &subject}))
	var res contract.SyncResult
	for try := 0; ; try++ {
		res, err = e.ctl.SyncNow(e.ctx, "flip", true)
		// The run may still be deciding whether the last deactivation stands: it refuses requests meanwhile.
		if err != nil && strings.Contains(err.Error(), "being deactivated") && try < 50 {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		break
	}
	require.NoError(t, err)
	assert.Empty(t, res.Error)
	assert.Equal(t, subject, e.cases("flip")[id].Subject)
	require.True(t, running())
}

// dumpRuns logs every run of a workflow and the events of each, to tell how a run that should go on ended.
func dumpRuns(t *testing.T, e *env, wfID string) {
	tc := e.ts.GetDefaultClient()
	resp, err := tc.ListWorkflow(e.ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: e.ts.GetDefaultNamespace(), Query: "WorkflowId = '" + wfID + "'"})
	if err != nil {
		t.Logf("list runs: %v", err)
		return
	}
	for _, x := range resp.GetExecutions() {
		runID := x.GetExecution().GetRunId()
		t.Logf("run %s status %s start %s close %s", runID, x.GetStatus(), x.GetStartTime().AsTime().Format(time.RFC3339Nano),
			x.GetCloseTime().AsTime().Format(time.RFC3339Nano))
		it := tc.GetWorkflowHistory(e.ctx, wfID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Logf("history: %v", err)
				break
			}
			extra := ""
			if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil {
				extra = a.GetSignalName()
			}
			if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
				extra = a.GetActivityType().GetName()
			}
			if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil {
				extra = a.GetResult().String()
			}
			if a := ev.GetWorkflowTaskFailedEventAttributes(); a != nil {
				extra = a.GetCause().String() + " " + a.GetFailure().GetMessage()
			}
			t.Logf("  %d %s %s %s", ev.GetEventId(), ev.GetEventTime().AsTime().Format("15:04:05.000"), ev.GetEventType(), extra)
		}
	}
}
