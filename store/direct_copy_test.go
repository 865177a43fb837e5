package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// New cases, tickets and comments are COPYed straight into their tables; case comments link to their tickets'
// cases and take their authors' people, and a comment mirrored already is skipped.
func TestPageRowsAreCopiedStraightIntoTheirTables(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	id := newIntegration(t, s)
	var ownerID, agentID int64
	require.NoError(t, s.DB.GetContext(ctx, &ownerID, `SELECT owner_user_id FROM integrations WHERE id=$1`, id))
	agentID, err := s.AddCRMUser(ctx, "agent@example.com", "Agent")
	require.NoError(t, err)
	agentEmail := "agent@example.com"
	at := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	author := int64(500)
	var made int64
	require.NoError(t, s.ApplyDirect(ctx, id, func(p *PageTx) error {
		if err := p.UpsertUsers([]ZUser{{ZendeskID: author, Name: "Agent", Email: &agentEmail, CRMUserID: &agentID,
			Active: true, Raw: []byte(`{}`)}}); err != nil {
			return err
		}
		ids, err := p.CreateCases([]CaseRow{{TicketID: 1, Subject: "one", Status: "open", Priority: "normal"},
			{TicketID: 2, Subject: "two", Status: "open", Priority: "high"}})
		if err != nil {
			return err
		}
		c1 := ids[1]
		if err := p.InsertNewTickets([]TicketRow{{ZendeskID: 1, Status: "open", Raw: []byte(`{"id":1}`), CaseID: &c1,
			RawDigest: "d1"}, {ZendeskID: 3, Status: "open", Raw: []byte(`{"id":3}`)}}); err != nil {
			return err
		}
		// Comment 10 is on a ticket with a case, 11 on one without, 12 twice in the page.
		made, err = p.InsertAndLinkComments(ownerID, []CommentRow{
			{ZendeskID: 10, TicketID: 1, AuthorID: &author, Body: "hello", Public: true, OriginCreatedAt: &at, Raw: []byte(`{}`)},
			{ZendeskID: 11, TicketID: 3, Body: "orphan", Raw: []byte(`{}`)},
			{ZendeskID: 12, TicketID: 1, Body: "no author", Raw: []byte(`{}`)},
			{ZendeskID: 12, TicketID: 1, Body: "no author", Raw: []byte(`{}`)}})
		return err
	}))
	require.EqualValues(t, 2, made)
	var cc []struct {
		Body    string    `db:"body"`
		Owner   int64     `db:"owner_user_id"`
		Email   *string   `db:"author_email"`
		Created time.Time `db:"created_at"`
	}
	require.NoError(t, s.DB.SelectContext(ctx, &cc, `SELECT body, owner_user_id, author_email, created_at
		FROM case_comments ORDER BY body`))
	require.Len(t, cc, 2)
	require.Equal(t, "hello", cc[0].Body)
	require.Equal(t, agentID, cc[0].Owner, "the author's CRM user owns it")
	require.Equal(t, agentEmail, *cc[0].Email)
	require.True(t, at.Equal(cc[0].Created))
	require.Equal(t, ownerID, cc[1].Owner, "no known author: the integration's owner")
	var linked, unlinked int
	require.NoError(t, s.DB.GetContext(ctx, &linked, `SELECT count(*) FROM zd_comments WHERE case_comment_id IS NOT NULL`))
	require.NoError(t, s.DB.GetContext(ctx, &unlinked, `SELECT count(*) FROM zd_comments WHERE case_comment_id IS NULL`))
	require.Equal(t, 2, linked)
	require.Equal(t, 1, unlinked, "comment 11 waits for its ticket's case")
	var coll string
	var digest *string
	require.NoError(t, s.DB.QueryRowContext(ctx, `SELECT collaborator_ids::text, raw_digest FROM zd_tickets
		WHERE zendesk_id = 3`).Scan(&coll, &digest))
	require.Equal(t, "{}", coll)
	require.Nil(t, digest)

	// The same comments again (a page applied once more by another path): nothing new is made.
	require.NoError(t, s.ApplyDirect(ctx, id, func(p *PageTx) error {
		made, err = p.InsertAndLinkComments(ownerID, []CommentRow{{ZendeskID: 10, TicketID: 1, Raw: []byte(`{}`)}})
		return err
	}))
	require.EqualValues(t, 0, made)
}

// A row taken for new but written by another transaction meanwhile (a publish or a push) fails the COPY on its
// unique key: the page falls back to the statement that upserts, in the same transaction, instead of failing.
func TestRowsWrittenMeanwhileFallBackToTheUpsert(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	id := newIntegration(t, s)
	require.NoError(t, s.ApplyDirect(ctx, id, func(p *PageTx) error {
		return p.InsertNewTickets([]TicketRow{{ZendeskID: 7, Status: "open", Subject: "first", Raw: []byte(`{}`)}})
	}))
	require.NoError(t, s.ApplyDirect(ctx, id, func(p *PageTx) error {
		return p.InsertNewTickets([]TicketRow{{ZendeskID: 7, Status: "solved", Subject: "second", Raw: []byte(`{}`)},
			{ZendeskID: 8, Status: "open", Raw: []byte(`{}`)}})
	}))
	var subject string
	require.NoError(t, s.DB.GetContext(ctx, &subject, `SELECT subject FROM zd_tickets WHERE zendesk_id = 7`))
	require.Equal(t, "second", subject)
	var n int
	require.NoError(t, s.DB.GetContext(ctx, &n, `SELECT count(*) FROM zd_tickets WHERE integration_id = $1`, id))
	require.Equal(t, 2, n)

	// A comment plan made before another writer mirrored one of its comments.
	var made int64
	require.NoError(t, s.ApplyDirect(ctx, id, func(p *PageTx) error {
		cs := []CommentRow{{ZendeskID: 20, TicketID: 7, Raw: []byte(`{}`)}, {ZendeskID: 21, TicketID: 7, Raw: []byte(`{}`)}}
		plan, err := p.planComments(1, cs)
		if err != nil {
			return err
		}
		if _, err := p.tx.ExecContext(ctx, `INSERT INTO zd_comments (integration_id, zendesk_id, ticket_id, raw)
			VALUES ($1, 20, 7, '{}')`, id); err != nil {
			return err
		}
		return p.orElse(func() error {
			made, err = p.copyComments(plan)
			return err
		}, func() error {
			made, err = p.insertAndLinkComments(1, cs)
			return err
		})
	}))
	require.NoError(t, s.DB.GetContext(ctx, &n, `SELECT count(*) FROM zd_comments WHERE integration_id = $1`, id))
	require.Equal(t, 2, n)
	require.EqualValues(t, 0, made, "ticket 7 has no case")
}
