package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pruneFixture is one integration with bookkeeping rows of every kind, old and fresh, each with a label so a test
// can say which survive.
type pruneFixture struct {
	s      *Store
	id     int64
	caseID int64
}

func newPruneFixture(t *testing.T) *pruneFixture {
	t.Helper()
	ctx := context.Background()
	s := open(t)
	uid, err := s.AddCRMUser(ctx, "o@example.com", "O")
	require.NoError(t, err)
	id, err := s.CreateIntegration(ctx, &Integration{Name: "x", URL: "u", Email: "e", TokenEnc: []byte{1},
		OwnerUserID: uid, Priority: "remote", IntervalSeconds: 60})
	require.NoError(t, err)
	f := &pruneFixture{s: s, id: id}
	require.NoError(t, s.DB.GetContext(ctx, &f.caseID,
		`INSERT INTO cases (integration_id, subject) VALUES ($1, 'c') RETURNING id`, id))
	// Two resets happened: generation 2 is current.
	f.exec(t, `UPDATE sync_state SET generation = 2 WHERE integration_id = $1`, id)
	return f
}

func (f *pruneFixture) exec(t *testing.T, q string, args ...interface{}) {
	t.Helper()
	_, err := f.s.DB.Exec(q, args...)
	require.NoError(t, err, q)
}

// The labels are kept in text columns the prune never looks at.
func (f *pruneFixture) outbox(t *testing.T, label, created, processed string) {
	f.exec(t, `INSERT INTO outbox (integration_id, case_id, fields, created_at, processed_at)
		VALUES ($1, $2, ARRAY[$3], now() - $4::interval, now() - $5::interval)`, f.id, f.caseID, label, created, nullIfEmpty(processed))
}

func (f *pruneFixture) conflict(t *testing.T, label, decided string) {
	f.exec(t, `INSERT INTO conflicts (integration_id, case_id, ticket_id, field, winner, decided_at)
		VALUES ($1, $2, 1, $3, 'remote', now() - $4::interval)`, f.id, f.caseID, label, decided)
}

func (f *pruneFixture) failure(t *testing.T, label string, zid int64, created, resolved string) {
	f.exec(t, `INSERT INTO sync_failures (integration_id, kind, zendesk_id, reason, created_at, resolved_at)
		VALUES ($1, 'ticket', $2, $3, now() - $4::interval, now() - $5::interval)`, f.id, zid, label, created, nullIfEmpty(resolved))
}

func (f *pruneFixture) page(t *testing.T, label string, gen int, created string) {
	f.exec(t, `INSERT INTO sync_pages (integration_id, kind, generation, from_pos, next_pos, end_of_stream, body, created_at)
		VALUES ($1, 'tickets', $2, $3, 'next', false, '\x7b7d', now() - $4::interval)`, f.id, gen, label, created)
}

func nullIfEmpty(s string) interface{} {
	if s == "" {
		return nil
	}
	return s
}

// labels lists what is left in each table, by label.
func (f *pruneFixture) labels(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for table, q := range map[string]string{
		"outbox":        `SELECT fields[1] FROM outbox ORDER BY 1`,
		"conflicts":     `SELECT field FROM conflicts ORDER BY 1`,
		"sync_failures": `SELECT reason FROM sync_failures ORDER BY 1`,
		"sync_pages":    `SELECT from_pos FROM sync_pages ORDER BY 1`,
	} {
		l := []string{}
		require.NoError(t, f.s.DB.Select(&l, q))
		out[table] = l
	}
	return out
}

func TestPruneDropsExpiredBookkeepingAndKeepsWhatIsFreshOrPending(t *testing.T) {
	ctx := context.Background()
	f := newPruneFixture(t)
	f.outbox(t, "old-processed", "41 days", "40 days")
	f.outbox(t, "fresh-processed", "2 days", "1 day")
	f.outbox(t, "old-pending", "100 days", "")
	f.conflict(t, "old", "31 days")
	f.conflict(t, "fresh", "29 days")
	f.failure(t, "old-resolved", 1, "90 days", "45 days")
	f.failure(t, "fresh-resolved", 2, "90 days", "2 days")
	f.failure(t, "old-open", 3, "100 days", "")
	f.page(t, "old-generation", 1, "1 minute")
	f.page(t, "current-fresh", 2, "1 minute")
	f.page(t, "current-abandoned", 2, "25 hours")

	res, err := f.s.Prune(ctx, PruneOptions{})
	require.NoError(t, err)
	assert.False(t, res.Skipped)
	assert.Equal(t, map[string][]string{
		"outbox":        {"fresh-processed", "old-pending"},
		"conflicts":     {"fresh"},
		"sync_failures": {"fresh-resolved", "old-open"},
		"sync_pages":    {"current-fresh"},
	}, f.labels(t))
	assert.Equal(t, PruneTable{Rows: 1, Batches: 1}, res.Tables["outbox"])
	assert.Equal(t, PruneTable{Rows: 2, Batches: 1}, res.Tables["sync_pages"])

	// Idempotent: a second run finds nothing more.
	res, err = f.s.Prune(ctx, PruneOptions{})
	require.NoError(t, err)
	for table, n := range res.Tables {
		assert.Zero(t, n.Rows, table)
	}

	// The retention is configurable: with 12 hours, the day-old rows go too; pending and open ones never do.
	_, err = f.s.Prune(ctx, PruneOptions{Retention: 12 * time.Hour})
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{
		"outbox":        {"old-pending"},
		"conflicts":     {},
		"sync_failures": {"old-open"},
		"sync_pages":    {"current-fresh"},
	}, f.labels(t))
}

func TestPruneDeletesInBoundedBatches(t *testing.T) {
	ctx := context.Background()
	f := newPruneFixture(t)
	for i := 0; i < 25; i++ {
		f.outbox(t, fmt.Sprint("old-", i), "41 days", "40 days")
		f.conflict(t, fmt.Sprint("old-", i), "40 days")
	}
	f.outbox(t, "fresh", "1 day", "1 day")

	res, err := f.s.Prune(ctx, PruneOptions{Batch: 10})
	require.NoError(t, err)
	// 25 rows in DELETEs of at most 10: 10 + 10 + 5.
	assert.Equal(t, PruneTable{Rows: 25, Batches: 3}, res.Tables["outbox"])
	assert.Equal(t, PruneTable{Rows: 25, Batches: 3}, res.Tables["conflicts"])
	assert.Equal(t, []string{"fresh"}, f.labels(t)["outbox"])
}

func TestPruneRunsInOneProcessAtATime(t *testing.T) {
	ctx := context.Background()
	f := newPruneFixture(t)
	f.outbox(t, "old", "41 days", "40 days")

	// Another worker is pruning: it holds the lock on its own session.
	other, err := f.s.DB.Conn(ctx)
	require.NoError(t, err)
	defer other.Close()
	_, err = other.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, pruneLockKey)
	require.NoError(t, err)
	res, err := f.s.Prune(ctx, PruneOptions{})
	require.NoError(t, err)
	assert.True(t, res.Skipped, "the lock is taken: skip, do not wait")
	assert.Equal(t, []string{"old"}, f.labels(t)["outbox"])

	_, err = other.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, pruneLockKey)
	require.NoError(t, err)
	res, err = f.s.Prune(ctx, PruneOptions{})
	require.NoError(t, err)
	assert.False(t, res.Skipped)
	assert.Equal(t, []string{}, f.labels(t)["outbox"])

	// The run released its lock: another session can take it.
	var locked bool
	require.NoError(t, other.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, pruneLockKey).Scan(&locked))
	assert.True(t, locked, "Prune must release the advisory lock")
}
