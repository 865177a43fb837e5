package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"
)

// Retention of the sync's bookkeeping: without pruning, the outbox, the conflict log, resolved failures and
// abandoned staged pages would make up most of the database of a year-old integration.
const (
	// DefaultRetention keeps processed outbox rows, conflict decisions and resolved failures for 30 days:
	// long enough to answer "what happened to my edit last week", short enough to stay small.
	DefaultRetention = 30 * 24 * time.Hour
	// DefaultStagedPageAge drops staged pages older than a day. A page normally lives for seconds, between the
	// fetch and the apply of a pass; one older than a day belongs to a pass that was abandoned, and a pass that
	// comes back to it fetches it again.
	DefaultStagedPageAge = 24 * time.Hour
	// DefaultPruneBatch bounds the rows one DELETE removes, so a huge backlog is worked off in short transactions
	// that never hold many row locks or block the sync for long.
	DefaultPruneBatch = 1000
)

// pruneLockKey is the PostgreSQL advisory lock (session level) held while pruning, so several workers do not
// prune at once. Any constant works as long as nothing else uses it; goose's migration lock uses another.
const pruneLockKey int64 = 0x7a735f7072756e65 // "zs_prune"

// PruneOptions says what is old enough to go. Zero values take the defaults above.
type PruneOptions struct {
	Retention     time.Duration // processed outbox rows, conflicts, resolved failures
	StagedPageAge time.Duration // staged pages of the current generation
	Batch         int           // most rows one DELETE removes
}

func (o PruneOptions) withDefaults() PruneOptions {
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.StagedPageAge <= 0 {
		o.StagedPageAge = DefaultStagedPageAge
	}
	if o.Batch <= 0 {
		o.Batch = DefaultPruneBatch
	}
	return o
}

// pruneRule is one kind of bookkeeping row that expires. To prune a new bookkeeping table, add a rule here (and an
// index that serves its query, in the table's migration) and a case to prune_test.go.
type pruneRule struct {
	table string
	// del deletes at most $2 expired rows; $1 is the age (in seconds) past which a row is expired. It must be
	// idempotent and must never touch rows still needed (pending outbox rows, open failures, the pages of a pass
	// in progress).
	del string
	age func(PruneOptions) time.Duration
}

func retention(o PruneOptions) time.Duration     { return o.Retention }
func stagedPageAge(o PruneOptions) time.Duration { return o.StagedPageAge }

var pruneRules = []pruneRule{
	// Pushed (or dropped) local changes; a pending one (processed_at NULL) stays however old.
	{"outbox", `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
		WHERE processed_at < now() - make_interval(secs => $1) ORDER BY processed_at LIMIT $2)`, retention},
	// Conflict decisions, listed by `starter conflicts`.
	{"conflicts", `DELETE FROM conflicts WHERE id IN (SELECT id FROM conflicts
		WHERE decided_at < now() - make_interval(secs => $1) ORDER BY decided_at LIMIT $2)`, retention},
	// Failures resolved by a later sync or a retry; open ones (resolved_at NULL) stay, `starter failures` lists them.
	{"sync_failures", `DELETE FROM sync_failures WHERE id IN (SELECT id FROM sync_failures
		WHERE resolved_at < now() - make_interval(secs => $1) ORDER BY resolved_at LIMIT $2)`, retention},
	// Staged pages of an older generation (a reset discards them anyway: ApplyPage refuses them) or older than
	// the staged-page age, whatever their generation.
	{"sync_pages", `DELETE FROM sync_pages WHERE (integration_id, kind, generation, from_pos) IN (
		SELECT p.integration_id, p.kind, p.generation, p.from_pos FROM sync_pages p
		LEFT JOIN sync_state s ON s.integration_id = p.integration_id
		WHERE p.generation < s.generation OR p.created_at < now() - make_interval(secs => $1) LIMIT $2)`, stagedPageAge},
}

// PruneTable is what one run removed from one table.
type PruneTable struct {
	Rows    int64 // rows deleted
	Batches int   // DELETE statements that removed rows
}

// PruneResult is what one run of Prune did.
type PruneResult struct {
	// Skipped is true when another process held the prune lock; nothing was deleted.
	Skipped bool
	Tables  map[string]PruneTable
}

// Prune deletes expired bookkeeping rows (see pruneRules), in batches of at most opts.Batch rows, each batch its
// own short transaction. It is idempotent and safe to run from every worker: a PostgreSQL advisory lock lets one
// run at a time, and a run that finds the lock taken returns Skipped.
func (s *Store) Prune(ctx context.Context, opts PruneOptions) (PruneResult, error) {
	opts = opts.withDefaults()
	res := PruneResult{Tables: map[string]PruneTable{}}
	// A session lock lives on one connection: keep that connection for the whole run. If it breaks, PostgreSQL
	// releases the lock with it.
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return res, fmt.Errorf("prune: connect: %w", err)
	}
	defer conn.Close()
	var locked bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, pruneLockKey).Scan(&locked); err != nil {
		return res, fmt.Errorf("prune: take the prune lock: %w", err)
	}
	if !locked {
		res.Skipped = true
		return res, nil
	}
	defer func() {
		// On a cancelled ctx the unlock still has to happen, or the pooled connection would keep the lock.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, pruneLockKey); err != nil {
			// The lock may still be held by this connection: take the connection out of the pool, so closing
			// it ends the session and releases the lock.
			_ = conn.Raw(func(interface{}) error { return driver.ErrBadConn })
		}
	}()

	for _, r := range pruneRules {
		var t PruneTable
		for {
			out, err := conn.ExecContext(ctx, r.del, r.age(opts).Seconds(), opts.Batch)
			if err != nil {
				res.Tables[r.table] = t
				return res, fmt.Errorf("prune %s: %w", r.table, err)
			}
			n, err := out.RowsAffected()
			if err != nil {
				return res, fmt.Errorf("prune %s: %w", r.table, err)
			}
			if n > 0 {
				t.Rows += n
				t.Batches++
			}
			if n < int64(opts.Batch) {
				break
			}
		}
		res.Tables[r.table] = t
	}
	return res, nil
}
