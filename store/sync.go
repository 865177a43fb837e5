package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// ErrStalePage says a staged page no longer fits the sync's position (a reset happened, or another page was
// applied in between); the caller drops it and fetches again from the saved position.
var ErrStalePage = errors.New("stale page")

// ErrPageMissing says the page the stream stands at was never staged or was lost: sync_pages is UNLOGGED, so a
// PostgreSQL crash or failover empties it. The caller fetches the page again from Zendesk and applies it.
var ErrPageMissing = errors.New("staged page missing")

// ErrPageNotNext says a page's apply came before the apply of the page before it had committed (ApplyPageAfter).
var ErrPageNotNext = errors.New("the page before is not applied yet")

// Counters are what one applied page added to the sync's progress: the apply activities' result, defined in
// package contract because its JSON is part of workflow history.
type Counters = contract.PageCounters

// PageTx is the transaction a page is applied in, with the batched statements the apply step needs.
type PageTx struct {
	tx            *sqlxTx
	ctx           context.Context
	IntegrationID int64
	State         *SyncState
	// loaded names the input tables (bulk.go) this transaction has loaded already.
	loaded map[string]bool
	// readOnly: a preview's transaction (ReadOnlyTx), which reads cases without locking them.
	readOnly bool
}

// Tx exposes the raw transaction for statements not covered here.
func (p *PageTx) Tx() *sqlxTx { return p.tx }

// Position is where a stream of the given kind currently stands.
func (st *SyncState) Position(kind string) string {
	if kind == KindTickets {
		return st.TicketCursor
	}
	return strconv.FormatInt(st.EventsStartTime, 10)
}

// ApplyPage applies one staged page exactly once: under the sync-state row lock it checks the page still starts
// where the stream stands, runs fn, moves the position to the page's end, adds the counters and drops the page,
// all in one transaction. A page applied already (a retry after a lost completion) returns AlreadyApplied with the
// counters that page added, so the caller counts it once rather than never.
func (s *Store) ApplyPage(ctx context.Context, integrationID int64, kind string, gen int, from string,
	fn func(ptx *PageTx, page *Page) (Counters, error)) (Counters, error) {
	return s.ApplyPageAfter(ctx, integrationID, kind, gen, from, nil, fn)
}

