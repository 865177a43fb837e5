package store

import (
	"context"
	"sync"
	"testing"
	"time"

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

// A page applied while the page before it is still applying (a pipelined stream) waits for it on the sync-state lock
// and then applies; when it comes first it gives way (ErrPageNotNext) and leaves its staged page for its retry,
// rather than taking it for stale. The start of the ticket stream ("") is a page before like any other.
func TestAPageAppliedAfterThePageBeforeWaitsForIt(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	id := newIntegration(t, s)
	for _, p := range []Page{{FromPos: "", NextPos: "c1"}, {FromPos: "c1", NextPos: "c2"}} {
		p.IntegrationID, p.Kind, p.Body = id, KindTickets, []byte("{}")
		require.NoError(t, s.StagePage(ctx, &p))
	}
	var mu sync.Mutex
	var order []string
	apply := func(name string, hold <-chan struct{}) func(p *PageTx, page *Page) (Counters, error) {
		return func(p *PageTx, page *Page) (Counters, error) {
			if hold != nil {
				<-hold
			}
			mu.Lock()
			defer mu.Unlock()
			order = append(order, name)
			return Counters{Tickets: 1}, nil
		}
	}
	start := ""
	// The second page first: the stream still stands at the first.
	_, err := s.ApplyPageAfter(ctx, id, KindTickets, 0, "c1", &start, apply("second", nil))
	require.ErrorIs(t, err, ErrPageNotNext)

	// The first page holds the lock while the second waits for it, then the second applies.
	hold := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := s.ApplyPageAfter(ctx, id, KindTickets, 0, "", nil, apply("first", hold))
		first <- err
	}()
	time.Sleep(100 * time.Millisecond) // the first has the lock
	second := make(chan error, 1)
	go func() {
		_, err := s.ApplyPageAfter(ctx, id, KindTickets, 0, "c1", &start, apply("second", nil))
		second <- err
	}()
	time.Sleep(100 * time.Millisecond)
	close(hold)
	require.NoError(t, <-first)
	require.NoError(t, <-second)
	require.Equal(t, []string{"first", "second"}, order)
	st, err := s.SyncState(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "c2", st.TicketCursor)
}
