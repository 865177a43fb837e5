package workflows_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/workflows"
)

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// firstSyncTotals is what a first sync of newFake(3, 2) adds up to.
var firstSyncTotals = contract.Counters{Pages: 5, TicketsSynced: 3 * ticketsPer, CasesCreated: 3 * ticketsPer,
	CommentsSynced: 2 * commentsPer}

type harness struct {
	t      *testing.T
	env    *testsuite.TestWorkflowEnvironment
	f      *fakeZendesk
	phases []string // SyncPhase search attribute values, in upsert order
}

// newHarness returns a test environment whose activities are mocked by f and whose search attribute upserts are
// recorded. The testsuite accepts upserts of unregistered keys, so nothing needs registering.
func newHarness(t *testing.T, f *fakeZendesk) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	env.SetTestTimeout(30 * time.Second)
	// The first workflow task of the process pays one-off initialisation; on a loaded CI machine (or with -race) that
	// can pass the 1s default of the deadlock detector. 10s still catches a workflow that really blocks.
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 10 * time.Second})
	env.RegisterWorkflowWithOptions(workflows.IntegrationWorkflow,
		workflow.RegisterOptions{Name: contract.IntegrationWorkflowName})
	h := &harness{t: t, env: env, f: f}
	on := func(act any, name string, fn any) {
		env.OnActivity(act, mock.Anything, mock.Anything).Return(fn).AfterFn(f.delay(name))
	}
	on(a.LoadSettings, "LoadSettings", f.LoadSettings)
	on(a.SyncPosition, "SyncPosition", f.SyncPosition)
	on(a.FetchTicketPage, "FetchTicketPage", f.FetchTicketPage)
	on(a.ApplyTicketPage, "ApplyTicketPage", f.ApplyTicketPage)
	on(a.FetchCommentPage, "FetchCommentPage", f.FetchCommentPage)
	on(a.ApplyCommentPage, "ApplyCommentPage", f.ApplyCommentPage)
	on(a.EndSync, "EndSync", f.EndSync)
	on(a.RecordError, "RecordError", f.RecordError)
	on(a.ResetSync, "ResetSync", f.ResetSync)
	on(a.PushLocalChanges, "PushLocalChanges", f.PushLocalChanges)
	on(a.ApplyChangedTickets, "ApplyChangedTickets", f.ApplyChangedTickets)
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		if p, ok := sa.GetKeyword(workflows.PhaseKey); ok {
			h.phases = append(h.phases, p)
		}
	}).Return(nil)
	return h
}

func (h *harness) run(in contract.Input) {
	h.env.ExecuteWorkflow(workflows.IntegrationWorkflow, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "the workflow did not end")
}

func (h *harness) runFresh() { h.run(contract.Input{IntegrationID: integrationID, Name: "acme"}) }

// at runs fn at start time + d on the test clock.
func (h *harness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

func (h *harness) progress() contract.Progress {
	v, err := h.env.QueryWorkflow(contract.QueryProgress)
	require.NoError(h.t, err)
	var p contract.Progress
	require.NoError(h.t, v.Get(&p))
	return p
}

// progressAt snapshots progress at start time + d; read it after run.
func (h *harness) progressAt(d time.Duration) *contract.Progress {
	p := &contract.Progress{}
	h.at(d, func() { *p = h.progress() })
	return p
}

func (h *harness) signalAt(d time.Duration, name string) {
	h.at(d, func() { h.env.SignalWorkflow(name, nil) })
}

type outcome struct {
	accepted, rejected, completed bool
	rejectErr, err                error
	result                        any
}

// updateAt sends an update at start time + d; read the outcome after run.
func (h *harness) updateAt(d time.Duration, name, id string, arg any) *outcome {
	o := &outcome{}
	h.at(d, func() {
		h.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
			OnAccept: func() { o.accepted = true },
			OnReject: func(err error) { o.rejected, o.rejectErr = true, err },
			OnComplete: func(r any, err error) {
				o.completed, o.result, o.err = true, r, err
			},
		}, arg)
	})
	return o
}

