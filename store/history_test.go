package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The triggers of migration 00010 record every change of a case and of its ticket link with the source its
// transaction was marked with; an unmarked transaction is a local edit by the database user.
func TestCaseHistorySources(t *testing.T) {
	ctx := context.Background()
	f := newPruneFixture(t)
	s, caseID := f.s, f.caseID
	st := func(v string) *string { return &v }

	// A local edit (plain SQL, no marking) and a no-op update, which records nothing.
	require.NoError(t, s.UpdateCase(ctx, caseID, CaseEdit{Status: st("in_progress"), Subject: st("c2")}))
	require.NoError(t, s.UpdateCase(ctx, caseID, CaseEdit{Status: st("in_progress")}))
	// An import links the case to its ticket and changes its priority.
	require.NoError(t, s.ApplyDirect(ctx, f.id, func(p *PageTx) error {
		cid := caseID
		if err := p.UpsertTickets([]TicketRow{{ZendeskID: 77, Status: "open", Raw: []byte(`{}`), CaseID: &cid}}); err != nil {
			return err
		}
		_, err := p.Tx().ExecContext(ctx, `UPDATE cases SET priority = 'high' WHERE id = $1`, caseID)
		return err
	}))
	// A push: what it sent, a field Zendesk won, and a conflict decision.
	require.NoError(t, s.ApplyPushed(ctx, Pushed{IntegrationID: f.id, CaseID: caseID, TicketID: 77,
		Sent: []SentUpdate{{Request: "PUT /api/v2/tickets/77.json", Answer: "200 OK",
			Fields: map[string]FieldChange{"ticket.status": {Old: "open", New: "pending"}}}},
		CaseFix:   []FieldFix{{Field: "subject", Old: "c2", New: "remote subject"}},
		Conflicts: []Conflict{{TicketID: 77, Field: "subject", LocalValue: st("c2"), RemoteValue: st("remote subject"), Winner: "remote"}}}))

	h, err := s.CaseHistory(ctx, caseID)
	require.NoError(t, err)
	require.Len(t, h, 5, "%+v", h)
	assert.Equal(t, SourceLocal, h[0].Source)
	assert.Equal(t, "c", h[0].Changes["subject"].New)
	assert.Equal(t, SourceLocal, h[1].Source)
	assert.Equal(t, "open", h[1].Changes["status"].Old)
	assert.Equal(t, "in_progress", h[1].Changes["status"].New)
	assert.Contains(t, *h[1].Ref, "postgres")
	assert.Equal(t, SourceImport, h[2].Source)
	assert.Equal(t, "Zendesk ticket 77", *h[2].Ref)
	assert.EqualValues(t, 77, h[2].Changes["ticket"].New)
	assert.Equal(t, "high", h[2].Changes["priority"].New)
	assert.Equal(t, SourcePush, h[3].Source)
	assert.Equal(t, "PUT /api/v2/tickets/77.json → 200 OK", *h[3].Ref)
	assert.Equal(t, "pending", h[3].Changes["ticket.status"].New)
	assert.Equal(t, "remote subject", h[3].Changes["subject"].New)
	assert.Equal(t, SourceConflict, h[4].Source)
	assert.Equal(t, "remote", h[4].Changes["subject"].Winner)
	assert.Equal(t, "c2", h[4].Changes["subject"].Old)
	assert.Equal(t, "remote subject", h[4].Changes["subject"].New)
	assert.Contains(t, *h[4].Ref, "remote wins")

	// Append-only: a row cannot be rewritten.
	_, err = s.DB.ExecContext(ctx, `UPDATE case_history SET source = 'local'`)
	assert.ErrorContains(t, err, "append-only")

	_, err = s.CaseHistory(ctx, 999999)
	assert.ErrorIs(t, err, ErrNotFound)
}

// Case history and ended passes expire after the retention; a running pass stays however old.
func TestPruneHistory(t *testing.T) {
	ctx := context.Background()
	f := newPruneFixture(t)
	f.exec(t, `INSERT INTO case_history (case_id, source, changes, at) VALUES ($1, 'local', '{}', now() - interval '40 days'),
		($1, 'local', '{"fresh": {}}', now() - interval '1 day')`, f.caseID)
	f.exec(t, `INSERT INTO sync_passes (integration_id, generation, first_sync, start_counters, started_at, ended_at)
		VALUES ($1, 2, false, '{}', now() - interval '41 days', now() - interval '40 days'),
		($1, 2, false, '{}', now() - interval '2 days', now() - interval '1 day'),
		($1, 2, false, '{}', now() - interval '50 days', NULL)`, f.id)
	res, err := f.s.Prune(ctx, PruneOptions{})
	require.NoError(t, err)
	assert.EqualValues(t, 1, res.Tables["sync_passes"].Rows)
	var left []string
	require.NoError(t, f.s.DB.SelectContext(ctx, &left, `SELECT changes::text FROM case_history WHERE changes <> '{}'
		AND NOT changes ? 'subject' ORDER BY id`))
	assert.Equal(t, []string{`{"fresh": {}}`}, left)
	var passes int
	require.NoError(t, f.s.DB.GetContext(ctx, &passes, `SELECT count(*) FROM sync_passes`))
	assert.Equal(t, 2, passes)
}
