package workflows_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/workflows"
)

// An `activate` right after a `deactivate` may find the run still open: the settings-changed signal it sends
// must keep that run going, not let it end with the integration active. Here both signals arrive during a pass:
// when the run decides to end, it reads the active flag again (an activation came after its last read) and goes
// on. (An activation signal that arrives after the decision makes the server refuse the end; the e2e test
// TestDeactivateThenActivateAtOnceLeavesOneRunningWorkflowThatSyncs covers that on a real server.)
func TestActivateDuringAPassAfterDeactivateKeepsTheRunGoing(t *testing.T) {
	f := newFake(3, 2)
	f.delays["FetchTicketPage"] = time.Minute // the first sync takes three minutes
	h := newHarness(t, f)
	h.signalAt(30*time.Second, contract.SignalDeactivate)
	h.signalAt(31*time.Second, contract.SignalSettingsChanged)
	h.at(5*time.Minute, func() { f.grow(1, 0) })
	o := h.updateAt(10*time.Minute, contract.UpdateSyncNow, "u1", contract.SyncRequest{Wait: true})
	h.at(20*time.Minute, func() { f.setSettings(func(s *contract.Settings) { s.Active = false }) })
	h.signalAt(20*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()

	require.True(t, o.accepted, "sync-now refused after the activation: %v", o.rejectErr)
	require.True(t, o.completed)
	require.NoError(t, o.err)
	assert.Equal(t, 2, decode[contract.SyncResult](t, o.result).Seq)
	assert.WithinDuration(t, t0.Add(20*time.Minute), h.env.Now(), 0, "the run ended before the real deactivation")
	assert.Len(t, f.callsTo("LoadSettings"), 2, "the first read, and the re-read before ending")
}

// A plain deactivation (no activation after it) ends the run without reading the settings again.
func TestDeactivateAloneEndsWithoutRereadingSettings(t *testing.T) {
	f := newFake(1, 1)
	h := newHarness(t, f)
	h.at(10*time.Minute, func() { f.setSettings(func(s *contract.Settings) { s.Active = false }) })
	h.signalAt(10*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()
	assert.Len(t, f.callsTo("LoadSettings"), 1)
	assert.WithinDuration(t, t0.Add(10*time.Minute), h.env.Now(), 0)
}

// Continue-as-new waits for running update handlers, but a sync-now --wait that arrives while it waits (here for a
// retry-failures update) waits on the loop: the loop must serve it, or both wait for ever.
func TestContinueAsNewServesSyncNowArrivingWhileRetryFailuresRuns(t *testing.T) {
	f := newFake(1, 1)
	h := newHarness(t, f)
	h.env.SetTestTimeout(20 * time.Second)
	h.env.OnActivity(a.RetryFailures, mock.Anything, mock.Anything).
		Return(contract.RetryResult{Retried: 1, Fixed: 1}, nil).After(5 * time.Minute)
	retry := &outcome{}
	h.at(10*time.Minute, func() {
		h.env.UpdateWorkflow(contract.UpdateRetryFailures, "r1", &testsuite.TestUpdateCallback{
			OnAccept:   func() { retry.accepted = true },
			OnReject:   func(err error) { retry.rejected, retry.rejectErr = true, err },
			OnComplete: func(r any, err error) { retry.completed, retry.result, retry.err = true, r, err },
		})
	})
	h.at(10*time.Minute+time.Second, func() { h.env.SetContinueAsNewSuggested(true) })
	h.updateAt(10*time.Minute+time.Second, contract.UpdateSyncNow, "u0", contract.SyncRequest{}) // a pass, then continue-as-new is due
	h.at(11*time.Minute, func() { f.grow(1, 0) })
	o := h.updateAt(11*time.Minute, contract.UpdateSyncNow, "u1", contract.SyncRequest{Wait: true})
	h.env.ExecuteWorkflow(workflows.IntegrationWorkflow, contract.Input{IntegrationID: integrationID, Name: "acme"})

	require.True(t, h.env.IsWorkflowCompleted(), "the workflow hung")
	require.True(t, o.accepted)
	require.True(t, o.completed, "the sync-now update never completed")
	require.NoError(t, o.err)
	res := decode[contract.SyncResult](t, o.result)
	assert.Equal(t, 3, res.Seq)
	assert.Equal(t, int64(ticketsPer), res.Counters.TicketsSynced)
	require.True(t, retry.completed, "continue-as-new did not wait for the retry-failures update")
	require.NoError(t, retry.err)
	_, in := continueAsNewInput(t, h.env.GetWorkflowError())
	assert.Equal(t, 3, in.State.SyncsCompleted)
	assert.False(t, in.State.SyncRequested)
	assert.WithinDuration(t, t0.Add(15*time.Minute), h.env.Now(), time.Second, "continued before retry-failures ended")
}

// A pass cut short by a reset (stale page) read nothing a waiting sync-now caller asked for: the caller gets the
// pass after it, which runs at once, not an empty "success".
func TestStalePassDoesNotAnswerAWaitingSyncNow(t *testing.T) {
	f := newFake(1, 1)
	h := newHarness(t, f)
	stale := true
	f.fail = func(act string, r contract.PageRef) error {
		if act == "FetchTicketPage" && r.From == "t1" && stale {
			stale = false
			return temporal.NewNonRetryableApplicationError("stale page", contract.ErrStalePage, nil)
		}
		return nil
	}
	h.at(10*time.Minute, func() { f.grow(1, 0) })
	o := h.updateAt(10*time.Minute, contract.UpdateSyncNow, "u1", contract.SyncRequest{Wait: true})
	h.signalAt(20*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()

	require.True(t, o.completed)
	require.NoError(t, o.err)
	res := decode[contract.SyncResult](t, o.result)
	assert.Equal(t, 3, res.Seq, "the superseded pass answered the caller")
	assert.False(t, res.Superseded)
	assert.Empty(t, res.Error)
	assert.Equal(t, int64(ticketsPer), res.Counters.TicketsSynced)
	assert.Equal(t, []string{"", "t1", "t1"}, f.froms("FetchTicketPage"))
}

// A first sync far longer than one run's budget continues as new between pages: every run applies a bounded
// number of pages, every page is applied exactly once, the counters of the pass survive the hand-overs, and a
// sync-now --wait caller caught by a hand-over gets Pending and then its answer from a later run.
func TestLongFirstSyncContinuesAsNewBetweenPages(t *testing.T) {
	const pages = 5000
	f := newFake(pages, 3)
	f.delays["FetchTicketPage"] = time.Second // simulated: lets updates land in the middle of a run
	in := contract.Input{IntegrationID: integrationID, Name: "acme"}
	var ask *outcome // the sync-now --wait caller, asking each run again while it is answered Pending
	pendings := 0
	var runs, applied []int
	for run := 0; ; run++ {
		require.Less(t, run, 100, "too many runs")
		h := newHarness(t, f)
		before := len(f.callsTo("ApplyTicketPage")) + len(f.callsTo("ApplyCommentPage"))
		if run == 2 {
			ask = h.updateAt(30*time.Second, contract.UpdateSyncNow, "u1", contract.SyncRequest{Wait: true})
		} else if ask != nil && ask.completed {
			require.NoError(t, ask.err)
			if res := decode[contract.SyncResult](t, ask.result); res.Pending {
				pendings++
				ask = h.updateAt(30*time.Second, contract.UpdateSyncNow, "u"+strconv.Itoa(run),
					contract.SyncRequest{Wait: true, WaitFor: res.Seq})
			}
		}
		h.signalAt(30*time.Minute, contract.SignalDeactivate)
		h.env.ExecuteWorkflow(workflows.IntegrationWorkflow, in)
		require.True(t, h.env.IsWorkflowCompleted())
		applied = append(applied, len(f.callsTo("ApplyTicketPage"))+len(f.callsTo("ApplyCommentPage"))-before)
		runs = append(runs, run)
		var canErr *workflow.ContinueAsNewError
		if err := h.env.GetWorkflowError(); errors.As(err, &canErr) {
			_, in = continueAsNewInput(t, err)
			require.NotNil(t, in.State.Resume, "run %d continued as new without a pass to resume", run)
			continue
		}
		h.requireEndedInactive()
		break
	}
	t.Logf("%d runs; pages applied per run: %v", len(runs), applied)
	require.Greater(t, len(runs), pages/workflows.MaxPagesPerRun)
	for i, n := range applied {
		assert.LessOrEqual(t, n, workflows.MaxPagesPerRun, "run %d applied %d pages", i, n)
	}
	// Every page applied exactly once, in order.
	froms := f.froms("ApplyTicketPage")
	require.Len(t, froms, pages, "the first sync's pages; the (empty) tail pages of the pass sync-now asked for are "+
		"applied by their fetches")
	for i, from := range froms[:pages] {
		want := ""
		if i > 0 {
			want = "t" + strconv.Itoa(i)
		}
		require.Equal(t, want, from)
	}
	fetched := f.callsTo("FetchTicketPage")
	assert.Equal(t, "t5000", fetched[len(fetched)-1].Ref.From)
	assert.Equal(t, []string{"", "c1", "c2"}, f.froms("ApplyCommentPage"))
	assert.Equal(t, len(runs)+1, f.passesStarted(), "one position read per run, plus the pass sync-now asked for")

	assert.Positive(t, pendings, "the caller was never caught by a hand-over")
	require.True(t, ask.completed)
	require.NoError(t, ask.err)
	res := decode[contract.SyncResult](t, ask.result)
	assert.False(t, res.Pending)
	assert.Equal(t, 2, res.Seq, "sync-now arrived during the first sync: it waits for the pass after it")
	assert.Equal(t, 2, f.passesEnded())
}
