package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// entriesOf returns a case's history entries of one source.
func entriesOf(h []store.HistoryEntry, source string) []store.HistoryEntry {
	var out []store.HistoryEntry
	for _, e := range h {
		if e.Source == source {
			out = append(out, e)
		}
	}
	return out
}

func refOf(e store.HistoryEntry) string {
	if e.Ref == nil {
		return ""
	}
	return *e.Ref
}

// A case's history tells every change with its source: the import that created it (and linked its ticket), a
// local edit, the push that sent it with Zendesk's answer, the conflict it met and the rule that decided, and a
// publish of a CRM case.
func TestCaseHistoryTellsEveryChangeWithItsSource(t *testing.T) {
	e := newEnv(t)
	s, _ := twoWay(t, e, "hist", "local", 21)
	ticket := writable(t, s, 1)[0]
	caseID := e.caseIDOf(ticket)

	h, err := e.store.CaseHistory(e.ctx, caseID)
	require.NoError(t, err)
	require.Len(t, h, 1, "%+v", h)
	imp := h[0]
	assert.Equal(t, store.SourceImport, imp.Source)
	assert.Equal(t, "Zendesk ticket "+jsonID(ticket), refOf(imp))
	assert.EqualValues(t, ticket, imp.Changes["ticket"].New, "the ticket link")
	assert.Nil(t, imp.Changes["status"].Old)
	assert.NotNil(t, imp.Changes["status"].New)

	// Both sides change the subject; local wins by the integration's priority and the push sends it.
	remoteSubject, localSubject := "changed in Zendesk", "changed in the CRM"
	require.NoError(t, s.ChangeTicket(ticket, sim.TicketChange{Subject: &remoteSubject}))
	_, err = e.ctl.UpdateCase(e.ctx, caseID, control.CaseUpdate{Subject: &localSubject})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return e.count(`SELECT count(*) FROM outbox WHERE processed_at IS NULL`) == 0
	}, 60*time.Second, 100*time.Millisecond)
	_, err = e.ctl.SyncNow(e.ctx, "hist", true)
	require.NoError(t, err)

	h, err = e.store.CaseHistory(e.ctx, caseID)
	require.NoError(t, err)
	local := entriesOf(h, store.SourceLocal)
	require.Len(t, local, 1, "%+v", h)
	assert.Equal(t, localSubject, local[0].Changes["subject"].New)
	assert.NotEqual(t, localSubject, local[0].Changes["subject"].Old)
	assert.NotEmpty(t, refOf(local[0]), "the database user")

	push := entriesOf(h, store.SourcePush)
	require.Len(t, push, 1, "%+v", h)
	assert.True(t, strings.HasPrefix(refOf(push[0]), "PUT /api/v2/tickets/"+jsonID(ticket)+".json → 200 OK"), refOf(push[0]))
	assert.Equal(t, remoteSubject, push[0].Changes["ticket.subject"].Old, "Zendesk's value before")
	assert.Equal(t, localSubject, push[0].Changes["ticket.subject"].New, "what was sent")

	conflict := entriesOf(h, store.SourceConflict)
	require.Len(t, conflict, 1, "%+v", h)
	c := conflict[0].Changes["subject"]
	assert.Equal(t, "local", c.Winner)
	assert.Equal(t, localSubject, *c.Local)
	assert.Equal(t, remoteSubject, *c.Remote)
	assert.Contains(t, refOf(conflict[0]), "local wins (the integration's sync priority is local)")
	for i := 1; i < len(h); i++ {
		assert.False(t, h[i].At.Before(h[i-1].At), "oldest first")
	}
	// The import after the push brings back our own value: nothing changed, nothing recorded.
	assert.Len(t, entriesOf(h, store.SourceImport), 1)

	// A case made in the CRM and published: its history has the creation and the publish with the ticket link.
	raw, err := e.ctl.CreateCase(e.ctx, control.CaseSpec{Integration: "hist", Subject: "Printer on fire",
		Description: "It smokes.", Priority: "high"})
	require.NoError(t, err)
	var created caseView
	require.NoError(t, json.Unmarshal(raw, &created))
	res, err := e.ctl.Publish(e.ctx, created.ID)
	require.NoError(t, err)
	h, err = e.store.CaseHistory(e.ctx, created.ID)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(h), 2, "%+v", h)
	assert.Equal(t, store.SourceLocal, h[0].Source)
	assert.Equal(t, "Printer on fire", h[0].Changes["subject"].New)
	pub := entriesOf(h, store.SourcePublish)
	require.Len(t, pub, 1, "%+v", h)
	assert.EqualValues(t, res.TicketID, pub[0].Changes["ticket"].New)
	assert.Contains(t, refOf(pub[0]), "Zendesk ticket "+jsonID(res.TicketID)+" created")
}

// Each sync pass leaves a record: when it started and ended, the requests it sent, what it wrote.
func TestIntegrationHistoryRecordsPasses(t *testing.T) {
	e := newEnv(t)
	s, url := newSim(t, sim.Options{Seed: 22, Tickets: 120})
	e.integration("passes", url, nil)
	e.firstSyncDone("passes")
	ticket := writable(t, s, 1)[0]
	subject := "changed in Zendesk for the second pass"
	require.NoError(t, s.ChangeTicket(ticket, sim.TicketChange{Subject: &subject}))
	_, err := e.ctl.SyncNow(e.ctx, "passes", true)
	require.NoError(t, err)

	in, err := e.store.IntegrationByName(e.ctx, "passes")
	require.NoError(t, err)
	ps, err := e.store.Passes(e.ctx, in.ID, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Len(t, ps, 2, "%+v", ps)
	first, second := ps[0], ps[1]
	assert.True(t, first.FirstSync)
	require.NotNil(t, first.EndedAt)
	assert.Nil(t, first.Error)
	var cases int64
	require.NoError(t, e.store.DB.GetContext(e.ctx, &cases, `SELECT count(*) FROM cases WHERE integration_id=$1`, in.ID))
	assert.Equal(t, cases, first.CasesCreated)
	assert.Positive(t, first.Tickets)
	assert.Positive(t, first.Comments)
	// At least the ticket export and the ticket events export; never more than the simulator received.
	assert.GreaterOrEqual(t, first.Requests, int64(2))

	assert.False(t, second.FirstSync)
	require.NotNil(t, second.EndedAt)
	assert.False(t, second.StartedAt.Before(*first.EndedAt))
	assert.EqualValues(t, 1, second.Tickets)
	assert.EqualValues(t, 1, second.CasesUpdated)
	assert.Zero(t, second.CasesCreated)
	assert.GreaterOrEqual(t, second.Requests, int64(2))
	assert.LessOrEqual(t, first.Requests+second.Requests, int64(len(s.Requests())))

	// --since leaves out what ended before it.
	ps, err = e.store.Passes(e.ctx, in.ID, time.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.Empty(t, ps)
}
