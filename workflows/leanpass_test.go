package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// emptyPassAfterFirstSync runs a first sync of newFake(3, 2), then one pass at the 1-minute interval that finds
// nothing, then deactivation; it returns the activities that pass ran and the progress after it.
func emptyPassAfterFirstSync(t *testing.T, f *fakeZendesk) ([]fakeCall, *contract.Progress) {
	t.Helper()
	f.settings.IntervalSeconds = 60
	h := newHarness(t, f)
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

// A pass that finds nothing costs one fetch per stream: the first opens the pass and reads where the streams stand
// (no SyncPosition), each applies its empty page itself (no apply activity), and the last records the end of the
// pass (no EndSync). Progress shows the pass as before: its sequence number, when it ran, its two (empty) pages.
func TestEmptyPassIsOneFetchPerStream(t *testing.T) {
	f := newFake(3, 2)
	calls, after := emptyPassAfterFirstSync(t, f)

	require.Equal(t, []string{"FetchTicketPage", "FetchCommentPage"}, namesOf(calls))
	assert.Equal(t, contract.PageRef{IntegrationID: integrationID, Generation: 1, From: "t3", StartPass: true,
		ApplyEmpty: true}, calls[0].Ref)
	assert.Equal(t, contract.PageRef{IntegrationID: integrationID, Generation: 1, From: "c2", ApplyEmpty: true,
		EndPass: true}, calls[1].Ref)
	assert.True(t, calls[1].Ended, "the comment fetch ended the pass")
	assert.Equal(t, "t3", f.streams[contract.KindTickets].cursor)
	assert.Equal(t, "c2", f.streams[contract.KindComments].cursor)

	assert.Equal(t, 2, after.SyncsCompleted)
	assert.Equal(t, contract.PhaseWaiting, after.Phase)
	assert.Empty(t, after.LastError)
	require.NotNil(t, after.LastSyncAt)
	assert.True(t, after.LastSyncAt.Equal(t0.Add(time.Minute)), "the empty pass ran at %v", after.LastSyncAt)
	assert.Equal(t, plus(firstSyncTotals, contract.Counters{Pages: 2}), after.Counters)
}

// With two-way sync the push follows the streams, so the comment fetch leaves the end of the pass to EndSync.
func TestEmptyTwoWayPassPushesThenEnds(t *testing.T) {
	f := newFake(3, 2)
	f.settings.TwoWay = true
	calls, after := emptyPassAfterFirstSync(t, f)

	require.Equal(t, []string{"FetchTicketPage", "FetchCommentPage", "PushLocalChanges", "EndSync"}, namesOf(calls))
	assert.True(t, calls[1].Ref.ApplyEmpty)
	assert.False(t, calls[1].Ref.EndPass)
	assert.False(t, calls[1].Ended)
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