// decode turns an update result into out, whether the testsuite hands over the value or its encoding.
func decode[T any](t *testing.T, r any) T {
	t.Helper()
	switch v := r.(type) {
	case T:
		return v
	case *T:
		return *v
	case converter.EncodedValue:
		var out T
		require.NoError(t, v.Get(&out))
		return out
	}
	t.Fatalf("unexpected update result %T", r)
	var zero T
	return zero
}

func (h *harness) requireEndedInactive() {
	h.t.Helper()
	require.NoError(h.t, h.env.GetWorkflowError())
	require.NotEmpty(h.t, h.phases)
	assert.Equal(h.t, contract.PhaseInactive, h.phases[len(h.phases)-1])
}

func plus(x, y contract.Counters) contract.Counters {
	return contract.Counters{Pages: x.Pages + y.Pages, TicketsSynced: x.TicketsSynced + y.TicketsSynced,
		CasesCreated: x.CasesCreated + y.CasesCreated, CasesUpdated: x.CasesUpdated + y.CasesUpdated,
		CommentsSynced: x.CommentsSynced + y.CommentsSynced, Failures: x.Failures + y.Failures, Pushed: x.Pushed + y.Pushed}
}

func ref(gen int, from string) contract.PageRef {
	return contract.PageRef{IntegrationID: integrationID, Generation: gen, From: from}
}

func refsOf(calls []fakeCall) []contract.PageRef {
	out := []contract.PageRef{}
	for _, c := range calls {
		out = append(out, c.Ref.Page())
	}
	return out
}

