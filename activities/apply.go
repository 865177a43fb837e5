package activities

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// ApplyTicketPage maps a staged ticket page (users to CRM users and contacts, statuses, priorities), resolves
// conflicts with local case edits and upserts cases, tickets and users, moving the cursor in the same
// transaction. A retry after a lost completion finds the page applied and changes nothing.
func (a *Activities) ApplyTicketPage(ctx context.Context, ref PageRef) (store.Counters, error) {
	return a.applyStaged(ctx, ref, store.KindTickets, func(ptx *store.PageTx, in *store.Integration,
		dir *mapping.Directory, body []byte) (store.Counters, error) {
		var st stagedTickets
		if err := decodeStaged(body, &st); err != nil {
			return store.Counters{}, err
		}
		c, err := a.applyTickets(ptx, in, dir, &st)
		if err != nil {
			return c, err
		}
		// Only the page stream notes how far it has read: the point a refused cursor restarts from.
		return c, ptx.NoteTicketsGenerated(st.generatedMax())
	})
}

// applyStaged applies one staged page of either stream exactly once (store.ApplyPage) and counts it.
func (a *Activities) applyStaged(ctx context.Context, ref PageRef, kind string,
	fn func(ptx *store.PageTx, in *store.Integration, dir *mapping.Directory, body []byte) (store.Counters, error)) (store.Counters, error) {
	in, err := a.Store.Integration(ctx, ref.IntegrationID)
	if err != nil {
		return store.Counters{}, err
	}
	dir, err := a.directory(ctx)
	if err != nil {
		return store.Counters{}, err
	}
	// Applying may wait for the sync-state lock or write a large page: heartbeat so the heartbeat timeout only
	// catches a lost worker, never a slow apply.
	stop := keepAlive(ctx)
	defer stop()
	apply := func(ptx *store.PageTx, page *store.Page) (c store.Counters, err error) {
		err = a.guard(func() (err error) {
			if a.beforeApply != nil {
				a.beforeApply(kind)
			}
			c, err = fn(ptx, in, dir, page.Body)
			return err
		})
		return c, err
	}
	c, err := a.Store.ApplyPage(ctx, in.ID, kind, ref.Generation, ref.From, apply)
	if errors.Is(err, store.ErrPageMissing) || errors.Is(err, errStagedFormat) {
		// The page was fetched, but its staged copy is gone while the stream still stands at its start:
		// sync_pages is UNLOGGED, so a PostgreSQL crash or failover empties it (or it was staged by an older
		// worker in another format). Waiting cannot bring it back, so
		// the page is fetched again from Zendesk here, staged, and applied. If Zendesk's answer moved on meanwhile,
		// the page ends elsewhere than the workflow was told: the pages it fetched next then no longer fit the
		// position (stale, or taken for applied), the pass ends early, and the next pass goes on from the
		// position PostgreSQL holds. Nothing is lost or applied twice; the workflow needs no change.
		a.logger().Warn("staged page lost (database crash or failover?) or of an older format: fetching it again",
			"integration", in.Name, "kind", kind, "from", ref.From, "error", err)
		refetch := a.FetchTicketPage
		if kind == store.KindComments {
			refetch = a.FetchCommentPage
		}
		if _, ferr := refetch(ctx, ref); ferr != nil {
			return store.Counters{}, ferr
		}
		c, err = a.Store.ApplyPage(ctx, in.ID, kind, ref.Generation, ref.From, apply)
	}
	if err == nil {
		observePage(in.Name, kind, c)
	}
	return c, a.classify(ctx, in, "apply "+kind+" page", err)
}

func (a *Activities) directory(ctx context.Context) (*mapping.Directory, error) {
	users, err := a.Store.CRMUsers(ctx)
	if err != nil {
		return nil, err
	}
	mu := make([]mapping.CRMUser, len(users))
	for i, u := range users {
		mu[i] = mapping.CRMUser{ID: u.ID, Email: u.Email, Secondary: u.Secondary}
	}
	return mapping.NewDirectory(mu), nil
}

// people resolves Zendesk users to CRM people for one page: agents to CRM users by email, end-users to contacts
// (matched by email or created). Resolution is redone on every sync, so a CRM user added later is picked up.
type people struct {
	ptx     *store.PageTx
	in      *store.Integration
	dir     *mapping.Directory
	parties map[int64]*mapping.Party
}

