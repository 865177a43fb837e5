package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// SyncState is the durable position and counters of one integration's sync. PostgreSQL, not the workflow, is the
// source of truth for the cursor: it moves in the same transaction as the rows of its page.
type SyncState struct {
	IntegrationID   int64  `db:"integration_id"`
	Phase           string `db:"phase"`
	TicketCursor    string `db:"ticket_cursor"`
	EventsStartTime int64  `db:"events_start_time"`
	FirstSyncDone   bool   `db:"first_sync_done"`
	Generation      int    `db:"generation"`
	// Counters are the sync's totals since activation or the last reset, in the workflow's Counters type (the
	// columns have the same names; pushed has no column and stays 0).
	contract.Counters
	LastSyncAt sql.NullTime   `db:"last_sync_at"`
	LastError  sql.NullString `db:"last_error"`
	UpdatedAt  time.Time      `db:"updated_at"`
}

const stateCols = `integration_id, phase, ticket_cursor, events_start_time, first_sync_done, generation, pages,
	tickets_synced, cases_created, cases_updated, comments_synced, failures, last_sync_at, last_error, updated_at`

// SyncState reads the state without locking.
func (s *Store) SyncState(ctx context.Context, integrationID int64) (*SyncState, error) {
	var st SyncState
	if err := s.DB.GetContext(ctx, &st, `SELECT `+stateCols+` FROM sync_state WHERE integration_id=$1`, integrationID); err != nil {
		return nil, notFound(err, fmt.Sprintf("sync state of integration %d", integrationID))
	}
	return &st, nil
}

// lockState reads the state and holds its row lock until the transaction ends, so two attempts at the same page
// (a retry racing a slow first attempt) apply it once.
func lockState(ctx context.Context, tx *sqlxTx, integrationID int64) (*SyncState, error) {
	var st SyncState
	if err := tx.GetContext(ctx, &st, `SELECT `+stateCols+` FROM sync_state WHERE integration_id=$1 FOR UPDATE`, integrationID); err != nil {
		return nil, notFound(err, fmt.Sprintf("sync state of integration %d", integrationID))
	}
	return &st, nil
}

