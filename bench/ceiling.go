package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// ceilingResult is the COPY ceiling: the rows a first sync makes, loaded with COPY only.
type ceilingResult struct {
	Tickets      int     `json:"tickets"`
	Cases        int     `json:"cases"`
	Contacts     int     `json:"contacts"`
	Users        int     `json:"users"`
	Comments     int     `json:"comments"`
	CopySeconds  float64 `json:"copy_seconds"`
	FetchSeconds float64 `json:"fetch_seconds"`
	Bytes        int64   `json:"raw_json_bytes"`
}

// copyTable is one COPY FROM STDIN with its rows.
type copyTable struct {
	name string
	cols []string
	rows [][]interface{}
}

// loader builds, from the simulator's own export pages, exactly the rows the sync makes (mapping package rules),
// with ids assigned here, and COPYs them in chunks into the schema the sync writes into, triggers included (the
// case history of every new case and ticket link is written by them, as for the sync). Only the COPY calls and the
// commit are timed.
type loader struct {
	tx       *sql.Tx
	ownerID  int64
	intID    int64
	dir      *mapping.Directory
	s        *sim.Server
	parties  map[int64]*mapping.Party
	emails   map[int64]string
	contacts map[string]int64 // lower-cased email -> contact id
	caseOf   map[int64]int64  // ticket id -> case id
	seenCmt  map[int64]bool
	nextCase int64
	nextCont int64
	nextCC   int64
	copyDur  time.Duration
	res      ceilingResult

	contactRows, userRows, caseRows, ticketRows, ccRows, zcRows [][]interface{}
}

func runCeiling(ctx context.Context, dbs *databases, n int, seed int64, cl *cleanups) (*ceilingResult, error) {
	s, base, err := startSim(sim.Options{Seed: seed, Tickets: n, CommentsPerTicket: 3, DisableRequestLog: true}, cl)
	if err != nil {
		return nil, err
	}
	zc, err := zendesk.New(zendesk.Config{URL: base, Email: simEmail, Token: simToken, Timeout: 5 * time.Minute})
	if err != nil {
		return nil, err
	}
	dbURL, err := dbs.create(ctx)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, dbURL, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	db := st.DB.DB
	var ownerID, intID int64
	if err := db.QueryRowContext(ctx, `INSERT INTO crm_users (email, name) VALUES ('owner@example.com', 'Owner') RETURNING id`).
		Scan(&ownerID); err != nil {
		return nil, err
	}
	if err := db.QueryRowContext(ctx, `INSERT INTO integrations (name, url, email, token_enc, owner_user_id, active)
		VALUES ('bench', $1, $2, '\x00', $3, true) RETURNING id`, base, simEmail, ownerID).Scan(&intID); err != nil {
		return nil, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	// Marked as the sync marks its page transactions (store.inSourceTx), so the schema's triggers do for these rows
	// what they do for the sync's: the history triggers write the same case_history rows (source import), and the
	// change-capture triggers skip them.
	if _, err := tx.ExecContext(ctx, `SELECT set_config('zendesk_sync.origin', 'sync', true),
		set_config('zendesk_sync.source', 'import', true), set_config('zendesk_sync.ref', '', true)`); err != nil {
		return nil, fmt.Errorf("ceiling: mark the transaction: %w", err)
	}
	l := &loader{tx: tx, ownerID: ownerID, intID: intID, s: s,
		dir:     mapping.NewDirectory([]mapping.CRMUser{{ID: ownerID, Email: "owner@example.com"}}),
		parties: map[int64]*mapping.Party{}, emails: map[int64]string{}, contacts: map[string]int64{},
		caseOf: map[int64]int64{}, seenCmt: map[int64]bool{}, nextCase: 1, nextCont: 1, nextCC: 1}

	const chunkPages = 10
	fetchStart := time.Now()
	var fetchDur time.Duration
	// Tickets (with side-loaded users) first, so every case exists before its comments reference it.
	cursor, pages := "", 0
	for {
		t0 := time.Now()
		page, err := zc.TicketExportPage(ctx, cursor, time.Unix(0, 0), 1000)
		if err != nil {
			return nil, fmt.Errorf("ceiling: ticket export: %w", err)
		}
		fetchDur += time.Since(t0)
		l.addUsers(page.Users)
		for _, t := range page.Tickets {
			l.addTicket(t)
		}
		pages++
		if pages%chunkPages == 0 || page.EndOfStream {
			if err := l.flush(ctx); err != nil {
				return nil, err
			}
		}
		if page.EndOfStream {
			break
		}
		cursor = page.AfterCursor
	}
	// Then the comments, from the ticket events export.
	start, pages := int64(0), 0
	for {
		t0 := time.Now()
		page, err := zc.CommentEventsPage(ctx, start)
		if err != nil {
			return nil, fmt.Errorf("ceiling: ticket events: %w", err)
		}
		fetchDur += time.Since(t0)
		for _, c := range page.Comments {
			l.addComment(c)
		}
		pages++
		if pages%chunkPages == 0 || page.EndOfStream {
			if err := l.flush(ctx); err != nil {
				return nil, err
			}
		}
		if page.EndOfStream || page.EndTime <= start {
			break
		}
		start = page.EndTime
	}
	if err := l.flush(ctx); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("ceiling: commit: %w", err)
	}
	l.copyDur += time.Since(t0)
	_ = fetchStart
	l.res.CopySeconds = l.copyDur.Seconds()
	l.res.FetchSeconds = fetchDur.Seconds()
	return &l.res, nil
}

