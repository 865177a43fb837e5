package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// A retry of an apply whose completion was lost must report what the page did, or the workflow's progress misses
// the page's tickets for good.
func TestRetriedApplyReturnsTheCountersOfThePageItApplied(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	uid, _ := s.AddCRMUser(ctx, "o@example.com", "O")
	id, err := s.CreateIntegration(ctx, &Integration{Name: "x", URL: "u", Email: "e", TokenEnc: []byte{1},
		OwnerUserID: uid, Priority: "remote", IntervalSeconds: 60})
	require.NoError(t, err)
	want := Counters{Tickets: 7, CasesCreated: 5, CasesUpdated: 2, Comments: 11, Failures: 1}
	calls := 0
	apply := func(c Counters) func(p *PageTx, page *Page) (Counters, error) {
		return func(p *PageTx, page *Page) (Counters, error) { calls++; return c, nil }
	}
	require.NoError(t, s.StagePage(ctx, &Page{IntegrationID: id, Kind: KindTickets, FromPos: "", NextPos: "c1", Body: []byte("{}")}))
	got, err := s.ApplyPage(ctx, id, KindTickets, 0, "", apply(want))
	require.NoError(t, err)
	require.Equal(t, want, got)

	// The completion was lost: the same page is applied again.
	got, err = s.ApplyPage(ctx, id, KindTickets, 0, "", apply(want))
	require.NoError(t, err)
	require.Equal(t, 1, calls, "the page is applied once")
	require.True(t, got.AlreadyApplied)
	got.AlreadyApplied = false
	require.Equal(t, want, got, "the retry reports the counters of the page it applied")

	// The comment stream keeps its own record.
	require.NoError(t, s.StagePage(ctx, &Page{IntegrationID: id, Kind: KindComments, FromPos: "0", NextPos: "100", Body: []byte("{}")}))
	cw := Counters{Comments: 3}
	_, err = s.ApplyPage(ctx, id, KindComments, 0, "0", apply(cw))
	require.NoError(t, err)
	got, err = s.ApplyPage(ctx, id, KindComments, 0, "0", apply(cw))
	require.NoError(t, err)
	require.True(t, got.AlreadyApplied)
	require.Equal(t, int64(3), got.Comments)

	// The record is bounded: after many more pages, only the last few are kept per stream.
	from := "c1"
	for i := 0; i < 20; i++ {
		next := from + "x"
		require.NoError(t, s.StagePage(ctx, &Page{IntegrationID: id, Kind: KindTickets, FromPos: from, NextPos: next, Body: []byte("{}")}))
		_, err := s.ApplyPage(ctx, id, KindTickets, 0, from, apply(Counters{Tickets: int64(i)}))
		require.NoError(t, err)
		from = next
	}
	var n int
	require.NoError(t, s.DB.GetContext(ctx, &n, `SELECT count(*) FROM applied_pages WHERE integration_id=$1 AND kind='tickets'`, id))
	require.LessOrEqual(t, n, appliedPagesKept)
	require.NoError(t, s.DB.GetContext(ctx, &n, `SELECT count(*) FROM applied_pages WHERE integration_id=$1 AND kind='comments'`, id))
	require.Equal(t, 1, n, "pruning one stream leaves the other's record")
	// The newest is still there.
	got, err = s.ApplyPage(ctx, id, KindTickets, 0, from[:len(from)-1], apply(Counters{}))
	require.NoError(t, err)
	require.True(t, got.AlreadyApplied)
	require.Equal(t, int64(19), got.Tickets)

	// A reset forgets them: an older generation's page is stale, not already applied.
	_, err = s.ResetSync(ctx, id)
	require.NoError(t, err)
	require.NoError(t, s.DB.GetContext(ctx, &n, `SELECT count(*) FROM applied_pages WHERE integration_id=$1`, id))
	require.Equal(t, 0, n)
}
