package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Sources of a case's changes, as `starter case history` shows them (case_history.source, migration 00010).
const (
	SourceImport   = "import"   // the sync applied a Zendesk ticket
	SourcePush     = "push"     // two-way sync sent a local change to Zendesk, or took Zendesk's value back
	SourceConflict = "conflict" // a field changed on both sides, decided by the integration's priority
	SourceLocal    = "local"    // anyone else: the CRM, `starter`, plain SQL (the default of an unmarked transaction)
	SourcePublish  = "publish"  // `starter case publish` created the case's ticket
)

// markSource marks the running transaction as the sync's own (the change-capture triggers skip its writes, as in
// InSyncTx) and tags what it writes to cases and ticket links, for case_history: the triggers of migration 00010
// read these transaction-local settings. A transaction that does not call it is a local edit. One round trip:
// every page applied starts with it.
func markSource(ctx context.Context, tx *sqlxTx, source, ref string) error {
	if _, err := tx.ExecContext(ctx, `SELECT set_config('zendesk_sync.origin', 'sync', true),
		set_config('zendesk_sync.source', $1, true), set_config('zendesk_sync.ref', $2, true)`, source, ref); err != nil {
		return fmt.Errorf("mark the transaction's writes as %s: %w", source, err)
	}
	return nil
}

// inSourceTx is InSyncTx for a write of the given source: the sync's own transaction (not captured for two-way
// sync), its case changes recorded in case_history with source and ref ("" lets the trigger name the ticket).
func (s *Store) inSourceTx(ctx context.Context, source, ref string, fn func(tx *sqlxTx) error) error {
	return s.InTx(ctx, func(tx *sqlxTx) error {
		if err := markSource(ctx, tx, source, ref); err != nil {
			return err
		}
		return fn(tx)
	})
}

// FieldChange is one field's old and new value in a case's history. A conflict also says both sides' values, the
// value both started from and the winner.
type FieldChange struct {
	Old    any     `json:"old"`
	New    any     `json:"new"`
	Local  *string `json:"local,omitempty"`
	Remote *string `json:"remote,omitempty"`
	Base   *string `json:"base,omitempty"`
	Winner string  `json:"winner,omitempty"`
}

// SentUpdate is one update a push sent to Zendesk: the ticket fields with Zendesk's value before and the value
// sent, and Zendesk's answer. It is kept in the case's history with the push.
type SentUpdate struct {
	Request string                 // e.g. "PUT /api/v2/tickets/42.json"
	Answer  string                 // e.g. "200 OK, ticket updated_at 2026-11-29T21:00:00Z"
	Fields  map[string]FieldChange // "ticket.status": {old: Zendesk's value, new: the value sent}
}

// recordSent writes the updates a push sent (before the case changes the push makes, so a push's history entry is
// named after its request).
func recordSent(ctx context.Context, tx *sqlxTx, p Pushed) error {
	for _, u := range p.Sent {
		changes, err := json.Marshal(u.Fields)
		if err != nil {
			return fmt.Errorf("encode the history of the push to ticket %d: %w", p.TicketID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_history (case_id, integration_id, source, ref, changes)
			VALUES ($1, $2, $3, $4, $5)`, p.CaseID, p.IntegrationID, SourcePush, u.Request+" → "+u.Answer,
			changes); err != nil {
			return fmt.Errorf("record the push of case %d in its history: %w", p.CaseID, err)
		}
	}
	return nil
}

// HistoryEntry is one change of a case: what one transaction of one source changed (`starter case history -o json`).
type HistoryEntry struct {
	At      time.Time              `json:"at"`
	Source  string                 `json:"source"`
	Ref     *string                `json:"ref"`
	Changes map[string]FieldChange `json:"changes"`
}

type historyRow struct {
	ID      int64           `db:"id"`
	Tx      int64           `db:"tx"`
	At      time.Time       `db:"at"`
	Source  string          `db:"source"`
	Ref     *string         `db:"ref"`
	Changes json.RawMessage `db:"changes"`
}

// CaseHistory returns every recorded change of a case, oldest first. The rows one transaction wrote with one
// source are one entry (a new case and its ticket link, a push and what Zendesk won back); each conflict decision
// is its own entry. A field changed twice in one entry shows its first old and its last new value.
func (s *Store) CaseHistory(ctx context.Context, caseID int64) ([]HistoryEntry, error) {
	var rows []historyRow
	if err := s.DB.SelectContext(ctx, &rows, `SELECT id, tx, at, source, ref, changes FROM case_history
		WHERE case_id = $1 ORDER BY id`, caseID); err != nil {
		return nil, fmt.Errorf("history of case %d: %w", caseID, err)
	}
	if len(rows) == 0 {
		var exists bool
		if err := s.DB.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM cases WHERE id=$1)`, caseID); err != nil {
			return nil, fmt.Errorf("history of case %d: %w", caseID, err)
		}
		if !exists {
			return nil, fmt.Errorf("case %d: %w", caseID, ErrNotFound)
		}
	}
	return mergeHistory(rows)
}

func mergeHistory(rows []historyRow) ([]HistoryEntry, error) {
	type key struct {
		tx          int64
		source, ref string
	}
	out := []HistoryEntry{}
	at := map[key]int{}
	for _, r := range rows {
		k := key{tx: r.Tx, source: r.Source}
		if r.Source == SourceConflict && r.Ref != nil {
			k.ref = *r.Ref
		}
		var ch map[string]FieldChange
		if err := json.Unmarshal(r.Changes, &ch); err != nil {
			return nil, fmt.Errorf("history row %d: %w", r.ID, err)
		}
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, HistoryEntry{At: r.At, Source: r.Source, Ref: r.Ref, Changes: ch})
			continue
		}
		e := &out[i]
		if e.Ref == nil {
			e.Ref = r.Ref
		}
		for f, c := range ch {
			if prev, seen := e.Changes[f]; seen {
				c.Old = prev.Old
			}
			e.Changes[f] = c
		}
	}
	return out, nil
}

// publishRef names the ticket a publish created.
func publishRef(t TicketRow) string {
	return fmt.Sprintf("POST /api/v2/tickets.json → Zendesk ticket %d created", t.ZendeskID)
}
