package store

import (
	"encoding/json"
	"fmt"
)

// MirroredTicket is a ticket as the mirror holds it: what `integration remap` derives cases from again, without
// asking Zendesk. Raw is the ticket's JSON as Zendesk last sent it (cleaned), custom_fields and tags included.
type MirroredTicket struct {
	ZendeskID int64           `db:"zendesk_id"`
	Raw       json.RawMessage `db:"raw"`
}

// MirroredTickets reads up to limit mirrored tickets that have a case, after a ticket id, in id order (the cursor
// of a remap).
func (p *PageTx) MirroredTickets(after int64, limit int) ([]MirroredTicket, error) {
	var out []MirroredTicket
	if err := p.tx.SelectContext(p.ctx, &out, `SELECT zendesk_id, raw FROM zd_tickets WHERE integration_id=$1
		AND zendesk_id > $2 AND case_id IS NOT NULL ORDER BY zendesk_id LIMIT $3`, p.IntegrationID, after, limit); err != nil {
		return nil, fmt.Errorf("read mirrored tickets after %d: %w", after, err)
	}
	return out, nil
}

// SetSynced writes the merge bases of tickets (Zendesk id → the case values derived from it), skipping those that
// hold it already, in one statement.
func (p *PageTx) SetSynced(synced map[int64][]byte) error {
	if len(synced) == 0 {
		return nil
	}
	b, err := objectByID(synced)
	if err != nil {
		return fmt.Errorf("encode merge bases: %w", err)
	}
	if _, err := p.tx.ExecContext(p.ctx, `UPDATE zd_tickets t SET synced = e.value, updated_at = now()
		FROM jsonb_each($2::jsonb) e WHERE t.integration_id = $1 AND t.zendesk_id = e.key::bigint
		AND t.synced IS DISTINCT FROM e.value`, p.IntegrationID, b); err != nil {
		return fmt.Errorf("write merge bases: %w", err)
	}
	return nil
}
