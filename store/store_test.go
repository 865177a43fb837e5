package store

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), testdb.New(t), 0)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrateTwiceAndIntegrationCRUD(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	require.NoError(t, s.Migrate(ctx), "migrations must be re-runnable")

	uid, err := s.AddCRMUser(ctx, "Owner@Example.com", "Owner", "alias@example.com")
	require.NoError(t, err)
	_, err = s.AddCRMUser(ctx, "owner@example.com", "Dup")
	require.True(t, errors.Is(err, ErrExists), "emails are unique ignoring case: %v", err)
	u, err := s.CRMUserByEmail(ctx, "ALIAS@example.com")
	require.NoError(t, err)
	require.Equal(t, uid, u.ID)

	id, err := s.CreateIntegration(ctx, &Integration{Name: "acme", URL: "https://acme.zendesk.com", Email: "a@acme.com",
		TokenEnc: []byte{1, 2}, OwnerUserID: uid, Priority: "remote", IntervalSeconds: 300})
	require.NoError(t, err)
	in, err := s.IntegrationByName(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, id, in.ID)
	require.Equal(t, "Owner@Example.com", in.OwnerEmail)
	_, err = s.CreateIntegration(ctx, in)
	require.True(t, errors.Is(err, ErrExists))
	in.Priority = "local"
	require.NoError(t, s.UpdateIntegration(ctx, in))
	in2, _ := s.Integration(ctx, id)
	require.Equal(t, "local", in2.Priority)
	require.Equal(t, 2, in2.SettingsVersion)
	st, err := s.SyncState(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "first_sync", st.Phase)
	_, err = s.IntegrationByName(ctx, "nope")
	require.True(t, errors.Is(err, ErrNotFound))
}

func TestApplyPageOnceAndStale(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	uid, _ := s.AddCRMUser(ctx, "o@example.com", "O")
	id, err := s.CreateIntegration(ctx, &Integration{Name: "x", URL: "u", Email: "e", TokenEnc: []byte{1},
		OwnerUserID: uid, Priority: "remote", IntervalSeconds: 60})
	require.NoError(t, err)
	require.NoError(t, s.StagePage(ctx, &Page{IntegrationID: id, Kind: KindTickets, FromPos: "", NextPos: "c1", Body: []byte("{}")}))
	calls := 0
	apply := func(p *PageTx, page *Page) (Counters, error) { calls++; return Counters{Tickets: 3}, nil }
	c, err := s.ApplyPage(ctx, id, KindTickets, 0, "", apply)
	require.NoError(t, err)
	require.Equal(t, int64(3), c.Tickets)
	c, err = s.ApplyPage(ctx, id, KindTickets, 0, "", apply)
	require.NoError(t, err)
	require.True(t, c.AlreadyApplied)
	require.Equal(t, 1, calls)
	st, _ := s.SyncState(ctx, id)
	require.Equal(t, "c1", st.TicketCursor)
	require.Equal(t, int64(3), st.TicketsSynced)

	gen, err := s.ResetSync(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, gen)
	_, err = s.ApplyPage(ctx, id, KindTickets, 0, "c1", apply)
	require.True(t, errors.Is(err, ErrStalePage))
}

// An empty page is applied without staging: the position moves from the page's start to its end and the page counts,
// once; applying it again (a retried fetch) finds the stream past it and says where the stream stands; a page of an
// older generation is stale. The comment stream's position is a number.
func TestApplyEmptyPageOnceAndStale(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	id := newIntegration(t, s)
	empty := &Page{IntegrationID: id, Kind: KindTickets, FromPos: "", NextPos: "c1", EndOfStream: true}
	c, at, err := s.ApplyEmptyPage(ctx, empty)
	require.NoError(t, err)
	require.Equal(t, Counters{}, c)
	require.Equal(t, "c1", at)
	st, _ := s.SyncState(ctx, id)
	require.Equal(t, "c1", st.TicketCursor)
	require.Equal(t, int64(1), st.Pages)

	// The tail of a stream: a page that ends where it starts still counts as a page.
	c, at, err = s.ApplyEmptyPage(ctx, &Page{IntegrationID: id, Kind: KindTickets, FromPos: "c1", NextPos: "c1"})
	require.NoError(t, err)
	require.Equal(t, "c1", at)
	require.False(t, c.AlreadyApplied)

	c, at, err = s.ApplyEmptyPage(ctx, empty)
	require.NoError(t, err)
	require.True(t, c.AlreadyApplied)
	require.Equal(t, "c1", at, "where the stream stands")
	st, _ = s.SyncState(ctx, id)
	require.Equal(t, int64(2), st.Pages, "a page applied before is not counted again")

	_, at, err = s.ApplyEmptyPage(ctx, &Page{IntegrationID: id, Kind: KindComments, FromPos: "0", NextPos: "1700000000"})
	require.NoError(t, err)
	require.Equal(t, "1700000000", at)
	st, _ = s.SyncState(ctx, id)
	require.Equal(t, int64(1700000000), st.EventsStartTime)

	_, err = s.ResetSync(ctx, id)
	require.NoError(t, err)
	_, _, err = s.ApplyEmptyPage(ctx, &Page{IntegrationID: id, Kind: KindTickets, Generation: 0, FromPos: "", NextPos: "c2"})
	require.True(t, errors.Is(err, ErrStalePage), "%v", err)
	st, _ = s.SyncState(ctx, id)
	require.Equal(t, "", st.TicketCursor)
}