func (l *loader) addUsers(users []zendesk.User) {
	for _, u := range users {
		if _, ok := l.parties[u.ID]; ok {
			continue
		}
		email := ""
		if u.Email != nil {
			email = *u.Email
		}
		var contactID int64
		if u.Role == "end-user" && u.Email != nil {
			e := mapping.NormalizeEmail(email)
			if e != "" {
				if id, ok := l.contacts[e]; ok {
					contactID = id
				} else if nc, ok := mapping.ContactFor(u.Name, email, deref(u.Phone)); ok {
					contactID = l.nextCont
					l.nextCont++
					l.contacts[e] = contactID
					l.contactRows = append(l.contactRows, []interface{}{contactID, l.intID, nc.Email,
						nullable(nc.Name.Prefix), nullable(nc.Name.First), nullable(nc.Name.Middle),
						nullable(nc.Name.Last), nullable(nc.Name.Suffix), nullable(nc.Phone), l.ownerID})
					l.res.Contacts++
				}
			}
		}
		p := mapping.ResolveParty(u.ID, u.Role, email, contactID, l.dir)
		l.parties[u.ID] = &p
		l.emails[u.ID] = email
		l.userRows = append(l.userRows, []interface{}{l.intID, u.ID, u.Name, u.Email, nullable(u.Role), u.Phone, u.Active,
			nonZero(p.CRMUserID), nonZero(p.ContactID), timeOrNil(u.CreatedAt), timeOrNil(u.UpdatedAt), string(u.Raw)})
		l.res.Users++
		l.res.Bytes += int64(len(u.Raw))
	}
}

func (l *loader) party(id *int64) *mapping.Party {
	if id == nil {
		return nil
	}
	return l.parties[*id]
}

func (l *loader) addTicket(t zendesk.Ticket) {
	l.res.Tickets++
	l.res.Bytes += int64(len(t.Raw))
	next, _ := mapping.DeriveCase(mapping.TicketFacts{Subject: t.Subject, Description: t.Description, Status: t.Status,
		Priority: t.Priority}, l.party(t.RequesterID), l.party(t.SubmitterID), l.party(t.AssigneeID), l.ownerID)
	synced, _ := json.Marshal(next)
	var caseID interface{}
	if t.Status != mapping.TicketStatusDeleted {
		if !next.StatusOK {
			next.Status = mapping.DefaultCaseStatus
		}
		if !next.PriorityOK {
			next.Priority = mapping.DefaultCasePriority
		}
		id := l.nextCase
		l.nextCase++
		l.caseOf[t.ID] = id
		caseID = id
		var closed interface{}
		if next.Status == "closed" {
			closed = timeOrNil(t.UpdatedAt)
		}
		l.caseRows = append(l.caseRows, []interface{}{id, l.intID, next.Subject, next.Description, next.Status,
			next.Priority, nonZero(next.OwnerID), nonZero(next.AssignedToID), nonZero(next.ContactID),
			timeOrNil(t.CreatedAt), closed})
		l.res.Cases++
	}
	subject := ""
	if t.Subject != nil {
		subject = *t.Subject
	}
	coll := t.CollaboratorIDs
	if coll == nil {
		coll = []int64{}
	}
	var due interface{}
	if t.DueAt != nil {
		due = *t.DueAt
	}
	l.ticketRows = append(l.ticketRows, []interface{}{l.intID, t.ID, t.URL, subject, t.Description, t.ExternalID,
		t.ProblemID, t.Type, t.Status, t.Priority, t.Recipient, t.RequesterID, t.SubmitterID, t.AssigneeID,
		pq.Array(coll), t.HasIncidents, due, timeOrNil(t.CreatedAt), timeOrNil(t.UpdatedAt), t.GeneratedTimestamp,
		string(t.Raw), caseID, string(synced), 0})
}