// ApplyPageAfter is ApplyPage for a page whose apply may start while the page before it (from after) is still
// being applied (nil: none is): it waits for that one's transaction on the sync-state lock, and if it gets the lock
// first (the stream still stands at after) it gives it up with ErrPageNotNext, to be tried again.
func (s *Store) ApplyPageAfter(ctx context.Context, integrationID int64, kind string, gen int, from string, after *string,
	fn func(ptx *PageTx, page *Page) (Counters, error)) (Counters, error) {
	var out Counters
	err := s.inSourceTx(ctx, SourceImport, "", func(tx *sqlxTx) error {
		st, err := lockState(ctx, tx, integrationID)
		if err != nil {
			return err
		}
		if st.Generation != gen {
			return fmt.Errorf("%s page of generation %d, sync is at %d: %w", kind, gen, st.Generation, ErrStalePage)
		}
		if after != nil && *after != from && st.Position(kind) == *after {
			return fmt.Errorf("%s page from %q: the page before it (from %q) is not applied yet: %w", kind, from,
				*after, ErrPageNotNext)
		}
		page, err := s.StagedPage(ctx, tx, integrationID, kind, gen, from)
		if errors.Is(err, ErrNotFound) && st.Position(kind) != from {
			out, err = appliedCounters(ctx, tx, integrationID, kind, gen, from)
			return err
		}
		if errors.Is(err, ErrNotFound) {
			// The stream still stands at the page's start, so it was not applied: it was lost.
			return fmt.Errorf("%s page from %q (generation %d): %w", kind, from, gen, ErrPageMissing)
		}
		if err != nil {
			return err
		}
		if st.Position(kind) != from {
			if err := deletePage(ctx, tx, page); err != nil {
				return err
			}
			return fmt.Errorf("%s page from %q, stream is at %q: %w", kind, from, st.Position(kind), ErrStalePage)
		}
		c, err := fn(&PageTx{tx: tx, ctx: ctx, IntegrationID: integrationID, State: st}, page)
		if err != nil {
			return err
		}
		out = c
		col := "ticket_cursor = $2"
		var pos interface{} = page.NextPos
		if kind == KindComments {
			n, err := strconv.ParseInt(page.NextPos, 10, 64)
			if err != nil {
				return fmt.Errorf("comment page end %q: %w", page.NextPos, err)
			}
			col, pos = "events_start_time = $2", n
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sync_state SET `+col+`, pages = pages + 1,
			tickets_synced = tickets_synced + $3, cases_created = cases_created + $4, cases_updated = cases_updated + $5,
			comments_synced = comments_synced + $6, failures = failures + $7, updated_at = now() WHERE integration_id = $1`,
			integrationID, pos, c.Tickets, c.CasesCreated, c.CasesUpdated, c.Comments, c.Failures); err != nil {
			return fmt.Errorf("advance %s position: %w", kind, err)
		}
		if err := recordApplied(ctx, tx, page, c); err != nil {
			return err
		}
		return deletePage(ctx, tx, page)
	})
	return out, err
}

// ApplyEmptyPage applies a fetched page that holds no records without staging it: what ApplyPage does for such a
// page (the position moves from the page's start to its end, and it counts as a page), as one compare-and-set on
// the generation and the position. A stream of the same generation that stands elsewhere has gone past the page
// (an earlier attempt of the same fetch applied it): the page is AlreadyApplied, as ApplyPage answers then. It
// returns where the stream stands after the call.
func (s *Store) ApplyEmptyPage(ctx context.Context, p *Page) (Counters, string, error) {
	col := "ticket_cursor"
	var from, to any = p.FromPos, p.NextPos
	if p.Kind == KindComments {
		f, err := strconv.ParseInt(p.FromPos, 10, 64)
		if err != nil {
			return Counters{}, "", fmt.Errorf("comment page start %q: %w", p.FromPos, err)
		}
		n, err := strconv.ParseInt(p.NextPos, 10, 64)
		if err != nil {
			return Counters{}, "", fmt.Errorf("comment page end %q: %w", p.NextPos, err)
		}
		col, from, to = "events_start_time", f, n
	}
	res, err := s.DB.ExecContext(ctx, `UPDATE sync_state SET `+col+` = $4, pages = pages + 1, updated_at = now()
		WHERE integration_id = $1 AND generation = $2 AND `+col+` = $3`, p.IntegrationID, p.Generation, from, to)
	if err != nil {
		return Counters{}, "", fmt.Errorf("advance %s position over an empty page: %w", p.Kind, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Counters{}, "", fmt.Errorf("advance %s position over an empty page: %w", p.Kind, err)
	} else if n == 1 {
		return Counters{}, p.NextPos, nil
	}
	st, err := s.SyncState(ctx, p.IntegrationID)
	if err != nil {
		return Counters{}, "", err
	}
	if st.Generation != p.Generation {
		return Counters{}, "", fmt.Errorf("%s page of generation %d, sync is at %d: %w", p.Kind, p.Generation,
			st.Generation, ErrStalePage)
	}
	return Counters{AlreadyApplied: true}, st.Position(p.Kind), nil
}

// ZUser is the mirror of a Zendesk user, with the CRM person it resolved to on this sync.
type ZUser struct {
	ZendeskID       int64           `json:"zendesk_id" db:"zendesk_id"`
	Name            string          `json:"name" db:"name"`
	Email           *string         `json:"email" db:"email"`
	Role            *string         `json:"role" db:"role"`
	Phone           *string         `json:"phone" db:"phone"`
	Active          bool            `json:"active" db:"active"`
	CRMUserID       *int64          `json:"crm_user_id" db:"crm_user_id"`
	ContactID       *int64          `json:"contact_id" db:"contact_id"`
	OriginCreatedAt *time.Time      `json:"origin_created_at" db:"origin_created_at"`
	OriginUpdatedAt *time.Time      `json:"origin_updated_at" db:"origin_updated_at"`
	Raw             json.RawMessage `json:"raw" db:"raw"`
}

// Users loads the mirrored users with the given Zendesk ids, without their raw payloads.
func (p *PageTx) Users(ids []int64) (map[int64]ZUser, error) {
	out := make(map[int64]ZUser, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []ZUser
	err := p.tx.SelectContext(p.ctx, &rows, `SELECT u.zendesk_id, u.name, u.email, u.role, u.phone, u.active, u.crm_user_id,
		u.contact_id, u.origin_created_at, u.origin_updated_at FROM `+byKeys("zd_users", "u"),
		p.IntegrationID, int64Array(ids))
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	for _, u := range rows {
		out[u.ZendeskID] = u
	}
	return out, nil
}

// UpsertUsers writes the users in one statement; a row whose values did not change is not rewritten.
func (p *PageTx) UpsertUsers(users []ZUser) error {
	if len(users) == 0 {
		return nil
	}
	if err := p.load(inUsers, len(users), false, func(i int) []any {
		u := &users[i]
		return []any{u.ZendeskID, u.Name, u.Email, u.Role, u.Phone, u.Active, u.CRMUserID, u.ContactID,
			u.OriginCreatedAt, u.OriginUpdatedAt, text(u.Raw)}
	}); err != nil {
		return err
	}
	_, err := p.tx.ExecContext(p.ctx, `INSERT INTO zd_users AS z (integration_id, zendesk_id, name, email, role, phone, active,
		crm_user_id, contact_id, origin_created_at, origin_updated_at, raw)
		SELECT $1, x.zendesk_id, x.name, x.email, x.role, x.phone, x.active, x.crm_user_id, x.contact_id,
			x.origin_created_at, x.origin_updated_at, x.raw
		FROM zs_in_users x
		ON CONFLICT (integration_id, zendesk_id) DO UPDATE SET name=EXCLUDED.name, email=EXCLUDED.email,
			role=EXCLUDED.role, phone=EXCLUDED.phone, active=EXCLUDED.active, crm_user_id=EXCLUDED.crm_user_id,
			contact_id=EXCLUDED.contact_id, origin_created_at=EXCLUDED.origin_created_at,
			origin_updated_at=EXCLUDED.origin_updated_at, raw=EXCLUDED.raw, updated_at=now()
		WHERE (z.name, z.email, z.role, z.phone, z.active, z.crm_user_id, z.contact_id, z.origin_updated_at)
			IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.email, EXCLUDED.role, EXCLUDED.phone, EXCLUDED.active,
			EXCLUDED.crm_user_id, EXCLUDED.contact_id, EXCLUDED.origin_updated_at)`, p.IntegrationID)
	if err != nil {
		return fmt.Errorf("upsert users: %w", err)
	}
	return nil
}

// InsertNewUsers writes the mirror rows of users not mirrored yet (the page's read of its users found none of them)
// with one COPY. When a row was written meanwhile by another writer, the COPY fails on it and the rows are
// upserted instead.
func (p *PageTx) InsertNewUsers(users []ZUser) error {
	if len(users) == 0 {
		return nil
	}
	return p.orElse(func() error {
		err := p.copyRows("zd_users", []string{"integration_id", "zendesk_id", "name", "email", "role", "phone",
			"active", "crm_user_id", "contact_id", "origin_created_at", "origin_updated_at", "raw"}, len(users),
			func(i int) []any {
				u := &users[i]
				return []any{p.IntegrationID, u.ZendeskID, u.Name, u.Email, u.Role, u.Phone, u.Active, u.CRMUserID,
					u.ContactID, u.OriginCreatedAt, u.OriginUpdatedAt, text(u.Raw)}
			})
		if err != nil {
			return fmt.Errorf("insert new users: %w", err)
		}
		return nil
	}, func() error { return p.UpsertUsers(users) })
}

// NewContact is a contact to create for an end-user.
type NewContact struct {
	Email       string  `json:"email"`
	NamePrefix  *string `json:"name_prefix"`
	FirstName   *string `json:"first_name"`
	MiddleName  *string `json:"middle_name"`
	LastName    *string `json:"last_name"`
	NameSuffix  *string `json:"name_suffix"`
	Phone       *string `json:"phone"`
	OwnerUserID int64   `json:"owner_user_id"`
}

// ContactsByEmail finds the integration's contacts by email, ignoring case; the key is the lower-cased email.
func (p *PageTx) ContactsByEmail(emails []string) (map[string]int64, error) {
	out := make(map[string]int64, len(emails))
	if len(emails) == 0 {
		return out, nil
	}
	// One probe of the (integration_id, lower(email)) index per email, for the reason byKeys gives.
	rows, err := p.tx.QueryxContext(p.ctx, `SELECT e.email, c.id FROM (SELECT DISTINCT lower(unnest($2::text[])) AS email) e
		CROSS JOIN LATERAL (SELECT id FROM contacts WHERE integration_id = $1 AND lower(email) = e.email
			ORDER BY id LIMIT 1) c`, p.IntegrationID, stringArray(emails))
	if err != nil {
		return nil, fmt.Errorf("find contacts: %w", err)
	}
	return scanPairs(rows, out)
}

// CreateContacts inserts the contacts in one statement and returns their ids by lower-cased email.
func (p *PageTx) CreateContacts(cs []NewContact) (map[string]int64, error) {
	out := make(map[string]int64, len(cs))
	if len(cs) == 0 {
		return out, nil
	}
	if err := p.load(inContacts, len(cs), false, func(i int) []any {
		c := &cs[i]
		return []any{c.Email, c.NamePrefix, c.FirstName, c.MiddleName, c.LastName, c.NameSuffix, c.Phone, c.OwnerUserID}
	}); err != nil {
		return nil, err
	}
	rows, err := p.tx.QueryxContext(p.ctx, `INSERT INTO contacts (integration_id, email, name_prefix, first_name,
		middle_name, last_name, name_suffix, phone, owner_user_id)
		SELECT $1, x.email, x.name_prefix, x.first_name, x.middle_name, x.last_name, x.name_suffix, x.phone, x.owner_user_id
		FROM zs_in_contacts x
		RETURNING lower(email), id`, p.IntegrationID)
	if err != nil {
		return nil, fmt.Errorf("create contacts: %w", err)
	}
	return scanPairs(rows, out)
}

// scanPairs reads (key, id) rows into out and closes them.
func scanPairs[K comparable](rows *sqlx.Rows, out map[K]int64) (map[K]int64, error) {
	defer rows.Close()
	for rows.Next() {
		var k K
		var id int64
		if err := rows.Scan(&k, &id); err != nil {
			return nil, err
		}
		out[k] = id
	}
	return out, rows.Err()
}

// CaseRow is the part of a case the sync derives from its ticket.
type CaseRow struct {
	ID               int64      `json:"id" db:"id"`
	Subject          string     `json:"subject" db:"subject"`
	Description      string     `json:"description" db:"description"`
	Status           string     `json:"status" db:"status"`
	Priority         string     `json:"priority" db:"priority"`
	OwnerUserID      *int64     `json:"owner_user_id" db:"owner_user_id"`
	AssignedToUserID *int64     `json:"assigned_to_user_id" db:"assigned_to_user_id"`
	ContactID        *int64     `json:"contact_id" db:"contact_id"`
	ReportedAt       *time.Time `json:"reported_at" db:"reported_at"`
	ClosedAt         *time.Time `json:"closed_at" db:"closed_at"`
	// Attributes is the case's attributes column (a JSON object). Written by SetCaseAttributes, not with the rest.
	Attributes json.RawMessage `json:"attributes,omitempty" db:"attributes"`
	// TicketID keys a new case to the ticket it is created for.
	TicketID int64 `json:"ticket_id" db:"-"`
}

// TicketRow is the mirror of a Zendesk ticket: the ticket record of a case.
type TicketRow struct {
	ZendeskID          int64           `json:"zendesk_id"`
	URL                string          `json:"url"`
	Subject            string          `json:"subject"`
	Description        string          `json:"description"`
	ExternalID         *string         `json:"external_id"`
	ProblemID          *int64          `json:"problem_id"`
	Type               *string         `json:"type"`
	Status             string          `json:"status"`
	Priority           *string         `json:"priority"`
	Recipient          *string         `json:"recipient"`
	RequesterID        *int64          `json:"requester_id"`
	SubmitterID        *int64          `json:"submitter_id"`
	AssigneeID         *int64          `json:"assignee_id"`
	CollaboratorIDs    []int64         `json:"collaborator_ids"`
	HasIncidents       bool            `json:"has_incidents"`
	DueAt              *time.Time      `json:"due_at"`
	OriginCreatedAt    *time.Time      `json:"origin_created_at"`
	OriginUpdatedAt    *time.Time      `json:"origin_updated_at"`
	GeneratedTimestamp int64           `json:"generated_timestamp"`
	Raw                json.RawMessage `json:"raw"`
	CaseID             *int64          `json:"case_id"`
	Synced             json.RawMessage `json:"synced"`
	SyncGeneration     int             `json:"sync_generation"`
	// RawDigest identifies Raw's exact bytes (RawDigestOf), so a ticket sent again unchanged is told apart from
	// one changed within the same second.
	RawDigest string `json:"raw_digest,omitempty"`
}

// RawDigestOf is the digest kept beside a ticket's raw payload.
func RawDigestOf(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

// ExistingTicket is what the sync needs to know of a mirrored ticket before applying a new version of it.
type ExistingTicket struct {
	ZendeskID       int64           `db:"zendesk_id"`
	Status          string          `db:"status"`
	OriginUpdatedAt *time.Time      `db:"origin_updated_at"`
	SyncGeneration  int             `db:"sync_generation"`
	CaseID          *int64          `db:"case_id"`
	Synced          json.RawMessage `db:"synced"`
	// CaseDeletedAt is set when the ticket's case was deleted in the CRM: the import does not create it again.
	CaseDeletedAt *time.Time `db:"case_deleted_at"`
	RawDigest     *string    `db:"raw_digest"`
	Case          *CaseRow   `db:"-"`
	// PendingFields are the case fields with a local change not pushed yet (pending or parked outbox rows).
	PendingFields []string `db:"-"`
}

// Tickets loads the mirrored tickets with the given ids, with their cases. The cases are read under their row
// locks (FOR UPDATE, in id order so two pages never deadlock on each other), held until the page's transaction
// ends: a CRM edit made meanwhile waits for the page instead of being overwritten by values computed before it.
func (p *PageTx) Tickets(ids []int64) (map[int64]*ExistingTicket, error) {
	out := make(map[int64]*ExistingTicket, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var ts []ExistingTicket
	if err := p.tx.SelectContext(p.ctx, &ts, `SELECT t.zendesk_id, t.status, t.origin_updated_at, t.sync_generation, t.case_id,
		t.synced, t.case_deleted_at, t.raw_digest FROM `+byKeys("zd_tickets", "t"),
		p.IntegrationID, int64Array(ids)); err != nil {
		return nil, fmt.Errorf("load tickets: %w", err)
	}
	var caseIDs []int64
	for i := range ts {
		out[ts[i].ZendeskID] = &ts[i]
		if ts[i].CaseID != nil {
			caseIDs = append(caseIDs, *ts[i].CaseID)
		}
	}
	if len(caseIDs) == 0 {
		return out, nil
	}
	var cs []CaseRow
	lock := " FOR UPDATE"
	if p.readOnly {
		lock = ""
	}
	if err := p.tx.SelectContext(p.ctx, &cs, `SELECT id, subject, description, status, priority, owner_user_id,
		assigned_to_user_id, contact_id, reported_at, closed_at, attributes FROM cases WHERE id = ANY($1)
		ORDER BY id`+lock,
		int64Array(caseIDs)); err != nil {
		return nil, fmt.Errorf("lock the cases of tickets: %w", err)
	}
	byID := make(map[int64]*CaseRow, len(cs))
	for i := range cs {
		byID[cs[i].ID] = &cs[i]
	}
	pending, err := p.pendingFields(caseIDs)
	if err != nil {
		return nil, err
	}
	for _, t := range out {
		if t.CaseID != nil {
			t.Case = byID[*t.CaseID]
			t.PendingFields = pending[*t.CaseID]
		}
	}
	return out, nil
}

// pendingFields lists, per case, the fields of its outbox rows not processed yet. Read after the cases' row locks,
// so every CRM edit committed before them is seen (its outbox row is written in the edit's transaction).
func (p *PageTx) pendingFields(caseIDs []int64) (map[int64][]string, error) {
	var rows []struct {
		CaseID int64  `db:"case_id"`
		Field  string `db:"field"`
	}
	if err := p.tx.SelectContext(p.ctx, &rows, `SELECT DISTINCT o.case_id, f AS field FROM outbox o, unnest(o.fields) f
		WHERE o.integration_id=$1 AND o.processed_at IS NULL AND o.case_id = ANY($2)`,
		p.IntegrationID, int64Array(caseIDs)); err != nil {
		return nil, fmt.Errorf("read the pending local changes of cases: %w", err)
	}
	out := make(map[int64][]string, len(rows))
	for _, r := range rows {
		out[r.CaseID] = append(out[r.CaseID], r.Field)
	}
	return out, nil
}

// CreateCases inserts new cases and returns their ids keyed by ticket id. The ids are drawn first and the rows
// COPYed straight into cases: new cases cannot conflict with anything, so they need no input table.
func (p *PageTx) CreateCases(cs []CaseRow) (map[int64]int64, error) {
	out := make(map[int64]int64, len(cs))
	if len(cs) == 0 {
		return out, nil
	}
	ids, err := p.nextIDs("cases_id_seq", len(cs))
	if err != nil {
		return nil, err
	}
	if err := p.copyRows("cases", []string{"id", "integration_id", "subject", "description", "status", "priority",
		"owner_user_id", "assigned_to_user_id", "contact_id", "reported_at", "closed_at"}, len(cs), func(i int) []any {
		c := &cs[i]
		return []any{ids[i], p.IntegrationID, c.Subject, c.Description, c.Status, c.Priority, c.OwnerUserID,
			c.AssignedToUserID, c.ContactID, c.ReportedAt, c.ClosedAt}
	}); err != nil {
		return nil, fmt.Errorf("create cases: %w", err)
	}
	for i := range cs {
		out[cs[i].TicketID] = ids[i]
	}
	return out, nil
}

// loadCases loads case rows into zs_in_cases.
func (p *PageTx) loadCases(cs []CaseRow) error {
	return p.load(inCases, len(cs), true, func(i int) []any {
		c := &cs[i]
		return []any{c.ID, c.TicketID, c.Subject, c.Description, c.Status, c.Priority, c.OwnerUserID,
			c.AssignedToUserID, c.ContactID, c.ReportedAt, c.ClosedAt}
	})
}

// UpdateCases writes the derived fields of changed cases in one statement and moves their updated_at.
func (p *PageTx) UpdateCases(cs []CaseRow) error {
	if len(cs) == 0 {
		return nil
	}
	if err := p.loadCases(cs); err != nil {
		return err
	}
	_, err := p.tx.ExecContext(p.ctx, `UPDATE cases c SET subject=x.subject, description=x.description, status=x.status,
		priority=x.priority, owner_user_id=x.owner_user_id, assigned_to_user_id=x.assigned_to_user_id,
		contact_id=x.contact_id, closed_at = COALESCE(x.closed_at, c.closed_at), updated_at=now()
		FROM zs_in_cases x WHERE c.id = x.id AND c.integration_id = $1`, p.IntegrationID)
	if err != nil {
		return fmt.Errorf("update cases: %w", err)
	}
	return nil
}

// UpsertTickets writes the ticket mirror rows in one statement.
func (p *PageTx) UpsertTickets(ts []TicketRow) error {
	if len(ts) == 0 {
		return nil
	}
	if err := p.load(inTickets, len(ts), false, func(i int) []any {
		t := &ts[i]
		return []any{t.ZendeskID, t.URL, t.Subject, t.Description, t.ExternalID, t.ProblemID, t.Type, t.Status,
			t.Priority, t.Recipient, t.RequesterID, t.SubmitterID, t.AssigneeID, int64s(t.CollaboratorIDs),
			t.HasIncidents, t.DueAt, t.OriginCreatedAt, t.OriginUpdatedAt, t.GeneratedTimestamp, text(t.Raw),
			t.CaseID, text(t.Synced), t.SyncGeneration, t.RawDigest}
	}); err != nil {
		return err
	}
	_, err := p.tx.ExecContext(p.ctx, `INSERT INTO zd_tickets AS t (integration_id, zendesk_id, url, subject, description,
		external_id, problem_id, type, status, priority, recipient, requester_id, submitter_id, assignee_id,
		collaborator_ids, has_incidents, due_at, origin_created_at, origin_updated_at, generated_timestamp, raw,
		case_id, synced, sync_generation, raw_digest)
		SELECT $1, x.zendesk_id, x.url, x.subject, x.description, x.external_id, x.problem_id, x.type, x.status,
			x.priority, x.recipient, x.requester_id, x.submitter_id, x.assignee_id, COALESCE(x.collaborator_ids, '{}'),
			x.has_incidents, x.due_at, x.origin_created_at, x.origin_updated_at, x.generated_timestamp, x.raw,
			x.case_id, x.synced, x.sync_generation, NULLIF(x.raw_digest, '')
		FROM zs_in_tickets x
		ON CONFLICT (integration_id, zendesk_id) DO UPDATE SET url=EXCLUDED.url, subject=EXCLUDED.subject,
			description=EXCLUDED.description, external_id=EXCLUDED.external_id, problem_id=EXCLUDED.problem_id,
			type=EXCLUDED.type, status=EXCLUDED.status, priority=EXCLUDED.priority, recipient=EXCLUDED.recipient,
			requester_id=EXCLUDED.requester_id, submitter_id=EXCLUDED.submitter_id, assignee_id=EXCLUDED.assignee_id,
			collaborator_ids=EXCLUDED.collaborator_ids, has_incidents=EXCLUDED.has_incidents, due_at=EXCLUDED.due_at,
			origin_created_at=EXCLUDED.origin_created_at, origin_updated_at=EXCLUDED.origin_updated_at,
			generated_timestamp=EXCLUDED.generated_timestamp, raw=EXCLUDED.raw,
			case_id=COALESCE(EXCLUDED.case_id, t.case_id), synced=EXCLUDED.synced,
			sync_generation=EXCLUDED.sync_generation, raw_digest=EXCLUDED.raw_digest, updated_at=now()`,
		p.IntegrationID)
	if err != nil {
		return fmt.Errorf("upsert tickets: %w", err)
	}
	return nil
}

// InsertNewTickets writes the mirror rows of tickets not mirrored yet (the page's read of its existing tickets
// found none of them) with one COPY. When a row was written meanwhile by another writer (a publish), the COPY
// fails on it and the rows are upserted instead.
func (p *PageTx) InsertNewTickets(ts []TicketRow) error {
	if len(ts) == 0 {
		return nil
	}
	return p.orElse(func() error { return p.copyTickets(ts) }, func() error { return p.UpsertTickets(ts) })
}

func (p *PageTx) copyTickets(ts []TicketRow) error {
	err := p.copyRows("zd_tickets", []string{"integration_id", "zendesk_id", "url", "subject", "description",
		"external_id", "problem_id", "type", "status", "priority", "recipient", "requester_id", "submitter_id",
		"assignee_id", "collaborator_ids", "has_incidents", "due_at", "origin_created_at", "origin_updated_at",
		"generated_timestamp", "raw", "case_id", "synced", "sync_generation", "raw_digest"}, len(ts), func(i int) []any {
		t := &ts[i]
		coll := int64s(t.CollaboratorIDs)
		if coll == nil {
			coll = "{}"
		}
		var digest any
		if t.RawDigest != "" {
			digest = t.RawDigest
		}
		return []any{p.IntegrationID, t.ZendeskID, t.URL, t.Subject, t.Description, t.ExternalID, t.ProblemID, t.Type,
			t.Status, t.Priority, t.Recipient, t.RequesterID, t.SubmitterID, t.AssigneeID, coll, t.HasIncidents, t.DueAt,
			t.OriginCreatedAt, t.OriginUpdatedAt, t.GeneratedTimestamp, text(t.Raw), t.CaseID, text(t.Synced),
			t.SyncGeneration, digest}
	})
	if err != nil {
		return fmt.Errorf("insert new tickets: %w", err)
	}
	return nil
}

// CommentRow is the mirror of a Zendesk comment. Comments are immutable in Zendesk, so a known one is never rewritten.
type CommentRow struct {
	ZendeskID       int64           `json:"zendesk_id"`
	TicketID        int64           `json:"ticket_id"`
	AuthorID        *int64          `json:"author_id"`
	Body            string          `json:"body"`
	HTMLBody        string          `json:"html_body"`
	Public          bool            `json:"public"`
	OriginCreatedAt *time.Time      `json:"origin_created_at"`
	Raw             json.RawMessage `json:"raw"`
}

// InsertComments adds the comments not mirrored yet, in one statement.
func (p *PageTx) InsertComments(cs []CommentRow) error {
	if len(cs) == 0 {
		return nil
	}
	if err := p.loadComments(cs); err != nil {
		return err
	}
	_, err := p.tx.ExecContext(p.ctx, `INSERT INTO zd_comments (integration_id, zendesk_id, ticket_id, author_id, body,
		html_body, public, origin_created_at, raw)
		SELECT $1, x.zendesk_id, x.ticket_id, x.author_id, x.body, x.html_body, x.public, x.origin_created_at, x.raw
		FROM zs_in_comments x
		ON CONFLICT (integration_id, zendesk_id) DO NOTHING`, p.IntegrationID)
	if err != nil {
		return fmt.Errorf("insert comments: %w", err)
	}
	return nil
}

// loadComments loads comment rows into zs_in_comments.
func (p *PageTx) loadComments(cs []CommentRow) error {
	return p.load(inComments, len(cs), true, func(i int) []any {
		c := &cs[i]
		return []any{c.ZendeskID, c.TicketID, c.AuthorID, c.Body, c.HTMLBody, c.Public, c.OriginCreatedAt, text(c.Raw)}
	})
}

// LinkComments gives every mirrored comment whose ticket has a case, and that has no case comment yet, its case
// comment: the author's CRM user (else ownerID) owns it and the author's contact is set. Comments can arrive
// before or after their ticket, so both the ticket and the comment steps call this. It returns how many it made.
func (p *PageTx) LinkComments(ownerID int64, ticketIDs []int64) (int64, error) {
	filter, args := "", []interface{}{p.IntegrationID, ownerID}
	if ticketIDs != nil {
		filter, args = "AND c.ticket_id = ANY($3)", append(args, int64Array(ticketIDs))
	}
	res, err := p.tx.ExecContext(p.ctx, `WITH pending AS (
			SELECT c.zendesk_id, nextval('case_comments_id_seq') AS new_id, t.case_id, c.body, c.public,
				COALESCE(u.crm_user_id, $2) AS owner_user_id, u.contact_id, u.email,
				COALESCE(c.origin_created_at, now()) AS created_at
			FROM zd_comments c
			JOIN zd_tickets t ON t.integration_id = c.integration_id AND t.zendesk_id = c.ticket_id
			LEFT JOIN zd_users u ON u.integration_id = c.integration_id AND u.zendesk_id = c.author_id
			WHERE c.integration_id = $1 AND c.case_comment_id IS NULL AND t.case_id IS NOT NULL `+filter+`
		), ins AS (
			INSERT INTO case_comments (id, case_id, body, public, owner_user_id, contact_id, author_email, created_at, updated_at)
			SELECT new_id, case_id, body, public, owner_user_id, contact_id, email, created_at, created_at FROM pending
		)
		UPDATE zd_comments z SET case_comment_id = p.new_id FROM pending p
		WHERE z.integration_id = $1 AND z.zendesk_id = p.zendesk_id`, args...)
	if err != nil {
		return 0, fmt.Errorf("link comments: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// NoteTicketsGenerated records that the ticket stream has applied tickets up to generated_timestamp ts, the
// point it restarts from (minus an overlap) when Zendesk refuses its cursor. Only the page stream calls it:
// tickets fetched by id (retried failures) say nothing about what the stream has read.
func (p *PageTx) NoteTicketsGenerated(ts int64) error {
	if ts <= 0 {
		return nil
	}
	if _, err := p.tx.ExecContext(p.ctx, `UPDATE sync_state SET ticket_generated_max = GREATEST(ticket_generated_max, $2)
		WHERE integration_id = $1`, p.IntegrationID, ts); err != nil {
		return fmt.Errorf("note ticket stream progress: %w", err)
	}
	return nil
}

// TicketRestartPoint is the newest generated_timestamp the ticket stream has applied in the current generation
// (0 when none): see NoteTicketsGenerated.
func (s *Store) TicketRestartPoint(ctx context.Context, integrationID int64) (int64, error) {
	var ts int64
	if err := s.DB.GetContext(ctx, &ts, `SELECT ticket_generated_max FROM sync_state WHERE integration_id=$1`,
		integrationID); err != nil {
		return 0, notFound(err, fmt.Sprintf("sync state of integration %d", integrationID))
	}
	return ts, nil
}

// RecordFailures keeps records that could not be synced, with their reasons.
func (p *PageTx) RecordFailures(fs []Failure) error {
	return recordFailures(p.ctx, p.tx, p.IntegrationID, fs)
}

// ResolveFailures closes the failures of records that synced now.
func (p *PageTx) ResolveFailures(kind string, ids []int64) error {
	return resolveFailures(p.ctx, p.tx, p.IntegrationID, kind, ids)
}

// ReadTx runs fn with a PageTx for reads outside a page apply (e.g. to resolve people before a push).
func (s *Store) ReadTx(ctx context.Context, integrationID int64, fn func(p *PageTx) error) error {
	return s.InTx(ctx, func(tx *sqlxTx) error {
		return fn(&PageTx{tx: tx, ctx: ctx, IntegrationID: integrationID})
	})
}

// ApplyDirect applies records fetched outside the page streams (e.g. failed tickets retried by id) under the same
// sync-state lock and sync marking as a page, without moving any stream position.
func (s *Store) ApplyDirect(ctx context.Context, integrationID int64, fn func(p *PageTx) error) error {
	return s.inSourceTx(ctx, SourceImport, "", func(tx *sqlxTx) error {
		st, err := lockState(ctx, tx, integrationID)
		if err != nil {
			return err
		}
		return fn(&PageTx{tx: tx, ctx: ctx, IntegrationID: integrationID, State: st})
	})
}

// FailedTicketIDs lists the Zendesk ids of the integration's tickets with an open failure.
func (s *Store) FailedTicketIDs(ctx context.Context, integrationID int64) ([]int64, error) {
	var ids []int64
	err := s.DB.SelectContext(ctx, &ids, `SELECT DISTINCT zendesk_id FROM sync_failures WHERE integration_id=$1
		AND kind='ticket' AND resolved_at IS NULL AND zendesk_id IS NOT NULL ORDER BY 1`, integrationID)
	return ids, err
}

// InsertAndLinkComments adds the comments not mirrored yet and, for those whose ticket already has a case, their
// case comments. What is new and what links where is read first (by primary key), then both tables are written
// with one COPY each, the case comment ids drawn beforehand so each mirror row is written once, with its link. A
// comment mirrored meanwhile by another writer (a push) makes the COPY fail: then the page's comments go in with
// insertAndLinkComments, which skips what exists. Comments whose ticket has no case yet are linked by LinkComments
// when their ticket lands. It returns how many case comments it made.
func (p *PageTx) InsertAndLinkComments(ownerID int64, cs []CommentRow) (int64, error) {
	if len(cs) == 0 {
		return 0, nil
	}
	seen := make(map[int64]bool, len(cs))
	uniq := make([]CommentRow, 0, len(cs))
	for _, c := range cs {
		if !seen[c.ZendeskID] {
			seen[c.ZendeskID] = true
			uniq = append(uniq, c)
		}
	}
	plan, err := p.planComments(ownerID, uniq)
	if err != nil {
		return 0, err
	}
	var made int64
	err = p.orElse(func() error {
		made, err = p.copyComments(plan)
		return err
	}, func() error {
		made, err = p.insertAndLinkComments(ownerID, uniq)
		return err
	})
	return made, err
}

// commentPlan is what a comment page writes: the comments not mirrored yet, and the case comments of those whose
// ticket has a case.
type commentPlan struct {
	fresh  []CommentRow
	linked []caseComment // linked[i] is the case comment of fresh[linkOf[i]]
	linkOf []int
}

type caseComment struct {
	id, caseID, ownerID int64
	contactID           *int64
	email               *string
	createdAt           time.Time
}

// planComments reads which of the comments are new, their tickets' cases and their authors' people.
func (p *PageTx) planComments(ownerID int64, cs []CommentRow) (commentPlan, error) {
	var plan commentPlan
	ids := make([]int64, len(cs))
	for i := range cs {
		ids[i] = cs[i].ZendeskID
	}
	var known []int64
	if err := p.tx.SelectContext(p.ctx, &known, `SELECT c.zendesk_id FROM `+byKeys("zd_comments", "c"),
		p.IntegrationID, int64Array(ids)); err != nil {
		return plan, fmt.Errorf("find mirrored comments: %w", err)
	}
	skip := make(map[int64]bool, len(known))
	for _, id := range known {
		skip[id] = true
	}
	var tickets, authors []int64
	for _, c := range cs {
		if !skip[c.ZendeskID] {
			plan.fresh = append(plan.fresh, c)
			tickets = append(tickets, c.TicketID)
			if c.AuthorID != nil {
				authors = append(authors, *c.AuthorID)
			}
		}
	}
	if len(plan.fresh) == 0 {
		return plan, nil
	}
	cases, people, err := p.commentLinks(tickets, authors)
	if err != nil {
		return plan, err
	}
	var now *time.Time
	for i, c := range plan.fresh {
		caseID, ok := cases[c.TicketID]
		if !ok {
			continue
		}
		cc := caseComment{caseID: caseID, ownerID: ownerID}
		if c.AuthorID != nil {
			if u, ok := people[*c.AuthorID]; ok {
				if u.CRMUserID != nil {
					cc.ownerID = *u.CRMUserID
				}
				cc.contactID, cc.email = u.ContactID, u.Email
			}
		}
		if c.OriginCreatedAt != nil {
			cc.createdAt = *c.OriginCreatedAt
		} else {
			if now == nil {
				now = new(time.Time)
				if err := p.tx.GetContext(p.ctx, now, `SELECT now()`); err != nil {
					return plan, fmt.Errorf("read the transaction's time: %w", err)
				}
			}
			cc.createdAt = *now
		}
		plan.linked, plan.linkOf = append(plan.linked, cc), append(plan.linkOf, i)
	}
	if len(plan.linked) == 0 {
		return plan, nil
	}
	ccIDs, err := p.nextIDs("case_comments_id_seq", len(plan.linked))
	if err != nil {
		return plan, err
	}
	for i := range plan.linked {
		plan.linked[i].id = ccIDs[i]
	}
	return plan, nil
}

// commentLinks reads the cases of tickets and the people of comment authors.
func (p *PageTx) commentLinks(tickets, authors []int64) (map[int64]int64, map[int64]ZUser, error) {
	cases := make(map[int64]int64, len(tickets))
	rows, err := p.tx.QueryxContext(p.ctx, `SELECT t.zendesk_id, t.case_id FROM `+byKeys("zd_tickets", "t")+`
		WHERE t.case_id IS NOT NULL`, p.IntegrationID, int64Array(tickets))
	if err != nil {
		return nil, nil, fmt.Errorf("find the cases of comments' tickets: %w", err)
	}
	if _, err := scanPairs(rows, cases); err != nil {
		return nil, nil, fmt.Errorf("find the cases of comments' tickets: %w", err)
	}
	var us []ZUser
	if err := p.tx.SelectContext(p.ctx, &us, `SELECT u.zendesk_id, u.crm_user_id, u.contact_id, u.email FROM `+
		byKeys("zd_users", "u"), p.IntegrationID, int64Array(authors)); err != nil {
		return nil, nil, fmt.Errorf("find comment authors: %w", err)
	}
	people := make(map[int64]ZUser, len(us))
	for _, u := range us {
		people[u.ZendeskID] = u
	}
	return cases, people, nil
}

// copyComments writes a planned comment page: the case comments, then the mirror rows linked to them.
func (p *PageTx) copyComments(plan commentPlan) (int64, error) {
	if err := p.copyRows("case_comments", []string{"id", "case_id", "body", "public", "owner_user_id", "contact_id",
		"author_email", "created_at", "updated_at"}, len(plan.linked), func(i int) []any {
		cc, c := &plan.linked[i], &plan.fresh[plan.linkOf[i]]
		return []any{cc.id, cc.caseID, c.Body, c.Public, cc.ownerID, cc.contactID, cc.email, cc.createdAt, cc.createdAt}
	}); err != nil {
		return 0, err
	}
	link := make(map[int]int64, len(plan.linked))
	for i, at := range plan.linkOf {
		link[at] = plan.linked[i].id
	}
	if err := p.copyRows("zd_comments", []string{"integration_id", "zendesk_id", "ticket_id", "author_id", "body",
		"html_body", "public", "origin_created_at", "raw", "case_comment_id"}, len(plan.fresh), func(i int) []any {
		c := &plan.fresh[i]
		var ccID any
		if id, ok := link[i]; ok {
			ccID = id
		}
		return []any{p.IntegrationID, c.ZendeskID, c.TicketID, c.AuthorID, c.Body, c.HTMLBody, c.Public,
			c.OriginCreatedAt, text(c.Raw), ccID}
	}); err != nil {
		return 0, err
	}
	return int64(len(plan.linked)), nil
}

// orElse runs fast in a savepoint and, when it fails on a unique violation (a row it took for new was written by
// another transaction meanwhile), undoes it and runs slow instead.
func (p *PageTx) orElse(fast, slow func() error) error {
	if _, err := p.tx.ExecContext(p.ctx, `SAVEPOINT zs_fast`); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	err := fast()
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23505" {
		if _, rerr := p.tx.ExecContext(p.ctx, `ROLLBACK TO SAVEPOINT zs_fast`); rerr != nil {
			return fmt.Errorf("roll back to savepoint: %w (after %w)", rerr, err)
		}
		return slow()
	}
	if err != nil {
		return err
	}
	if _, err := p.tx.ExecContext(p.ctx, `RELEASE SAVEPOINT zs_fast`); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// insertAndLinkComments is InsertAndLinkComments in one statement that skips the comments mirrored already.
func (p *PageTx) insertAndLinkComments(ownerID int64, uniq []CommentRow) (int64, error) {
	if err := p.loadComments(uniq); err != nil {
		return 0, err
	}
	var made int64
	err := p.tx.QueryRowxContext(p.ctx, `WITH fresh AS (
			SELECT x.* FROM zs_in_comments x WHERE NOT EXISTS (SELECT 1 FROM zd_comments z WHERE z.integration_id = $1
				AND z.zendesk_id = x.zendesk_id)
		), linkable AS (
			SELECT f.zendesk_id, nextval('case_comments_id_seq') AS new_id, t.case_id, f.body, f.public,
				COALESCE(u.crm_user_id, $2) AS owner_user_id, u.contact_id, u.email,
				COALESCE(f.origin_created_at, now()) AS created_at
			FROM fresh f
			JOIN zd_tickets t ON t.integration_id = $1 AND t.zendesk_id = f.ticket_id AND t.case_id IS NOT NULL
			LEFT JOIN zd_users u ON u.integration_id = $1 AND u.zendesk_id = f.author_id
		), cc AS (
			INSERT INTO case_comments (id, case_id, body, public, owner_user_id, contact_id, author_email, created_at, updated_at)
			SELECT new_id, case_id, body, public, owner_user_id, contact_id, email, created_at, created_at FROM linkable
			RETURNING id
		), zc AS (
			INSERT INTO zd_comments (integration_id, zendesk_id, ticket_id, author_id, body, html_body, public,
				origin_created_at, raw, case_comment_id)
			SELECT $1, f.zendesk_id, f.ticket_id, f.author_id, f.body, f.html_body, f.public, f.origin_created_at, f.raw,
				l.new_id FROM fresh f LEFT JOIN linkable l ON l.zendesk_id = f.zendesk_id
			ON CONFLICT (integration_id, zendesk_id) DO NOTHING
		)
		SELECT count(*) FROM cc`, p.IntegrationID, ownerID).Scan(&made)
	if err != nil {
		return 0, fmt.Errorf("insert and link comments: %w", err)
	}
	return made, nil
}

// objectByID is one JSON object of JSON values keyed by id, for a statement that takes it apart with jsonb_each.
func objectByID(values map[int64][]byte) (string, error) {
	obj := make(map[string]json.RawMessage, len(values))
	for id, v := range values {
		obj[strconv.FormatInt(id, 10)] = v
	}
	b, err := json.Marshal(obj)
	return string(b), err
}

// SetCaseAttributes writes the attributes column of cases (case id → JSON object), skipping those that hold it
// already, in one statement. Kept apart from CreateCases and UpdateCases so their COPY rows stay as they are for
// integrations without a mapping.
func (p *PageTx) SetCaseAttributes(attrs map[int64][]byte) error {
	if len(attrs) == 0 {
		return nil
	}
	b, err := objectByID(attrs)
	if err != nil {
		return fmt.Errorf("encode case attributes: %w", err)
	}
	if _, err := p.tx.ExecContext(p.ctx, `UPDATE cases c SET attributes = e.value, updated_at = now()
		FROM jsonb_each($2::jsonb) e WHERE c.id = e.key::bigint AND c.integration_id = $1
		AND c.attributes IS DISTINCT FROM e.value`, p.IntegrationID, b); err != nil {
		return fmt.Errorf("set case attributes: %w", err)
	}
	return nil
}

// byKeys is "table AS alias" for the distinct Zendesk ids of $2 within integration $1: each id one primary-key
// probe, forced by a LATERAL subquery the planner cannot turn into another join. Written as "zendesk_id = ANY($2)",
// or as a plain join to the ids, the planner, without statistics for a table a first sync has just filled
// (autovacuum may be off or behind), scanned the whole integration's rows and filtered or hashed them: 16 ms for
// 1,200 users among 20,000 (and growing with the integration), against 10 ms as probes; 0.25 s a page for the
// comments of 100,000 tickets.
func byKeys(table, alias string) string {
	return `(SELECT DISTINCT unnest($2::bigint[]) AS id) k CROSS JOIN LATERAL (SELECT * FROM ` + table +
		` x WHERE x.integration_id = $1 AND x.zendesk_id = k.id LIMIT 1) ` + alias
}
