package workflows_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// emptyPassAfterFirstSync runs a first sync of newFake(3, 2), then one pass at the 1-minute interval that finds
// nothing, then deactivation; it returns the activities that pass ran and the progress after it.
func emptyPassAfterFirstSync(t *testing.T, f *fakeZendesk) ([]fakeCall, *contract.Progress) {
	t.Helper()
	return emptyPassWatched(t, f, func(*harness) {})
}

// emptyPassWatched is emptyPassAfterFirstSync with watch called on the harness before the workflow runs (to set
// the test environment's listeners).
func emptyPassWatched(t *testing.T, f *fakeZendesk, watch func(h *harness)) ([]fakeCall, *contract.Progress) {
	t.Helper()
	f.settings.IntervalSeconds = 60
	h := newHarness(t, f)
	watch(h)
	var before int
	h.at(30*time.Second, func() { before = len(f.names()) })
	after := h.progressAt(100 * time.Second)
	h.signalAt(110*time.Second, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls[before:]...), after
}

func namesOf(calls []fakeCall) []string {
	out := []string{}
	for _, c := range calls {
		out = append(out, c.Name)
	}
	return out
}

// A pass that finds nothing is one activity: its ticket fetch opens the pass and reads where the streams stand (no
// SyncPosition), applies its empty page itself (no apply activity), goes on with the comment stream's first page in
// the same activity, applies that one too, and records the end of the pass (no EndSync). Progress shows the pass as
// before: its sequence number, when it ran, its two (empty) pages.
func TestEmptyPassIsOneActivity(t *testing.T) {
	f := newFake(3, 2)
	calls, after := emptyPassAfterFirstSync(t, f)

	require.Equal(t, []string{"FetchCommentPage", "FetchTicketPage"}, namesOf(calls), "the comment fetch is within")
	assert.True(t, calls[0].Within)
	assert.Equal(t, contract.PageRef{IntegrationID: integrationID, Generation: 1, From: "t3", StartPass: true,
		ApplyEmpty: true, EndPass: true, AndComments: true}, calls[1].Ref)
	assert.Equal(t, contract.PageRef{IntegrationID: integrationID, Generation: 1, From: "c2", ApplyEmpty: true,
		EndPass: true}, calls[0].Ref)
	assert.True(t, calls[0].Ended, "the comment fetch ended the pass")
	assert.Equal(t, "t3", f.streams[contract.KindTickets].cursor)
	assert.Equal(t, "c2", f.streams[contract.KindComments].cursor)

	assert.Equal(t, 2, after.SyncsCompleted)
	assert.Equal(t, contract.PhaseWaiting, after.Phase)
	assert.Empty(t, after.LastError)
	require.NotNil(t, after.LastSyncAt)
	assert.True(t, after.LastSyncAt.Equal(t0.Add(time.Minute)), "the empty pass ran at %v", after.LastSyncAt)
	assert.Equal(t, plus(firstSyncTotals, contract.Counters{Pages: 2}), after.Counters)
}