// upsert mirrors the given users, creating contacts for end-users nobody matches.
func (p *people) upsert(users []zendesk.User) error {
	var emails []string
	for _, u := range users {
		if !mapping.IsAgent(u.Role) && u.Email != nil {
			if e := mapping.NormalizeEmail(*u.Email); e != "" {
				emails = append(emails, e)
			}
		}
	}
	contacts, err := p.ptx.ContactsByEmail(emails)
	if err != nil {
		return err
	}
	var create []store.NewContact
	planned := map[string]bool{}
	for _, u := range users {
		if u.Role != mapping.RoleEndUser || u.Email == nil {
			continue
		}
		e := mapping.NormalizeEmail(*u.Email)
		if e == "" || contacts[e] != 0 || planned[e] {
			continue
		}
		phone := ""
		if u.Phone != nil {
			phone = *u.Phone
		}
		nc, ok := mapping.ContactFor(u.Name, *u.Email, phone)
		if !ok {
			continue
		}
		planned[e] = true
		create = append(create, store.NewContact{Email: nc.Email, NamePrefix: nullable(nc.Name.Prefix),
			FirstName: nullable(nc.Name.First), MiddleName: nullable(nc.Name.Middle), LastName: nullable(nc.Name.Last),
			NameSuffix: nullable(nc.Name.Suffix), Phone: nullable(nc.Phone), OwnerUserID: p.in.OwnerUserID})
	}
	created, err := p.ptx.CreateContacts(create)
	if err != nil {
		return err
	}
	for e, id := range created {
		contacts[e] = id
	}
	rows := make([]store.ZUser, 0, len(users))
	for _, u := range users {
		email := ""
		if u.Email != nil {
			email = *u.Email
		}
		var contactID int64
		if u.Role == mapping.RoleEndUser {
			contactID = contacts[mapping.NormalizeEmail(email)]
		}
		party := mapping.ResolveParty(u.ID, u.Role, email, contactID, p.dir)
		pp := party
		p.parties[u.ID] = &pp
		created, updated := u.CreatedAt, u.UpdatedAt
		rows = append(rows, store.ZUser{ZendeskID: u.ID, Name: u.Name, Email: u.Email, Role: nullable(u.Role),
			Phone: u.Phone, Active: u.Active, CRMUserID: nonZero(party.CRMUserID), ContactID: nonZero(party.ContactID),
			OriginCreatedAt: timePtr(created), OriginUpdatedAt: timePtr(updated), Raw: u.Raw})
	}
	return p.ptx.UpsertUsers(dedupeUsers(rows))
}

// load resolves users mirrored by earlier pages that this page references but did not side-load.
func (p *people) load(ids []int64) error {
	var need []int64
	for _, id := range ids {
		if _, ok := p.parties[id]; !ok {
			need = append(need, id)
		}
	}
	known, err := p.ptx.Users(need)
	if err != nil {
		return err
	}
	for id, u := range known {
		email, role := deref(u.Email), deref(u.Role)
		var contactID int64
		if u.ContactID != nil {
			contactID = *u.ContactID
		}
		party := mapping.ResolveParty(id, role, email, contactID, p.dir)
		p.parties[id] = &party
	}
	return nil
}

// caseValues derives the case values of a ticket whose people this page has resolved.
func (p *people) caseValues(t *zendesk.Ticket) (mapping.CaseValues, []string) {
	return deriveCase(t, p.parties, p.in.OwnerUserID)
}