// ResetSync starts a full first sync again: the cursor goes back to the start (or the integration's sync-from
// date), counters restart, and the generation moves so every ticket is derived again.
func (s *Store) ResetSync(ctx context.Context, integrationID int64) (int, error) {
	var gen int
	err := s.InTx(ctx, func(tx *sqlxTx) error {
		err := tx.QueryRowxContext(ctx, `UPDATE sync_state st SET phase='first_sync', ticket_cursor='',
			events_start_time = COALESCE(EXTRACT(EPOCH FROM i.sync_from)::bigint, 0), first_sync_done=false,
			generation = st.generation + 1, pages=0, tickets_synced=0, cases_created=0, cases_updated=0,
			comments_synced=0, failures=0, last_sync_at=NULL, last_error=NULL, ticket_generated_max=0, updated_at=now()
			FROM integrations i WHERE i.id = st.integration_id AND st.integration_id=$1 RETURNING st.generation`,
			integrationID).Scan(&gen)
		if err != nil {
			return notFound(err, fmt.Sprintf("sync state of integration %d", integrationID))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sync_pages WHERE integration_id=$1`, integrationID); err != nil {
			return err
		}
		// Pages of older generations are stale, never "already applied": their records are of no more use.
		_, err = tx.ExecContext(ctx, `DELETE FROM applied_pages WHERE integration_id=$1`, integrationID)
		return err
	})
	return gen, err
}

// SetLastError records why the last sync step failed ("" clears it).
func (s *Store) SetLastError(ctx context.Context, integrationID int64, msg string) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE sync_state SET last_error=NULLIF($2, ''), updated_at=now()
		WHERE integration_id=$1`, integrationID, msg)
	return err
}

// Page is a fetched Zendesk page waiting to be applied.
type Page struct {
	IntegrationID int64  `db:"integration_id"`
	Kind          string `db:"kind"`
	Generation    int    `db:"generation"`
	FromPos       string `db:"from_pos"`
	NextPos       string `db:"next_pos"`
	EndOfStream   bool   `db:"end_of_stream"`
	Body          []byte `db:"body"`
}

// Page kinds (defined in package contract: the workflow names its streams with them).
const (
	KindTickets  = contract.KindTickets
	KindComments = contract.KindComments
)

// StagePage keeps a fetched page; fetching the same page again replaces it, so a retried fetch is harmless.
func (s *Store) StagePage(ctx context.Context, p *Page) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO sync_pages (integration_id, kind, generation, from_pos, next_pos,
		end_of_stream, body) VALUES ($1,$2,$3,$4,$5,$6,$7)
		ON CONFLICT (integration_id, kind, generation, from_pos) DO UPDATE SET next_pos=EXCLUDED.next_pos,
		end_of_stream=EXCLUDED.end_of_stream, body=EXCLUDED.body, created_at=now()`,
		p.IntegrationID, p.Kind, p.Generation, p.FromPos, p.NextPos, p.EndOfStream, p.Body)
	if err != nil {
		return fmt.Errorf("stage %s page: %w", p.Kind, err)
	}
	return nil
}

// StagedPage loads a staged page, or ErrNotFound when it was applied (and deleted) already.
func (s *Store) StagedPage(ctx context.Context, tx *sqlxTx, integrationID int64, kind string, gen int, from string) (*Page, error) {
	var p Page
	err := tx.GetContext(ctx, &p, `SELECT integration_id, kind, generation, from_pos, next_pos, end_of_stream, body
		FROM sync_pages WHERE integration_id=$1 AND kind=$2 AND generation=$3 AND from_pos=$4`, integrationID, kind, gen, from)
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("%s page from %q", kind, from))
	}
	return &p, nil
}

func deletePage(ctx context.Context, tx *sqlxTx, p *Page) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM sync_pages WHERE integration_id=$1 AND kind=$2 AND generation=$3 AND from_pos=$4`,
		p.IntegrationID, p.Kind, p.Generation, p.FromPos)
	return err
}

// Failure is a record the sync could not handle, kept with its reason and payload so it can be fixed and retried.
type Failure struct {
	ID            int64        `db:"id" json:"id"`
	IntegrationID int64        `db:"integration_id" json:"-"`
	Kind          string       `db:"kind" json:"kind"`
	ZendeskID     *int64       `db:"zendesk_id" json:"zendesk_id"`
	Reason        string       `db:"reason" json:"reason"`
	Payload       string       `db:"payload" json:"payload"`
	CreatedAt     time.Time    `db:"created_at" json:"created_at"`
	ResolvedAt    sql.NullTime `db:"resolved_at" json:"-"`
}

// Failures lists the unresolved failures of an integration, newest first, then its parked local changes (kind
// "parked", one entry per case, with the reason they wait; id is the case's oldest parked outbox row).
func (s *Store) Failures(ctx context.Context, integrationID int64) ([]Failure, error) {
	var out []Failure
	err := s.DB.SelectContext(ctx, &out, `SELECT id, integration_id, kind, zendesk_id, reason, payload, created_at,
			resolved_at FROM (
		SELECT 0 AS src, id, integration_id, kind, zendesk_id, reason, payload, created_at, resolved_at
			FROM sync_failures WHERE integration_id=$1 AND resolved_at IS NULL
		UNION ALL
		SELECT 1, min(o.id), $1, 'parked', min(t.zendesk_id),
			format('case %s: %s local change(s) not pushed yet: %s', o.case_id, count(*), min(o.park_reason)),
			'', min(o.parked_at), NULL::timestamptz
			FROM outbox o LEFT JOIN zd_tickets t ON t.case_id = o.case_id
			WHERE o.integration_id=$1 AND o.processed_at IS NULL AND o.parked_at IS NOT NULL
			GROUP BY o.case_id) f ORDER BY src, id DESC`, integrationID)
	return out, err
}

