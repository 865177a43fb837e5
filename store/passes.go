package store

import (
	"context"
	"fmt"
	"time"
)

// StartPass opens the record of a sync pass (sync_passes, migration 00010) when the integration has none open.
// The first step of every pass calls it, also a pass resumed by the next workflow run and a retried step, so an
// open pass of the same generation is the one going on. An open pass of an older generation was cut short by a
// reset (which ends it without EndSync or RecordError): it is closed as such and a new one opens. It returns the
// sync state it read under the row lock: where the pass starts. One call (zs_start_pass, migration 00016).
func (s *Store) StartPass(ctx context.Context, integrationID int64) (*SyncState, error) {
	var st SyncState
	if err := s.DB.GetContext(ctx, &st, `SELECT `+stateCols+` FROM zs_start_pass($1)`, integrationID); err != nil {
		return nil, fmt.Errorf("start a sync pass: %w",
			notFound(err, fmt.Sprintf("sync state of integration %d", integrationID)))
	}
	return &st, nil
}

// EndPass closes the integration's open pass, if any, with what it did (the progress counters' growth since it
// started) and why it failed ("" when it ended well).
func (s *Store) EndPass(ctx context.Context, integrationID int64, failure string) error {
	if _, err := s.DB.ExecContext(ctx, `SELECT zs_close_pass($1, $2, 0)`, integrationID, failure); err != nil {
		return fmt.Errorf("record the end of the sync pass of integration %d: %w", integrationID, err)
	}
	return nil
}

// EndSyncedPass records that a pass ended well, in one call (zs_end_pass, migration 00016): the last sync in the
// sync state (and, with firstSyncDone, that the first sync is done), the pass's record closed with what it did and
// its last requests (those not counted in it yet), and the outbox resumed if rejected credentials had parked it.
func (s *Store) EndSyncedPass(ctx context.Context, integrationID int64, firstSyncDone bool, requests int) error {
	if _, err := s.DB.ExecContext(ctx, `SELECT zs_end_pass($1, $2, $3)`, integrationID, firstSyncDone,
		requests); err != nil {
		return fmt.Errorf("record the end of the sync pass of integration %d: %w", integrationID, err)
	}
	return nil
}

// FailPass closes the open pass as failed; a message of "" (clearing the last error) closes nothing.
func (s *Store) FailPass(ctx context.Context, integrationID int64, message string) error {
	if message == "" {
		return nil
	}
	return s.EndPass(ctx, integrationID, message)
}

// CountRequests adds n Zendesk requests to the integration's open pass (none open: a push between passes, not
// counted).
func (s *Store) CountRequests(ctx context.Context, integrationID int64, n int) error {
	if _, err := s.DB.ExecContext(ctx, `UPDATE sync_passes SET requests = requests + $2
		WHERE integration_id = $1 AND ended_at IS NULL`, integrationID, n); err != nil {
		return fmt.Errorf("count Zendesk requests of integration %d: %w", integrationID, err)
	}
	return nil
}

// Pass is one sync pass as `starter integration history` shows it. EndedAt is nil while it runs; for a running
// pass the counts are what it has done so far.
type Pass struct {
	ID           int64      `db:"id" json:"id"`
	FirstSync    bool       `db:"first_sync" json:"first_sync"`
	StartedAt    time.Time  `db:"started_at" json:"started_at"`
	EndedAt      *time.Time `db:"ended_at" json:"ended_at"`
	Seconds      float64    `db:"seconds" json:"seconds"`
	Requests     int64      `db:"requests" json:"requests"`
	Tickets      int64      `db:"tickets" json:"tickets"`
	CasesCreated int64      `db:"cases_created" json:"cases_created"`
	CasesUpdated int64      `db:"cases_updated" json:"cases_updated"`
	Comments     int64      `db:"comments" json:"comments"`
	Failures     int64      `db:"failures" json:"failures"`
	Error        *string    `db:"error" json:"error"`
}

// Passes lists the integration's passes that started or ended after since, oldest first.
func (s *Store) Passes(ctx context.Context, integrationID int64, since time.Time) ([]Pass, error) {
	// A running pass's counts are what zs_pass_growth (migration 00017) will store when it ends.
	live := func(col, counter string) string {
		return fmt.Sprintf(`CASE WHEN p.ended_at IS NOT NULL THEN p.%[1]s ELSE zs_pass_growth(p, s, '%[2]s') END AS %[1]s`,
			col, counter)
	}
	out := []Pass{}
	err := s.DB.SelectContext(ctx, &out, `SELECT p.id, p.first_sync, p.started_at, p.ended_at,
		EXTRACT(EPOCH FROM COALESCE(p.ended_at, now()) - p.started_at)::float8 AS seconds, p.requests,
		`+live("tickets", "tickets_synced")+`, `+live("cases_created", "cases_created")+`,
		`+live("cases_updated", "cases_updated")+`, `+live("comments", "comments_synced")+`,
		`+live("failures", "failures")+`, p.error
		FROM sync_passes p JOIN sync_state s ON s.integration_id = p.integration_id
		WHERE p.integration_id = $1 AND (p.started_at >= $2 OR p.ended_at >= $2 OR p.ended_at IS NULL)
		ORDER BY p.started_at, p.id`, integrationID, since)
	if err != nil {
		return nil, fmt.Errorf("passes of integration %d: %w", integrationID, err)
	}
	return out, nil
}

// The history's bookkeeping expires like the rest (see prune.go): case changes and ended passes are kept for
// RETENTION; a running pass stays however old.
func init() {
	pruneRules = append(pruneRules,
		pruneRule{"case_history", `DELETE FROM case_history WHERE id IN (SELECT id FROM case_history
			WHERE at < now() - make_interval(secs => $1) ORDER BY at LIMIT $2)`, retention},
		pruneRule{"sync_passes", `DELETE FROM sync_passes WHERE id IN (SELECT id FROM sync_passes
			WHERE ended_at < now() - make_interval(secs => $1) ORDER BY ended_at LIMIT $2)`, retention})
}