// roleIDs are the ids of a ticket's requester, submitter and assignee that are set.
func roleIDs(t *zendesk.Ticket) []int64 {
	var out []int64
	for _, p := range []*int64{t.RequesterID, t.SubmitterID, t.AssigneeID} {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}

func (a *Activities) applyTickets(ptx *store.PageTx, in *store.Integration, dir *mapping.Directory, st *stagedTickets) (store.Counters, error) {
	var out store.Counters
	failures := badFailures(st.Bad)
	tickets := st.tickets()
	pp := &people{ptx: ptx, in: in, dir: dir, parties: map[int64]*mapping.Party{}}
	if err := pp.upsert(stagedUsers(st.Users)); err != nil {
		return out, err
	}
	var refs, ids []int64
	for i := range tickets {
		ids = append(ids, tickets[i].ID)
		refs = append(refs, roleIDs(&tickets[i])...)
	}
	if err := pp.load(refs); err != nil {
		return out, err
	}
	existing, err := ptx.Tickets(ids)
	if err != nil {
		return out, err
	}
	if a.AfterCasesRead != nil {
		var caseIDs []int64
		for _, ex := range existing {
			if ex.Case != nil {
				caseIDs = append(caseIDs, ex.Case.ID)
			}
		}
		a.AfterCasesRead(caseIDs)
	}
	rules := importRules{OwnerUserID: in.OwnerUserID, TwoWay: in.TwoWay, Priority: mapping.Priority(in.Priority),
		Generation: ptx.State.Generation}
	w, err := a.translateTickets(in.Name, tickets, existing, pp.parties, rules)
	if err != nil {
		return out, err
	}
	created, err := w.write(ptx)
	if err != nil {
		return out, err
	}
	linked, err := ptx.LinkComments(in.OwnerUserID, ids)
	if err != nil {
		return out, err
	}
	if err := ptx.RecordFailures(failures); err != nil {
		return out, err
	}
	if err := ptx.ResolveFailures("ticket", ids); err != nil {
		return out, err
	}
	out.Tickets = int64(len(w.rows))
	out.CasesCreated = created
	out.CasesUpdated = int64(len(w.changedCases))
	out.Comments = linked
	out.Failures = int64(len(failures))
	return out, nil
}

// ticketWrites are the rows a ticket page writes, translated ticket by ticket.
type ticketWrites struct {
	rows                   []store.TicketRow
	newCases, changedCases []store.CaseRow
	conflicts              []store.Conflict
}

// translateTickets translates a page's tickets (translateTicket) and gathers their rows.
func (a *Activities) translateTickets(integration string, tickets []zendesk.Ticket,
	existing map[int64]*store.ExistingTicket, parties map[int64]*mapping.Party, r importRules) (ticketWrites, error) {
	var w ticketWrites
	for i := range tickets {
		t := &tickets[i]
		tr, err := translateTicket(t, existing[t.ID], parties, r)
		if err != nil {
			return w, err
		}
		for _, warning := range tr.Warnings {
			a.logger().Warn("ticket mapped with a warning", "integration", integration, "ticket", t.ID, "warning", warning)
		}
		if tr.Skip {
			continue // unchanged since the last sync: nothing is written
		}
		if tr.NewCase != nil {
			w.newCases = append(w.newCases, *tr.NewCase)
		}
		if tr.ChangedCase != nil {
			w.changedCases = append(w.changedCases, *tr.ChangedCase)
		}
		w.conflicts = append(w.conflicts, tr.Conflicts...)
		w.rows = append(w.rows, tr.Ticket)
	}
	return w, nil
}

// write creates and updates the cases, then writes the ticket rows (linked to the cases created) and the
// conflicts. It returns how many cases it created.
func (w *ticketWrites) write(ptx *store.PageTx) (int64, error) {
	ids2cases, err := ptx.CreateCases(w.newCases)
	if err != nil {
		return 0, err
	}
	var withCase []int64
	for i := range w.rows {
		if id, ok := ids2cases[w.rows[i].ZendeskID]; ok {
			w.rows[i].CaseID = &id
			withCase = append(withCase, w.rows[i].ZendeskID)
		}
	}
	// A ticket that has a case again (its mirror row was removed and it synced anew) is no longer "case deleted".
	if err := ptx.ResolveFailures(store.FailureCaseDeleted, withCase); err != nil {
		return 0, err
	}
	if err := ptx.UpdateCases(w.changedCases); err != nil {
		return 0, err
	}
	if err := ptx.UpsertTickets(w.rows); err != nil {
		return 0, err
	}
	for _, c := range w.conflicts {
		if err := ptx.RecordConflicts(*c.CaseID, []store.Conflict{c}); err != nil {
			return 0, err
		}
	}
	return int64(len(ids2cases)), nil
}

// ApplyCommentPage mirrors a staged page of comments (and their authors) and gives each comment whose ticket has
// a case its case comment, moving the events position in the same transaction.
func (a *Activities) ApplyCommentPage(ctx context.Context, ref PageRef) (store.Counters, error) {
	return a.applyStaged(ctx, ref, store.KindComments, func(ptx *store.PageTx, in *store.Integration,
		dir *mapping.Directory, body []byte) (store.Counters, error) {
		var sc stagedComments
		if err := decodeStaged(body, &sc); err != nil {
			return store.Counters{}, err
		}
		var out store.Counters
		failures := badFailures(sc.Bad)
		pp := &people{ptx: ptx, in: in, dir: dir, parties: map[int64]*mapping.Party{}}
		if err := pp.upsert(stagedUsers(sc.Users)); err != nil {
			return out, err
		}
		linked, err := ptx.InsertAndLinkComments(in.OwnerUserID, sc.Comments)
		if err != nil {
			return out, err
		}
		if err := ptx.RecordFailures(failures); err != nil {
			return out, err
		}
		out.Comments = linked
		out.Failures = int64(len(failures))
		return out, nil
	})
}

func badFailures(bad []stagedBad) []store.Failure {
	out := make([]store.Failure, 0, len(bad))
	for _, b := range bad {
		out = append(out, badFailure(b))
	}
	return out
}

func badFailure(b stagedBad) store.Failure {
	// Cleaned again here: a failure with an unstorable payload would fail its page like the record did.
	f := store.Failure{Kind: b.Kind, Reason: cleanText(b.Reason), Payload: cleanPayload(b.Raw)}
	if f.Kind == "" {
		f.Kind = "ticket"
	}
	if b.ID > 0 {
		id := b.ID
		f.ZendeskID = &id
	}
	return f
}

// unchanged says a ticket is exactly as the last sync of this generation applied it. The payload's digest decides:
// updated_at has whole-second resolution, so an edit made in the same second as the one synced before would look
// unchanged by it. Rows synced before digests were kept fall back to status and updated_at.
func unchanged(ex *store.ExistingTicket, t *zendesk.Ticket, gen int) bool {
	if ex == nil || ex.SyncGeneration != gen {
		return false
	}
	if ex.RawDigest != nil {
		return *ex.RawDigest == store.RawDigestOf(t.Raw)
	}
	return ex.Status == t.Status && sameTime(ex.OriginUpdatedAt, t.UpdatedAt)
}

func ticketRow(t zendesk.Ticket, synced json.RawMessage, gen int) store.TicketRow {
	subject := ""
	if t.Subject != nil {
		subject = *t.Subject
	}
	return store.TicketRow{ZendeskID: t.ID, URL: t.URL, Subject: subject, Description: t.Description,
		ExternalID: t.ExternalID, ProblemID: t.ProblemID, Type: t.Type, Status: t.Status, Priority: t.Priority,
		Recipient: t.Recipient, RequesterID: t.RequesterID, SubmitterID: t.SubmitterID, AssigneeID: t.AssigneeID,
		CollaboratorIDs: t.CollaboratorIDs, HasIncidents: t.HasIncidents, DueAt: t.DueAt,
		OriginCreatedAt: timePtr(t.CreatedAt), OriginUpdatedAt: timePtr(t.UpdatedAt),
		GeneratedTimestamp: t.GeneratedTimestamp, Raw: t.Raw, Synced: synced, SyncGeneration: gen,
		RawDigest: store.RawDigestOf(t.Raw)}
}

// newCase builds a case for a ticket seen for the first time (spec §4.5 step 4): CRM defaults where the ticket
// gives nothing mappable, reported at the ticket's creation, closed at its last update when it is closed.
func newCase(t zendesk.Ticket, v mapping.CaseValues) store.CaseRow {
	if !v.StatusOK {
		v.Status = mapping.DefaultCaseStatus
	}
	if !v.PriorityOK {
		v.Priority = mapping.DefaultCasePriority
	}
	cr := caseRow(0, v)
	cr.TicketID = t.ID
	cr.ReportedAt = timePtr(t.CreatedAt)
	if v.Status == mapping.CaseStatusClosed {
		cr.ClosedAt = timePtr(t.UpdatedAt)
	}
	return cr
}

func caseRow(id int64, v mapping.CaseValues) store.CaseRow {
	return store.CaseRow{ID: id, Subject: v.Subject, Description: v.Description, Status: v.Status, Priority: v.Priority,
		OwnerUserID: nonZero(v.OwnerID), AssignedToUserID: nonZero(v.AssignedToID), ContactID: nonZero(v.ContactID)}
}

func caseValues(c *store.CaseRow) mapping.CaseValues {
	return mapping.CaseValues{Subject: c.Subject, Description: c.Description, Status: c.Status, Priority: c.Priority,
		OwnerID: zeroIfNil(c.OwnerUserID), AssignedToID: zeroIfNil(c.AssignedToUserID), ContactID: zeroIfNil(c.ContactID),
		StatusOK: true, PriorityOK: true}
}

func dedupeUsers(rows []store.ZUser) []store.ZUser {
	idx := map[int64]int{}
	out := rows[:0]
	for _, r := range rows {
		if i, ok := idx[r.ZendeskID]; ok {
			out[i] = r
			continue
		}
		idx[r.ZendeskID] = len(out)
		out = append(out, r)
	}
	return out
}

func sameTime(a *time.Time, b time.Time) bool { return a != nil && a.Equal(b) }

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nullable(s string) *string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return &s
}

func nonZero(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func zeroIfNil(id *int64) int64 {
	if id == nil {
		return 0
	}
	return *id
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func pendingFields(names []string) []mapping.Field {
	fs := make([]mapping.Field, len(names))
	for i, n := range names {
		fs[i] = mapping.Field(n)
	}
	return fs
}
