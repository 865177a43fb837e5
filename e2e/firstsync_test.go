package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// simTicket is the part of a simulator ticket the assertions compare with.
type simTicket struct {
	ID          int64   `json:"id"`
	Subject     *string `json:"subject"`
	Description string  `json:"description"`
	Status      string  `json:"status"`
	Priority    *string `json:"priority"`
	Type        *string `json:"type"`
	URL         string  `json:"url"`
	ProblemID   *int64  `json:"problem_id"`
	RequesterID int64   `json:"requester_id"`
	AssigneeID  *int64  `json:"assignee_id"`
}

func TestFirstSyncMapsEveryTicket(t *testing.T) {
	e := newEnv(t)
	s, url := newSim(t, sim.Options{Seed: 1, Tickets: 2000})
	sp := s.Special()
	// Agent one is a CRM user under another letter case: it must match.
	_, err := e.ctl.AddUser(e.ctx, strings.ToLower(sp.AgentOneEmail), "Agent One")
	require.NoError(t, err)
	e.integration("acme", url, nil)
	p := e.firstSyncDone("acme")
	require.Nil(t, p.LastError)

	stats := s.Stats()
	live := 0
	for _, id := range s.TicketIDs() {
		if !s.IsDeleted(id) {
			live++
		}
	}
	assert.Equal(t, stats.Tickets-stats.DeletedTickets, live)
	assert.Positive(t, stats.DeletedTickets, "the dataset has tickets deleted before the first sync")
	cases := e.cases("acme")
	assert.Equal(t, live, len(cases), "one case per ticket not deleted when first seen")
	assert.Equal(t, live, e.count(`SELECT count(*) FROM cases`))
	assert.Equal(t, stats.Tickets, e.count(`SELECT count(*) FROM zd_tickets`), "deleted tickets are mirrored, without a case")
	assert.EqualValues(t, stats.Tickets, p.TicketsSynced)
	assert.EqualValues(t, live, p.CasesCreated)

	// Every comment of a ticket with a case became exactly one case comment.
	wantComments := e.count(`SELECT count(*) FROM zd_comments c JOIN zd_tickets t ON t.integration_id=c.integration_id
		AND t.zendesk_id=c.ticket_id WHERE t.case_id IS NOT NULL`)
	assert.Equal(t, wantComments, e.count(`SELECT count(*) FROM case_comments`))
	assert.EqualValues(t, wantComments, p.CommentsSynced)
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM (SELECT case_comment_id FROM zd_comments WHERE case_comment_id IS NOT NULL
		GROUP BY 1 HAVING count(*) > 1) d`))
	assert.Greater(t, wantComments, live*2, "about three comments per ticket")

	// Field by field for the quirky tickets and a sample of the rest.
	sample := []int64{sp.Open, sp.Closed, sp.Problem, sp.Incident, sp.LargeDescription, sp.NullSubject, sp.Unassigned,
		sp.WithCollaborators, sp.HTMLSubject, sp.UnicodeRequester, sp.PrivateComments, sp.Solved, sp.Pending, sp.Hold,
		sp.New, sp.Task, sp.NullPriority, sp.BobRequester}
	ids := s.TicketIDs()
	for i := 0; i < len(ids); i += 97 {
		if !s.IsDeleted(ids[i]) {
			sample = append(sample, ids[i])
		}
	}
	statusMap := map[string]string{"new": "open", "open": "open", "pending": "in_progress", "hold": "open", "solved": "resolved", "closed": "closed"}
	prioMap := map[string]string{"low": "low", "normal": "normal", "high": "high", "urgent": "high"}
	for _, id := range sample {
		raw, ok := s.Ticket(id)
		require.True(t, ok, "ticket %d", id)
		var st simTicket
		require.NoError(t, json.Unmarshal(raw, &st))
		c, ok := cases[id]
		require.True(t, ok, "case for ticket %d", id)
		wantSubject := ""
		if st.Subject != nil {
			wantSubject = *st.Subject
		}
		assert.Equal(t, wantSubject, c.Subject, "ticket %d subject (null → empty, no N\\A)", id)
		assert.Equal(t, st.Description, c.Description, "ticket %d description", id)
		assert.Equal(t, statusMap[st.Status], c.Status, "ticket %d status %s", id, st.Status)
		wantPrio := "normal"
		if st.Priority != nil {
			wantPrio = prioMap[*st.Priority]
		}
		assert.Equal(t, wantPrio, c.Priority, "ticket %d priority", id)
		assert.Equal(t, st.Status, c.Ticket.Status)
		assert.Equal(t, st.URL, c.Ticket.URL)
		assert.Equal(t, st.Type, c.Ticket.Type)
		assert.Equal(t, st.ProblemID, c.Ticket.ProblemID)
		require.NotNil(t, c.Owner)
		require.NotNil(t, c.AssignedTo)
		if st.AssigneeID != nil && *st.AssigneeID == sp.AgentOneUserID {
			assert.Equal(t, strings.ToLower(sp.AgentOneEmail), *c.AssignedTo, "ticket %d: agent matched ignoring case", id)
		}
		require.NotEmpty(t, c.Comments, "ticket %d: the description is the first comment", id)
		assert.True(t, c.Comments[0].Public)
	}
	// The incident keeps its problem link; the Mr. Bob Miller Jr. requester became a contact with parsed name parts.
	assert.Equal(t, sp.Problem, *cases[sp.Incident].Ticket.ProblemID)
	bob := cases[sp.BobRequester].Contact
	require.NotNil(t, bob)
	assert.Equal(t, "Mr.", *bob.NamePrefix)
	assert.Equal(t, "Bob", *bob.FirstName)
	assert.Equal(t, "Miller", *bob.LastName)
	assert.Equal(t, "Jr.", *bob.NameSuffix)
	assert.Len(t, cases[sp.LargeDescription].Description, len(cases[sp.LargeDescription].Comments[0].Body))
	var private int
	for _, cm := range cases[sp.PrivateComments].Comments {
		if !cm.Public {
			private++
		}
	}
	assert.Positive(t, private, "private comments stay private")
	assert.NotEmpty(t, cases[sp.WithCollaborators].Ticket.CollaboratorEmails)

	// Requests: export pages and event pages, never one request per ticket.
	counters := s.Counters()
	assert.Zero(t, counters["GET /api/v2/tickets/{id}/comments.json"])
	assert.LessOrEqual(t, counters["GET /api/v2/incremental/tickets/cursor.json"], 3)
	for _, l := range e.logs.all() {
		require.NotContains(t, l, simToken, "the token must never be logged")
	}
}
