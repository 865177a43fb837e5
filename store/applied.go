package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// appliedPagesKept is how many applied-page records each stream keeps. A retry only ever concerns the page just
// applied (the workflow applies a stream's pages one after another), so a few are plenty.
const appliedPagesKept = 4

// recordApplied keeps what an applied page added to the counters, and prunes the stream's older records, in the
// page's own transaction.
func recordApplied(ctx context.Context, tx *sqlxTx, p *Page, c Counters) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode counters of %s page: %w", p.Kind, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO applied_pages (integration_id, kind, generation, from_pos, counters)
		VALUES ($1,$2,$3,$4,$5) ON CONFLICT (integration_id, kind, generation, from_pos)
		DO UPDATE SET counters=EXCLUDED.counters, applied_at=now()`,
		p.IntegrationID, p.Kind, p.Generation, p.FromPos, doc); err != nil {
		return fmt.Errorf("record applied %s page: %w", p.Kind, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM applied_pages WHERE integration_id=$1 AND kind=$2 AND seq < (
			SELECT min(seq) FROM (SELECT seq FROM applied_pages WHERE integration_id=$1 AND kind=$2
				ORDER BY seq DESC LIMIT $3) newest)`, p.IntegrationID, p.Kind, appliedPagesKept); err != nil {
		return fmt.Errorf("prune applied %s pages: %w", p.Kind, err)
	}
	return nil
}

// appliedCounters answers a retried apply of a page applied already: AlreadyApplied, with the page's counters
// when its record is still kept (zero counters otherwise, e.g. a page applied by a worker before this record
// existed).
func appliedCounters(ctx context.Context, tx *sqlxTx, integrationID int64, kind string, gen int, from string) (Counters, error) {
	var doc []byte
	err := tx.GetContext(ctx, &doc, `SELECT counters FROM applied_pages WHERE integration_id=$1 AND kind=$2
		AND generation=$3 AND from_pos=$4`, integrationID, kind, gen, from)
	var c Counters
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return c, fmt.Errorf("read applied %s page from %q: %w", kind, from, err)
	default:
		if err := json.Unmarshal(doc, &c); err != nil {
			return c, fmt.Errorf("decode counters of applied %s page from %q: %w", kind, from, err)
		}
	}
	c.AlreadyApplied = true
	return c, nil
}