// New comments but no new tickets: the ticket fetch stages the comment page it went on with, and the workflow applies
// it and ends the pass as usual.
func TestPassWithOnlyNewCommentsAppliesThePageTheTicketFetchStaged(t *testing.T) {
	f := newFake(3, 2)
	f.settings.IntervalSeconds = 60
	h := newHarness(t, f)
	h.at(30*time.Second, func() { f.grow(0, 1) })
	after := h.progressAt(100 * time.Second)
	h.signalAt(110*time.Second, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()

	names := f.names()
	require.Equal(t, []string{"FetchTicketPage", "ApplyCommentPage", "EndSync"}, names[len(names)-3:])
	assert.Equal(t, []string{"", "c1", "c2"}, f.froms("ApplyCommentPage"))
	assert.Equal(t, "c3", f.streams[contract.KindComments].cursor)
	assert.Equal(t, plus(firstSyncTotals, contract.Counters{Pages: 2, CommentsSynced: commentsPer}), after.Counters)
	assert.Equal(t, 2, after.SyncsCompleted)
}

// With two-way sync the push follows the streams, so the comment fetch leaves the end of the pass to EndSync.
func TestEmptyTwoWayPassPushesThenEnds(t *testing.T) {
	f := newFake(3, 2)
	f.settings.TwoWay = true
	calls, after := emptyPassAfterFirstSync(t, f)

	require.Equal(t, []string{"FetchCommentPage", "FetchTicketPage", "PushLocalChanges", "EndSync"}, namesOf(calls))
	assert.True(t, calls[0].Ref.ApplyEmpty)
	assert.False(t, calls[0].Ref.EndPass)
	assert.False(t, calls[0].Ended)
	assert.Equal(t, 2, after.SyncsCompleted)
	assert.Equal(t, plus(firstSyncTotals, contract.Counters{Pages: 2}), after.Counters)
}

// A fetch run by a worker that predates the lean pass ignores its flags and says nothing of where the streams
// stand: the workflow then reads the position (SyncPosition) and goes on as before, applying each page.
func TestLeanPassOnAnOlderWorkerFallsBackToSyncPosition(t *testing.T) {
	f := newFake(3, 2)
	f.legacyFetch = true
	calls, after := emptyPassAfterFirstSync(t, f)

	require.Equal(t, []string{"FetchTicketPage", "SyncPosition", "FetchTicketPage", "ApplyTicketPage",
		"FetchCommentPage", "ApplyCommentPage", "EndSync"}, namesOf(calls))
	assert.Equal(t, "t3", calls[2].Ref.From)
	assert.Equal(t, "c2", calls[4].Ref.From)
	assert.Equal(t, 2, after.SyncsCompleted)
	assert.Equal(t, plus(firstSyncTotals, contract.Counters{Pages: 2}), after.Counters)
}

// emptyPassFetchStarts runs emptyPassAfterFirstSync and returns, from the test environment's listeners, the ticket
// fetches started after the first sync as local activities and as ordinary activities.
func emptyPassFetchStarts(t *testing.T, f *fakeZendesk) (local, ordinary int, calls []fakeCall, after *contract.Progress) {
	t.Helper()
	var mu sync.Mutex
	synced := t0.Add(30 * time.Second) // the first sync is over by then
	calls, after = emptyPassWatched(t, f, func(h *harness) {
		h.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []interface{}) {
			mu.Lock()
			defer mu.Unlock()
			if info.ActivityType.Name == contract.ActivityFetchTicketPage && h.env.Now().After(synced) {
				local++
			}
		})
		h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
			mu.Lock()
			defer mu.Unlock()
			if info.ActivityType.Name == contract.ActivityFetchTicketPage && h.env.Now().After(synced) {
				ordinary++
			}
		})
	})
	return local, ordinary, calls, after
}

// The first fetch of an incremental pass runs as a local activity (versionLocalFirstFetch), so a pass that finds
// nothing is one workflow task: no activity task at all. A first sync's fetches stay ordinary activities (its pages
// go to the bulk queue).
func TestEmptyPassFetchesInALocalActivity(t *testing.T) {
	f := newFake(3, 2)
	local, ordinary, calls, after := emptyPassFetchStarts(t, f)

	assert.Equal(t, 1, local, "the pass's fetch ran as a local activity")
	assert.Zero(t, ordinary, "and not again as an ordinary one")
	assert.Equal(t, []string{"FetchCommentPage", "FetchTicketPage"}, namesOf(calls))
	assert.Equal(t, 2, after.SyncsCompleted)
	assert.Empty(t, after.LastError)
}

// A local first fetch that fails in a way worth retrying (Zendesk unavailable) is not retried locally, where
// progress could not show its attempts: the same fetch runs as an ordinary activity, and the pass goes on.
func TestLocalFirstFetchThatFailsTransientlyRunsAgainAsAnActivity(t *testing.T) {
	f := newFake(3, 2)
	var failed atomic.Int32
	f.setFail(func(act string, r contract.PageRef) error {
		if act == contract.ActivityFetchTicketPage && r.From == "t3" && failed.Add(1) == 1 {
			return temporal.NewApplicationError("zendesk: 503 Service Unavailable", "ZendeskUnavailable")
		}
		return nil
	})
	local, ordinary, calls, after := emptyPassFetchStarts(t, f)

	assert.Equal(t, 1, local)
	assert.Equal(t, 1, ordinary, "the failed local fetch ran again as an activity")
	assert.Equal(t, []string{"FetchTicketPage", "FetchCommentPage", "FetchTicketPage"}, namesOf(calls))
	assert.Zero(t, calls[0].Ref.PriorAttempts)
	assert.EqualValues(t, 1, calls[2].Ref.PriorAttempts, "the activity counts the local attempt")
	assert.Equal(t, 2, after.SyncsCompleted)
	assert.Empty(t, after.LastError, "the pass ended well")
}

// A local first fetch that fails for good (here a malformed page) fails the pass at once, as the ordinary activity
// would have: running it again would only fail the same way.
func TestLocalFirstFetchThatFailsForGoodFailsThePass(t *testing.T) {
	f := newFake(3, 2)
	f.setFail(func(act string, r contract.PageRef) error {
		if act == contract.ActivityFetchTicketPage && r.From == "t3" {
			return temporal.NewNonRetryableApplicationError("ticket page: malformed JSON", contract.ErrMalformedPage, nil)
		}
		return nil
	})
	local, ordinary, calls, after := emptyPassFetchStarts(t, f)

	assert.Equal(t, 1, local)
	assert.Zero(t, ordinary)
	assert.Equal(t, []string{"FetchTicketPage", "RecordError"}, namesOf(calls))
	assert.Contains(t, after.LastError, "malformed JSON")
}