func TestFirstSyncPagesThroughBothStreamsInOrder(t *testing.T) {
	f := newFake(3, 2)
	h := newHarness(t, f)
	p := h.progressAt(10 * time.Minute)
	h.signalAt(11*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()

	// Each fetch starts where the previous fetch said the next page starts, and each fetched page is applied.
	assert.Equal(t, []contract.PageRef{ref(1, ""), ref(1, "t1"), ref(1, "t2")}, refsOf(f.callsTo("FetchTicketPage")))
	assert.Equal(t, []contract.PageRef{ref(1, ""), ref(1, "t1"), ref(1, "t2")}, refsOf(f.callsTo("ApplyTicketPage")))
	assert.Equal(t, []contract.PageRef{ref(1, ""), ref(1, "c1")}, refsOf(f.callsTo("FetchCommentPage")))
	assert.Equal(t, []contract.PageRef{ref(1, ""), ref(1, "c1")}, refsOf(f.callsTo("ApplyCommentPage")))

	// Settings, the whole ticket stream (its first fetch opens the pass and reads the position), the whole comment
	// stream, then EndSync; nothing after it.
	names := f.names()
	require.Len(t, names, 1+6+4+1)
	assert.Equal(t, "LoadSettings", names[0])
	for _, n := range names[1:7] {
		assert.Contains(t, []string{"FetchTicketPage", "ApplyTicketPage"}, n)
	}
	for _, n := range names[7:11] {
		assert.Contains(t, []string{"FetchCommentPage", "ApplyCommentPage"}, n)
	}
	assert.Equal(t, "EndSync", names[11])
	assert.True(t, f.callsTo("FetchTicketPage")[0].Ref.StartPass, "the first fetch opens the pass")
	assert.Equal(t, 1, f.passesStarted())
	assert.Equal(t, contract.EndSyncInput{IntegrationID: integrationID, FirstSyncDone: true},
		f.callsTo("EndSync")[0].End)
	assert.Empty(t, f.callsTo("RecordError"))

	assert.Equal(t, contract.PhaseWaiting, p.Phase)
	assert.True(t, p.FirstSyncDone)
	assert.Equal(t, integrationID, p.IntegrationID)
	assert.Equal(t, "acme", p.Name)
	assert.Equal(t, 1, p.Generation)
	assert.Equal(t, 1, p.SyncsCompleted)
	assert.Equal(t, firstSyncTotals, p.Counters)
	assert.Empty(t, p.LastError)
	require.NotNil(t, p.LastSyncAt)
	assert.True(t, p.LastSyncAt.Equal(t0), "last sync at %v", p.LastSyncAt)
	assert.Equal(t, []string{contract.PhaseFirstSync, contract.PhaseWaiting, contract.PhaseInactive}, h.phases)
}

func TestIntervalTimerTriggersIncrementalPass(t *testing.T) {
	f := newFake(3, 2)
	f.settings.IntervalSeconds = 60
	h := newHarness(t, f)
	h.at(30*time.Second, func() { f.grow(1, 1) })
	before := h.progressAt(59 * time.Second)
	after := h.progressAt(61 * time.Second)
	h.signalAt(90*time.Second, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()

	assert.Equal(t, 1, before.SyncsCompleted, "no pass before the interval elapsed")
	assert.Equal(t, 2, after.SyncsCompleted)
	require.NotNil(t, after.LastSyncAt)
	assert.True(t, after.LastSyncAt.Equal(t0.Add(time.Minute)), "incremental pass at %v", after.LastSyncAt)
	assert.Equal(t, contract.PhaseWaiting, after.Phase)
	// The incremental pass continues both streams from the committed positions, not from the start.
	assert.Equal(t, []string{"", "t1", "t2", "t3"}, f.froms("FetchTicketPage"))
	assert.Equal(t, []string{"", "c1", "c2"}, f.froms("FetchCommentPage"))
	want := plus(firstSyncTotals,
		contract.Counters{Pages: 2, TicketsSynced: ticketsPer, CasesCreated: ticketsPer, CommentsSynced: commentsPer})
	assert.Equal(t, want, after.Counters)
	assert.Len(t, f.callsTo("EndSync"), 2)
	assert.Equal(t, []string{contract.PhaseFirstSync, contract.PhaseWaiting, contract.PhaseIncremental,
		contract.PhaseWaiting, contract.PhaseInactive}, h.phases)
}

func TestDefaultIntervalIsFiveMinutes(t *testing.T) {
	f := newFake(1, 1)
	f.settings.IntervalSeconds = 0
	h := newHarness(t, f)
	before := h.progressAt(5*time.Minute - time.Second)
	after := h.progressAt(5*time.Minute + time.Second)
	h.signalAt(6*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()
	assert.Equal(t, 1, before.SyncsCompleted)
	assert.Equal(t, 2, after.SyncsCompleted)
}

func TestLocalChangeWithTwoWayOffRunsNoPass(t *testing.T) {
	f := newFake(1, 1)
	h := newHarness(t, f)
	h.signalAt(10*time.Minute, contract.SignalLocalChange)
	p := h.progressAt(10*time.Minute + time.Second)
	h.signalAt(11*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()
	assert.Equal(t, 1, p.SyncsCompleted, "a local change with nothing to push spends no export request")
	assert.Empty(t, f.callsTo("PushLocalChanges"))
}

// Local changes are pushed at once, and the incremental pass still runs an interval after the last one, however
// many pushes came in between (each used to start a whole interval again, so steady CRM edits starved imports).
func TestLocalChangesArePushedAtOnceAndNeverDelayTheNextPass(t *testing.T) {
	f := newFake(1, 1)
	f.settings.TwoWay = true
	h := newHarness(t, f) // interval 1h
	h.signalAt(30*time.Minute, contract.SignalLocalChange)
	pushed := h.progressAt(30*time.Minute + time.Second)
	h.signalAt(50*time.Minute, contract.SignalLocalChange)
	before := h.progressAt(time.Hour - time.Second)
	after := h.progressAt(time.Hour + time.Second)
	h.signalAt(time.Hour+time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()
	assert.Len(t, f.callsTo("PushLocalChanges"), 4, "one at the end of each pass, one on each change")
	assert.Equal(t, 1, pushed.SyncsCompleted, "a push is not a pass")
	assert.Equal(t, 1, before.SyncsCompleted)
	assert.Equal(t, 2, after.SyncsCompleted, "the pass ran an interval after the first sync")
	require.NotNil(t, after.LastSyncAt)
	assert.True(t, after.LastSyncAt.Equal(t0.Add(time.Hour)), "last sync at %v", after.LastSyncAt)
}

func TestSyncNowWaitReturnsResultOfItsPass(t *testing.T) {
	f := newFake(3, 2)
	h := newHarness(t, f) // interval 1h: only sync-now can cause a pass within the test
	h.at(10*time.Minute, func() { f.grow(2, 1) })
	waited := h.updateAt(10*time.Minute, contract.UpdateSyncNow, "u1", contract.SyncRequest{Wait: true})
	p := h.progressAt(15 * time.Minute)
	queued := h.updateAt(20*time.Minute, contract.UpdateSyncNow, "u2", contract.SyncRequest{})
	p2 := h.progressAt(20*time.Minute + time.Second)
	h.signalAt(30*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()

	require.True(t, waited.accepted)
	require.True(t, waited.completed)
	require.NoError(t, waited.err)
	assert.Equal(t, contract.SyncResult{Seq: 2, Phase: contract.PhaseIncremental, Counters: contract.Counters{
		Pages: 3, TicketsSynced: 2 * ticketsPer, CasesCreated: 2 * ticketsPer, CommentsSynced: commentsPer}},
		decode[contract.SyncResult](t, waited.result))
	assert.Equal(t, 2, p.SyncsCompleted)
	require.NotNil(t, p.LastSyncAt)
	assert.True(t, p.LastSyncAt.Equal(t0.Add(10*time.Minute)), "the pass ran at %v", p.LastSyncAt)

	// Without Wait the update answers at once with the sequence number the requested pass will have.
	require.True(t, queued.completed)
	require.NoError(t, queued.err)
	assert.Equal(t, contract.SyncResult{Seq: 3, Phase: contract.PhaseWaiting},
		decode[contract.SyncResult](t, queued.result))
	assert.Equal(t, 3, p2.SyncsCompleted)
	assert.Equal(t, 3, f.passesStarted())
}

func TestUpdatesRejectedWhileDeactivating(t *testing.T) {
	f := newFake(3, 2)
	f.delays["FetchTicketPage"] = time.Minute // the first sync takes three minutes
	h := newHarness(t, f)
	h.signalAt(30*time.Second, contract.SignalDeactivate)
	syncNow := h.updateAt(31*time.Second, contract.UpdateSyncNow, "u1", contract.SyncRequest{Wait: true})
	reset := h.updateAt(32*time.Second, contract.UpdateReset, "u2", contract.ResetRequest{Confirm: true})
	h.runFresh()
	h.requireEndedInactive()

	for _, o := range []*outcome{syncNow, reset} {
		assert.True(t, o.rejected)
		assert.False(t, o.accepted)
		require.Error(t, o.rejectErr)
		assert.Contains(t, o.rejectErr.Error(), "deactivated")
	}
	// The pass in flight ran to its end; the rejected requests started nothing.
	assert.Len(t, f.callsTo("EndSync"), 1)
	assert.Equal(t, 1, f.passesStarted())
	assert.Empty(t, f.callsTo("ResetSync"))
}

func TestSyncNowPendingAtDeactivationFails(t *testing.T) {
	f := newFake(1, 1)
	f.delays["ResetSync"] = time.Minute
	h := newHarness(t, f)
	h.updateAt(10*time.Minute, contract.UpdateReset, "r1", contract.ResetRequest{Confirm: true})
	// While ResetSync runs, a sync-now is accepted, then the integration is deactivated: the loop never runs the pass.
	syncNow := h.updateAt(10*time.Minute+10*time.Second, contract.UpdateSyncNow, "u1", contract.SyncRequest{Wait: true})
	h.signalAt(10*time.Minute+20*time.Second, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()

	require.True(t, syncNow.accepted)
	require.True(t, syncNow.completed)
	require.Error(t, syncNow.err)
	assert.Contains(t, syncNow.err.Error(), "deactivated before the sync ran")
	assert.Equal(t, 1, f.passesStarted())
}

func TestResetWithoutConfirmIsRejected(t *testing.T) {
	f := newFake(3, 2)
	h := newHarness(t, f)
	o := h.updateAt(10*time.Minute, contract.UpdateReset, "r1", contract.ResetRequest{})
	p := h.progressAt(11 * time.Minute)
	h.signalAt(12*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()

	assert.True(t, o.rejected)
	assert.False(t, o.accepted)
	require.Error(t, o.rejectErr)
	assert.Contains(t, o.rejectErr.Error(), "confirm")
	assert.Empty(t, f.callsTo("ResetSync"))
	assert.Equal(t, 1, p.Generation)
	assert.Equal(t, firstSyncTotals, p.Counters)
}

func TestResetRestartsFirstSync(t *testing.T) {
	f := newFake(3, 2)
	h := newHarness(t, f)
	// Slow the re-run down so progress can be looked at between the reset and the end of the new first sync.
	h.at(10*time.Minute, func() { f.setDelay("FetchTicketPage", time.Minute) })
	o := h.updateAt(10*time.Minute, contract.UpdateReset, "r1", contract.ResetRequest{Confirm: true})
	during := h.progressAt(10*time.Minute + 30*time.Second)
	after := h.progressAt(20 * time.Minute)
	h.signalAt(21*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()

	require.True(t, o.accepted)
	require.True(t, o.completed)
	require.NoError(t, o.err)
	assert.Equal(t, contract.ResetResult{Generation: 2}, decode[contract.ResetResult](t, o.result))
	require.Len(t, f.callsTo("ResetSync"), 1)
	assert.Equal(t, integrationID, f.callsTo("ResetSync")[0].ID)

	assert.Equal(t, contract.PhaseFirstSync, during.Phase)
	assert.False(t, during.FirstSyncDone)
	assert.Equal(t, 2, during.Generation)
	assert.Equal(t, contract.Counters{}, during.Counters, "reset zeroes the counters")
	assert.Nil(t, during.LastSyncAt)

	// The whole first sync again, in the new generation; the counters are those of one first sync, not two.
	assert.Equal(t, []contract.PageRef{ref(1, ""), ref(1, "t1"), ref(1, "t2"), ref(2, ""), ref(2, "t1"),
		ref(2, "t2")}, refsOf(f.callsTo("FetchTicketPage")))
	assert.Equal(t, []string{"", "c1", "", "c1"}, f.froms("FetchCommentPage"))
	assert.True(t, after.FirstSyncDone)
	assert.Equal(t, 2, after.Generation)
	assert.Equal(t, firstSyncTotals, after.Counters)
	assert.Equal(t, contract.PhaseWaiting, after.Phase)
	assert.Equal(t, []string{contract.PhaseFirstSync, contract.PhaseWaiting, contract.PhaseFirstSync,
		contract.PhaseWaiting, contract.PhaseInactive}, h.phases)
}

func TestCredentialsRejectedWaitsForNewSettings(t *testing.T) {
	f := newFake(3, 2)
	var badToken atomic.Bool
	badToken.Store(true)
	f.fail = func(act string, r contract.PageRef) error {
		if act == "FetchTicketPage" && r.From == "t1" && badToken.Load() {
			return temporal.NewNonRetryableApplicationError("zendesk rejected credentials",
				contract.ErrCredentialsRejected, nil)
		}
		return nil
	}
	h := newHarness(t, f)
	var running bool
	h.at(10*time.Minute, func() { running = !h.env.IsWorkflowCompleted() })
	rejected := h.progressAt(10 * time.Minute)
	h.at(10*time.Minute+time.Second, func() { badToken.Store(false) })
	h.signalAt(10*time.Minute+time.Second, contract.SignalSettingsChanged)
	resumed := h.progressAt(10*time.Minute + 2*time.Second)
	h.signalAt(11*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()

	assert.True(t, running, "credentials rejected must not end the workflow")
	assert.Equal(t, contract.PhaseCredentialsRejected, rejected.Phase)
	assert.Equal(t, "zendesk rejected credentials", rejected.LastError)
	assert.False(t, rejected.FirstSyncDone)
	errs := f.callsTo("RecordError")
	require.Len(t, errs, 1)
	assert.Equal(t, contract.ErrorInput{IntegrationID: integrationID, Message: "zendesk rejected credentials"}, errs[0].Err)

	// settings-changed re-reads the settings and retries at once, from the committed position (page "" was applied).
	assert.Len(t, f.callsTo("LoadSettings"), 2)
	assert.Equal(t, []string{"", "t1", "t1", "t2"}, f.froms("FetchTicketPage"))
	assert.True(t, resumed.FirstSyncDone, "the sync did not resume right after settings-changed: %+v", *resumed)
	assert.Empty(t, resumed.LastError)
	assert.Equal(t, contract.PhaseWaiting, resumed.Phase)
	assert.Equal(t, firstSyncTotals, resumed.Counters)
	// "waiting" is passed through (the retry wakes at once) before the first sync starts again.
	assert.Equal(t, []string{contract.PhaseFirstSync, contract.PhaseCredentialsRejected, contract.PhaseWaiting,
		contract.PhaseFirstSync, contract.PhaseWaiting, contract.PhaseInactive}, h.phases)
}

func TestCredentialsRejectedDuringIncrementalResumesOnSettingsChange(t *testing.T) {
	f := newFake(1, 1)
	var badToken atomic.Bool
	f.fail = func(act string, r contract.PageRef) error {
		if act == "FetchTicketPage" && badToken.Load() {
			return temporal.NewNonRetryableApplicationError("token revoked", contract.ErrCredentialsRejected, nil)
		}
		return nil
	}
	h := newHarness(t, f)
	h.at(10*time.Minute, func() { badToken.Store(true) })
	h.updateAt(10*time.Minute, contract.UpdateSyncNow, "u0", contract.SyncRequest{})
	rejected := h.progressAt(20 * time.Minute)
	h.at(30*time.Minute, func() { badToken.Store(false) })
	h.signalAt(30*time.Minute, contract.SignalSettingsChanged)
	resumed := h.progressAt(30*time.Minute + time.Second)
	h.signalAt(31*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()

	assert.Equal(t, contract.PhaseCredentialsRejected, rejected.Phase)
	assert.True(t, rejected.FirstSyncDone, "a rejected token does not undo the first sync")
	assert.Equal(t, "token revoked", rejected.LastError)
	assert.Equal(t, 3, resumed.SyncsCompleted)
	assert.Empty(t, resumed.LastError)
	require.NotNil(t, resumed.LastSyncAt)
	assert.True(t, resumed.LastSyncAt.Equal(t0.Add(30*time.Minute)), "resumed at %v", resumed.LastSyncAt)
}

func TestMalformedPageRetriesAfterInterval(t *testing.T) {
	f := newFake(3, 2)
	f.settings.IntervalSeconds = 60
	var failures atomic.Int32
	f.fail = func(act string, r contract.PageRef) error {
		if act == "FetchCommentPage" && r.From == "c1" && failures.Add(1) == 1 {
			return temporal.NewNonRetryableApplicationError("malformed page", contract.ErrMalformedPage, nil)
		}
		return nil
	}
	h := newHarness(t, f)
	failed := h.progressAt(30 * time.Second)
	retried := h.progressAt(61 * time.Second)
	h.signalAt(90*time.Second, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()

	assert.Equal(t, contract.PhaseWaiting, failed.Phase)
	assert.Equal(t, "malformed page", failed.LastError)
	assert.False(t, failed.FirstSyncDone)
	assert.Equal(t, 1, failed.SyncsCompleted)
	errs := f.callsTo("RecordError")
	require.Len(t, errs, 1)
	assert.Equal(t, "malformed page", errs[0].Err.Message)
	assert.Len(t, f.callsTo("EndSync"), 1, "EndSync only after the successful retry")

	assert.True(t, retried.FirstSyncDone)
	assert.Empty(t, retried.LastError)
	require.NotNil(t, retried.LastSyncAt)
	assert.True(t, retried.LastSyncAt.Equal(t0.Add(time.Minute)), "retried at %v, want after one interval", retried.LastSyncAt)
	assert.Equal(t, []string{"", "t1", "t2", "t3"}, f.froms("FetchTicketPage"))
	assert.Equal(t, []string{"", "c1", "c1"}, f.froms("FetchCommentPage"))
	assert.Equal(t, contract.Counters{Pages: 6, TicketsSynced: 3 * ticketsPer, CasesCreated: 3 * ticketsPer,
		CommentsSynced: 2 * commentsPer}, retried.Counters)
}

func TestDeactivateWhileWaitingEndsWithoutAnotherPass(t *testing.T) {
	f := newFake(1, 1)
	h := newHarness(t, f)
	h.signalAt(10*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()
	assert.Equal(t, 1, f.passesStarted())
	assert.WithinDuration(t, t0.Add(10*time.Minute), h.env.Now(), 0)
}

func TestInactiveIntegrationEndsAtOnce(t *testing.T) {
	f := newFake(1, 1)
	f.settings.Active = false
	h := newHarness(t, f)
	h.runFresh()
	h.requireEndedInactive()
	assert.Equal(t, []string{"LoadSettings"}, f.names())
	assert.Equal(t, []string{contract.PhaseInactive}, h.phases)
	assert.WithinDuration(t, t0, h.env.Now(), 0)
}

func TestSettingsChangedToInactiveEndsWithoutSync(t *testing.T) {
	f := newFake(1, 1)
	h := newHarness(t, f)
	h.at(10*time.Minute, func() { f.setSettings(func(s *contract.Settings) { s.Active = false }) })
	h.signalAt(10*time.Minute, contract.SignalSettingsChanged)
	h.runFresh()
	h.requireEndedInactive()
	assert.Len(t, f.callsTo("LoadSettings"), 2)
	assert.Equal(t, 1, f.passesStarted(), "a deactivated integration must not sync again")
}

func continueAsNewInput(t *testing.T, err error) (*workflow.ContinueAsNewError, contract.Input) {
	t.Helper()
	var canErr *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &canErr), "want continue-as-new, got %v", err)
	assert.Equal(t, contract.IntegrationWorkflowName, canErr.WorkflowType.Name)
	var in contract.Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(canErr.Input, &in))
	require.NotNil(t, in.State)
	return canErr, in
}

func TestContinueAsNewWhenSuggested(t *testing.T) {
	f := newFake(3, 2)
	h := newHarness(t, f)
	h.at(10*time.Minute, func() {
		f.grow(1, 0)
		h.env.SetContinueAsNewSuggested(true)
	})
	h.runFresh() // the suggestion is acted on at the top of the loop, after the pass the 1h timer starts

	_, in := continueAsNewInput(t, h.env.GetWorkflowError())
	assert.Equal(t, integrationID, in.IntegrationID)
	assert.Equal(t, "acme", in.Name)
	st := in.State
	assert.True(t, st.FirstSyncDone)
	assert.Equal(t, 1, st.Generation)
	want := plus(firstSyncTotals, contract.Counters{Pages: 2, TicketsSynced: ticketsPer, CasesCreated: ticketsPer})
	assert.Equal(t, want, st.Totals)
	assert.Equal(t, 2, st.SyncsCompleted)
	assert.Equal(t, 0, st.Cycles, "the cycle count restarts with the new run")
	require.NotNil(t, st.LastSyncAt)
	assert.True(t, st.LastSyncAt.Equal(t0.Add(time.Hour)))
	assert.Empty(t, st.LastError)
	assert.False(t, st.Deactivated)
}

func TestContinueAsNewAtCycleCapKeepsCarriedState(t *testing.T) {
	f := newFake(3, 2)
	f.streams["tickets"].cursor, f.streams["comments"].cursor = "t3", "c2" // the first sync was done by an earlier run
	h := newHarness(t, f)
	lastSync := t0.Add(-time.Hour)
	carried := &contract.State{Phase: contract.PhaseWaiting, FirstSyncDone: true, Generation: 1,
		Totals: firstSyncTotals, LastSyncAt: &lastSync, SyncsCompleted: 7, Cycles: workflows.MaxCyclesPerRun - 1,
		LastSync: contract.SyncResult{Seq: 7, Phase: contract.PhaseIncremental}}
	h.run(contract.Input{IntegrationID: integrationID, Name: "acme", State: carried})

	_, in := continueAsNewInput(t, h.env.GetWorkflowError())
	// A continued run goes straight to the incremental loop: it waits an interval and does not redo the first sync.
	assert.Equal(t, []string{"t3"}, f.froms("FetchTicketPage"))
	assert.Equal(t, []string{"c2"}, f.froms("FetchCommentPage"), "(within the ticket fetch: the pass found nothing)")
	assert.WithinDuration(t, t0.Add(time.Hour), h.env.Now(), 0)
	st := in.State
	assert.True(t, st.FirstSyncDone)
	assert.Equal(t, 1, st.Generation)
	assert.Equal(t, 8, st.SyncsCompleted)
	assert.Equal(t, 0, st.Cycles)
	want := firstSyncTotals
	want.Pages += 2
	assert.Equal(t, want, st.Totals)
	assert.Equal(t, []string{contract.PhaseWaiting, contract.PhaseIncremental}, h.phases)
}

// A sync-now that arrives while a pass is running must wait for the pass it causes, not return the result of the
// pass that was already under way (which may have read Zendesk before the change the caller wants synced).
func TestSyncNowDuringPassWaitsForTheNextPass(t *testing.T) {
	f := newFake(3, 2)
	f.delays["FetchTicketPage"] = time.Minute
	h := newHarness(t, f)
	o := h.updateAt(30*time.Second, contract.UpdateSyncNow, "u1", contract.SyncRequest{Wait: true})
	h.signalAt(time.Hour-time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()
	require.True(t, o.completed)
	require.NoError(t, o.err)
	assert.Equal(t, 2, decode[contract.SyncResult](t, o.result).Seq,
		"the update returned the first sync, which started before it was sent")
}

// A sync-now accepted after a failed pass (while RecordError runs) when continue-as-new is due must not leave the
// workflow blocked for ever in continueAsNew's Await(AllHandlersFinished).
func TestContinueAsNewWithPendingSyncNowDoesNotHang(t *testing.T) {
	f := newFake(1, 1)
	var failures atomic.Int32
	f.fail = func(act string, r contract.PageRef) error {
		if act == "FetchTicketPage" && r.From == "t1" && failures.Add(1) == 1 {
			return temporal.NewNonRetryableApplicationError("malformed page", contract.ErrMalformedPage, nil)
		}
		return nil
	}
	f.delays["RecordError"] = time.Minute
	h := newHarness(t, f)
	h.env.SetTestTimeout(5 * time.Second)
	h.at(10*time.Minute, func() { h.env.SetContinueAsNewSuggested(true) })
	h.updateAt(10*time.Minute, contract.UpdateSyncNow, "u0", contract.SyncRequest{}) // an incremental pass, which fails
	o := h.updateAt(10*time.Minute+30*time.Second, contract.UpdateSyncNow, "u1", contract.SyncRequest{Wait: true})
	h.env.ExecuteWorkflow(workflows.IntegrationWorkflow, contract.Input{IntegrationID: integrationID, Name: "acme"})

	require.True(t, o.accepted)
	assert.True(t, o.completed, "the sync-now update never completed")
	var canErr *workflow.ContinueAsNewError
	assert.True(t, errors.As(h.env.GetWorkflowError(), &canErr), "want continue-as-new, got %v", h.env.GetWorkflowError())
}