// recordFailures upserts open failures in one statement: the same record failing again updates its reason instead
// of piling up. Records without a Zendesk id (a page, say) are always new rows.
func recordFailures(ctx context.Context, tx *sqlxTx, integrationID int64, fs []Failure) error {
	if len(fs) == 0 {
		return nil
	}
	type row struct {
		Kind      string `json:"kind"`
		ZendeskID *int64 `json:"zendesk_id"`
		Reason    string `json:"reason"`
		Payload   string `json:"payload"`
	}
	// One statement cannot update the same row twice: of a record failing twice in one batch, the last reason wins,
	// as it did when they were written one by one.
	rows := make([]row, 0, len(fs))
	last := map[[2]any]int{}
	for _, f := range fs {
		r := row{Kind: f.Kind, ZendeskID: f.ZendeskID, Reason: f.Reason, Payload: f.Payload}
		if f.ZendeskID != nil {
			k := [2]any{f.Kind, *f.ZendeskID}
			if i, ok := last[k]; ok {
				rows[i] = r
				continue
			}
			last[k] = len(rows)
		}
		rows = append(rows, r)
	}
	doc, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("encode failures: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sync_failures (integration_id, kind, zendesk_id, reason, payload)
		SELECT $1, x.kind, x.zendesk_id, x.reason, x.payload
		FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (kind text, zendesk_id bigint, reason text, payload text))
			WITH ORDINALITY AS x(kind, zendesk_id, reason, payload, n)
		ORDER BY x.n
		ON CONFLICT (integration_id, kind, zendesk_id) WHERE resolved_at IS NULL
		DO UPDATE SET reason=EXCLUDED.reason, payload=EXCLUDED.payload, created_at=now()`, integrationID, doc); err != nil {
		return fmt.Errorf("record %d failures: %w", len(rows), err)
	}
	return nil
}

// resolveFailures closes the open failures of records that have now synced.
func resolveFailures(ctx context.Context, tx *sqlxTx, integrationID int64, kind string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE sync_failures SET resolved_at=now() WHERE integration_id=$1 AND kind=$2
		AND resolved_at IS NULL AND zendesk_id = ANY($3)`, integrationID, kind, int64Array(ids))
	return err
}

// RecordFailure keeps one failure outside a page transaction (e.g. a page that could not be read at all).
func (s *Store) RecordFailure(ctx context.Context, integrationID int64, f Failure) error {
	return s.InTx(ctx, func(tx *sqlxTx) error {
		if err := recordFailures(ctx, tx, integrationID, []Failure{f}); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE sync_state SET failures = failures + 1 WHERE integration_id=$1`, integrationID)
		return err
	})
}

// CommentsMirrored says whether every one of the given Zendesk comment ids is mirrored already (true for none).
func (s *Store) CommentsMirrored(ctx context.Context, integrationID int64, ids []int64) (bool, error) {
	distinct := make(map[int64]bool, len(ids))
	for _, id := range ids {
		distinct[id] = true
	}
	if len(distinct) == 0 {
		return true, nil
	}
	var n int
	if err := s.DB.GetContext(ctx, &n, `SELECT count(*) FROM `+byKeys("zd_comments", "c"), integrationID,
		int64Array(ids)); err != nil {
		return false, fmt.Errorf("find mirrored comments: %w", err)
	}
	return n == len(distinct), nil
}

// KnownUsers returns which of the given Zendesk user ids are mirrored already.
func (s *Store) KnownUsers(ctx context.Context, integrationID int64, ids []int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	var known []int64
	if err := s.DB.SelectContext(ctx, &known, `SELECT u.zendesk_id FROM `+byKeys("zd_users", "u"),
		integrationID, int64Array(ids)); err != nil {
		return nil, fmt.Errorf("known users: %w", err)
	}
	for _, id := range known {
		out[id] = true
	}
	return out, nil
}
