package importing

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/store"
)

// run executes one activity in the test environment and decodes its result.
func run[T any](t *testing.T, env *testsuite.TestActivityEnvironment, fn any, arg any) T {
	t.Helper()
	v, err := env.ExecuteActivity(fn, arg)
	require.NoError(t, err)
	var out T
	require.NoError(t, v.Get(&out))
	return out
}

// syncStream pages one stream to its end as the workflow does, applying the pages the fetches staged.
func syncStream(t *testing.T, env *testsuite.TestActivityEnvironment, fetch, apply any, ref contract.PageRef) {
	t.Helper()
	for {
		fr := run[contract.FetchResult](t, env, fetch, ref)
		if fr.Applied == nil {
			run[store.Counters](t, env, apply, ref.Page())
		}
		if fr.EndOfStream {
			return
		}
		ref.From = fr.Next
	}
}

// After a first sync, a pass that finds nothing is one activity: the ticket fetch opens the pass, applies its empty
// page, goes on with the comment stream, applies that empty page too and ends the pass, with its two requests
// counted. Run again (its completion lost), it changes no position and ends the pass again.
func TestEmptyPassIsOneFetchThatEndsThePass(t *testing.T) {
	f := newFixture(t, 30)
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	register(env, f.a)
	env.RegisterActivityWithOptions(f.a.FetchCommentPage, activity.RegisterOptions{Name: contract.ActivityFetchCommentPage})
	env.RegisterActivityWithOptions(f.a.ApplyCommentPage, activity.RegisterOptions{Name: contract.ActivityApplyCommentPage})
	first := contract.PageRef{IntegrationID: f.id, StartPass: true, ApplyEmpty: true, EndPass: true, AndComments: true}
	fr := run[contract.FetchResult](t, env, f.a.FetchTicketPage, first)
	require.NotNil(t, fr.Position, "the first fetch says where the streams stood")
	require.Nil(t, fr.Applied, "a page of tickets is staged for its apply")
	require.Nil(t, fr.Comments)
	pos := *fr.Position
	run[store.Counters](t, env, f.a.ApplyTicketPage, contract.PageRef{IntegrationID: f.id, Generation: pos.Generation})
	if !fr.EndOfStream {
		syncStream(t, env, f.a.FetchTicketPage, f.a.ApplyTicketPage,
			contract.PageRef{IntegrationID: f.id, Generation: pos.Generation, From: fr.Next, ApplyEmpty: true})
	}
	syncStream(t, env, f.a.FetchCommentPage, f.a.ApplyCommentPage,
		contract.PageRef{IntegrationID: f.id, Generation: pos.Generation, From: pos.EventsFrom, ApplyEmpty: true})
	require.NoError(t, f.a.EndSync(f.ctx, contract.EndSyncInput{IntegrationID: f.id, FirstSyncDone: true}))
	synced, err := f.st.SyncState(f.ctx, f.id)
	require.NoError(t, err)

	empty := run[contract.FetchResult](t, env, f.a.FetchTicketPage, first)
	require.NotNil(t, empty.Applied, "nothing to write: applied by the fetch")
	assert.True(t, empty.EndOfStream)
	require.NotNil(t, empty.Comments, "the comment stream's first page, fetched by the same activity")
	assert.NotNil(t, empty.Comments.Applied)
	assert.True(t, empty.Comments.EndOfStream)
	assert.True(t, empty.Comments.PassEnded)
	after, err := f.st.SyncState(f.ctx, f.id)
	require.NoError(t, err)
	assert.Equal(t, synced.TicketCursor, after.TicketCursor)
	assert.Equal(t, synced.EventsStartTime, after.EventsStartTime)
	assert.Equal(t, synced.Pages+2, after.Pages, "two (empty) pages")
	assert.True(t, after.LastSyncAt.Time.After(synced.LastSyncAt.Time), "the pass's end is recorded")
	passes, err := f.st.Passes(f.ctx, f.id, synced.LastSyncAt.Time)
	require.NoError(t, err)
	require.NotEmpty(t, passes)
	last := passes[len(passes)-1]
	require.NotNil(t, last.EndedAt, "the pass is closed")
	assert.Nil(t, last.Error)
	assert.EqualValues(t, 2, last.Requests, "one export request per stream")

	again := run[contract.FetchResult](t, env, f.a.FetchTicketPage, first)
	require.NotNil(t, again.Comments)
	assert.True(t, again.Comments.PassEnded)
	retried, err := f.st.SyncState(f.ctx, f.id)
	require.NoError(t, err)
	assert.Equal(t, after.TicketCursor, retried.TicketCursor)
	assert.Equal(t, after.EventsStartTime, retried.EventsStartTime)
	var open int
	require.NoError(t, f.st.DB.Get(&open, `SELECT count(*) FROM sync_passes WHERE integration_id=$1 AND ended_at IS NULL`, f.id))
	assert.Zero(t, open, "no pass left open")
}
