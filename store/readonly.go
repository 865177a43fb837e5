package store

import (
	"context"
	"database/sql"
	"fmt"
)

// ReadOnlyTx runs fn with a PageTx in a READ ONLY transaction, for the dry-run and the first-sync preview: PostgreSQL
// itself refuses any write made in it, and Tickets takes no row locks in it, so a preview never holds up a pass.
func (s *Store) ReadOnlyTx(ctx context.Context, integrationID int64, fn func(p *PageTx) error) error {
	tx, err := s.DB.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin a read-only transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	return fn(&PageTx{tx: tx, ctx: ctx, IntegrationID: integrationID, readOnly: true})
}

// ContactEmails gives the emails of the given contacts, by id.
func (p *PageTx) ContactEmails(ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := p.tx.QueryxContext(p.ctx, `SELECT id, email FROM contacts WHERE id = ANY($1)`, int64Array(ids))
	if err != nil {
		return nil, fmt.Errorf("read contact emails: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var email sql.NullString
		if err := rows.Scan(&id, &email); err != nil {
			return nil, fmt.Errorf("read contact emails: %w", err)
		}
		out[id] = email.String
	}
	return out, rows.Err()
}

// KnownComments says which of the given Zendesk comment ids are mirrored already.
func (p *PageTx) KnownComments(ids []int64) (map[int64]bool, error) {
	out := make(map[int64]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var known []int64
	if err := p.tx.SelectContext(p.ctx, &known, `SELECT c.zendesk_id FROM `+byKeys("zd_comments", "c"),
		p.IntegrationID, int64Array(ids)); err != nil {
		return nil, fmt.Errorf("known comments: %w", err)
	}
	for _, id := range known {
		out[id] = true
	}
	return out, nil
}
