package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A pass's record opens once however often its first step runs, closes with what the pass did and its requests,
// and a reset cuts the open one short: the next start closes it as such and opens a new one (zs_start_pass,
// zs_end_pass, zs_close_pass).
func TestPassRecordOpensOnceClosesWithItsCountsAndIsCutShortByAReset(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	id := newIntegration(t, s)
	st, err := s.StartPass(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, id, st.IntegrationID)
	assert.False(t, st.FirstSyncDone)
	gen := st.Generation
	_, err = s.StartPass(ctx, id) // a retried first step
	require.NoError(t, err)
	require.NoError(t, s.CountRequests(ctx, id, 3))
	_, err = s.DB.ExecContext(ctx, `UPDATE sync_state SET tickets_synced = tickets_synced + 7,
		cases_created = cases_created + 5 WHERE integration_id = $1`, id)
	require.NoError(t, err)
	require.NoError(t, s.EndSyncedPass(ctx, id, true, 2))

	ps, err := s.Passes(ctx, id, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Len(t, ps, 1, "one pass however often it started")
	p := ps[0]
	require.NotNil(t, p.EndedAt)
	assert.True(t, p.FirstSync)
	assert.Nil(t, p.Error)
	assert.EqualValues(t, 5, p.Requests, "counted during the pass, and its last ones as it ended")
	assert.EqualValues(t, 7, p.Tickets)
	assert.EqualValues(t, 5, p.CasesCreated)
	st, err = s.SyncState(ctx, id)
	require.NoError(t, err)
	assert.True(t, st.FirstSyncDone)
	assert.Equal(t, "incremental", st.Phase)
	assert.True(t, st.LastSyncAt.Valid)

	// The next pass starts from the counters as they are, and a reset cuts it short.
	_, err = s.StartPass(ctx, id)
	require.NoError(t, err)
	_, err = s.ResetSync(ctx, id)
	require.NoError(t, err)
	st, err = s.StartPass(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, gen+1, st.Generation)
	require.NoError(t, s.EndPass(ctx, id, "Zendesk said 403"))
	ps, err = s.Passes(ctx, id, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Len(t, ps, 3)
	require.NotNil(t, ps[1].Error)
	assert.Equal(t, "cut short by a reset", *ps[1].Error)
	assert.Zero(t, ps[1].Tickets)
	require.NotNil(t, ps[2].Error)
	assert.Equal(t, "Zendesk said 403", *ps[2].Error)
	assert.True(t, ps[2].FirstSync, "after the reset, a first sync again")

	_, err = s.StartPass(ctx, id+1000)
	assert.ErrorIs(t, err, ErrNotFound)
}

// A running pass shows what it has done so far, counted as its record will be when it ends (zs_pass_growth): the
// counters' growth since it opened, and, once a reset has restarted them, their values since the reset.
func TestRunningPassCountsAsItWillWhenItEnds(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	id := newIntegration(t, s)
	bump := func(tickets, comments int) {
		t.Helper()
		_, err := s.DB.ExecContext(ctx, `UPDATE sync_state SET tickets_synced = tickets_synced + $2,
			comments_synced = comments_synced + $3 WHERE integration_id = $1`, id, tickets, comments)
		require.NoError(t, err)
	}
	running := func() Pass {
		t.Helper()
		ps, err := s.Passes(ctx, id, time.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.NotEmpty(t, ps)
		return ps[len(ps)-1]
	}
	bump(10, 10) // before the pass: not its work
	_, err := s.StartPass(ctx, id)
	require.NoError(t, err)
	bump(3, 1)
	p := running()
	assert.Nil(t, p.EndedAt)
	assert.EqualValues(t, 3, p.Tickets)
	assert.EqualValues(t, 1, p.Comments)

	_, err = s.ResetSync(ctx, id)
	require.NoError(t, err)
	bump(2, 0)
	p = running()
	assert.Nil(t, p.EndedAt)
	assert.EqualValues(t, 2, p.Tickets, "since the reset")
	assert.EqualValues(t, 0, p.Comments)

	require.NoError(t, s.EndPass(ctx, id, "Zendesk said 503"))
	ended := running()
	require.NotNil(t, ended.EndedAt)
	assert.Equal(t, p.ID, ended.ID)
	assert.EqualValues(t, 2, ended.Tickets, "stored as it was shown")
	assert.EqualValues(t, 0, ended.Comments)
}