func (l *loader) addComment(c zendesk.Comment) {
	if l.seenCmt[c.ID] {
		return // the boundary second of the events export comes twice
	}
	l.seenCmt[c.ID] = true
	if _, ok := l.parties[c.AuthorID]; !ok && c.AuthorID > 0 {
		// The sync fetches unknown authors with show_many; the ceiling reads them from the simulator directly.
		if raw, ok := l.s.UserJSON(c.AuthorID); ok {
			var u zendesk.User
			if err := json.Unmarshal(raw, &u); err == nil {
				l.addUsers([]zendesk.User{u})
			}
		}
	}
	l.res.Comments++
	l.res.Bytes += int64(len(c.Raw))
	var ccID interface{}
	if caseID, ok := l.caseOf[c.TicketID]; ok {
		id := l.nextCC
		l.nextCC++
		ccID = id
		author := l.parties[c.AuthorID]
		owner, contact := mapping.CommentOwner(author, l.ownerID)
		var email interface{}
		if e, ok := l.emails[c.AuthorID]; ok && e != "" {
			email = e
		}
		created := c.CreatedAt
		if created.IsZero() {
			created = time.Now()
		}
		l.ccRows = append(l.ccRows, []interface{}{id, caseID, c.Body, c.Public, owner, nonZero(contact), email, created,
			created})
	}
	var author interface{}
	if c.AuthorID > 0 {
		author = c.AuthorID
	}
	l.zcRows = append(l.zcRows, []interface{}{l.intID, c.ID, c.TicketID, author, c.Body, c.HTMLBody, c.Public,
		timeOrNil(c.CreatedAt), ccID, string(c.Raw)})
}

// flush COPYs the rows gathered so far, parents first, and clears them.
func (l *loader) flush(ctx context.Context) error {
	tables := []copyTable{
		{"contacts", []string{"id", "integration_id", "email", "name_prefix", "first_name", "middle_name", "last_name",
			"name_suffix", "phone", "owner_user_id"}, l.contactRows},
		{"zd_users", []string{"integration_id", "zendesk_id", "name", "email", "role", "phone", "active", "crm_user_id",
			"contact_id", "origin_created_at", "origin_updated_at", "raw"}, l.userRows},
		{"cases", []string{"id", "integration_id", "subject", "description", "status", "priority", "owner_user_id",
			"assigned_to_user_id", "contact_id", "reported_at", "closed_at"}, l.caseRows},
		{"zd_tickets", []string{"integration_id", "zendesk_id", "url", "subject", "description", "external_id",
			"problem_id", "type", "status", "priority", "recipient", "requester_id", "submitter_id", "assignee_id",
			"collaborator_ids", "has_incidents", "due_at", "origin_created_at", "origin_updated_at",
			"generated_timestamp", "raw", "case_id", "synced", "sync_generation"}, l.ticketRows},
		{"case_comments", []string{"id", "case_id", "body", "public", "owner_user_id", "contact_id", "author_email",
			"created_at", "updated_at"}, l.ccRows},
		{"zd_comments", []string{"integration_id", "zendesk_id", "ticket_id", "author_id", "body", "html_body", "public",
			"origin_created_at", "case_comment_id", "raw"}, l.zcRows},
	}
	t0 := time.Now()
	for _, t := range tables {
		if len(t.rows) == 0 {
			continue
		}
		stmt, err := l.tx.PrepareContext(ctx, "COPY "+t.name+" ("+strings.Join(t.cols, ", ")+") FROM STDIN")
		if err != nil {
			return fmt.Errorf("ceiling: copy %s: %w", t.name, err)
		}
		for _, r := range t.rows {
			if _, err := stmt.ExecContext(ctx, r...); err != nil {
				stmt.Close()
				return fmt.Errorf("ceiling: copy %s: %w", t.name, err)
			}
		}
		if _, err := stmt.ExecContext(ctx); err != nil {
			stmt.Close()
			return fmt.Errorf("ceiling: copy %s: %w", t.name, err)
		}
		if err := stmt.Close(); err != nil {
			return fmt.Errorf("ceiling: copy %s: %w", t.name, err)
		}
	}
	l.copyDur += time.Since(t0)
	l.contactRows, l.userRows, l.caseRows, l.ticketRows, l.ccRows, l.zcRows = nil, nil, nil, nil, nil, nil
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nullable(s string) interface{} {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return s
}

func nonZero(id int64) interface{} {
	if id == 0 {
		return nil
	}
	return id
}

func timeOrNil(t time.Time) interface{} {
	if t.IsZero() {
		return nil
	}
	return t
}
