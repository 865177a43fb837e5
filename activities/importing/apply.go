package importing

import (
	"context"
	"errors"
	"time"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// ApplyTicketPage maps a staged ticket page (users to CRM users and contacts, statuses, priorities), resolves
// conflicts with local case edits and upserts cases, tickets and users, moving the cursor in the same
// transaction. A retry after a lost completion finds the page applied and changes nothing.
func (a *Activities) ApplyTicketPage(ctx context.Context, ref contract.PageRef) (store.Counters, error) {
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

// applyAfter applies the page ref names (store.ApplyPageAfter). When its apply came first, before the apply of the
// page before it committed (a pipelined stream schedules both at once), it waits for that one here, a little at a
// time, and only after a few seconds (that apply failing and retrying) gives up for the activity to be retried.
func (a *Activities) applyAfter(ctx context.Context, integrationID int64, kind string, ref contract.PageRef,
	apply func(ptx *store.PageTx, page *store.Page) (store.Counters, error)) (store.Counters, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := a.Store.ApplyPageAfter(ctx, integrationID, kind, ref.Generation, ref.From, ref.After, apply)
		if !errors.Is(err, store.ErrPageNotNext) || time.Now().After(deadline) {
			return c, err
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// applyStaged applies one staged page of either stream exactly once (store.ApplyPage) and counts it.
func (a *Activities) applyStaged(ctx context.Context, ref contract.PageRef, kind string,
	fn func(ptx *store.PageTx, in *store.Integration, dir *mapping.Directory, body []byte) (store.Counters, error)) (store.Counters, error) {
	in, err := a.Store.Integration(ctx, ref.IntegrationID)
	if err != nil {
		return store.Counters{}, err
	}
	dir, err := a.Directory(ctx)
	if err != nil {
		return store.Counters{}, err
	}
	// Applying may wait for the sync-state lock or write a large page: heartbeat so the heartbeat timeout only
	// catches a lost worker, never a slow apply.
	stop := activities.KeepAlive(ctx)
	defer stop()
	apply := func(ptx *store.PageTx, page *store.Page) (c store.Counters, err error) {
		err = a.Guard(func() (err error) {
			if a.BeforeApply != nil {
				a.BeforeApply(kind)
			}
			c, err = fn(ptx, in, dir, page.Body)
			return err
		})
		return c, err
	}
	c, err := a.applyAfter(ctx, in.ID, kind, ref, apply)
	if errors.Is(err, store.ErrPageMissing) || errors.Is(err, errStagedFormat) {
		// (A page staged in another format, by an older worker, is fetched again the same way.)
		// The page was fetched, but its staged copy is gone while the stream still stands at its start:
		// sync_pages is UNLOGGED, so a PostgreSQL crash or failover empties it. Waiting cannot bring it back, so
		// the page is fetched again from Zendesk here, staged, and applied. If Zendesk's answer moved on meanwhile,
		// the page ends elsewhere than the workflow was told: the pages it fetched next then no longer fit the
		// position (stale, or taken for applied), the pass ends early, and the next pass goes on from the
		// position PostgreSQL holds. Nothing is lost or applied twice; the workflow needs no change.
		a.Log().Warn("staged page lost (database crash or failover?): fetching it again", "integration", in.Name,
			"kind", kind, "from", ref.From)
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
		activities.ObservePage(in.Name, kind, c)
	}
	return c, a.Classify(ctx, in, "apply "+kind+" page", err)
}

func (a *Activities) applyTickets(ptx *store.PageTx, in *store.Integration, dir *mapping.Directory, st *stagedTickets) (store.Counters, error) {
	var out store.Counters
	failures := badFailures(st.Bad)
	tickets := st.tickets()
	pp := activities.NewPeople(ptx, in, dir)
	if err := pp.Upsert(stagedUsers(st.Users)); err != nil {
		return out, err
	}
	var refs, ids []int64
	for i := range tickets {
		ids = append(ids, tickets[i].ID)
		refs = append(refs, activities.RoleIDs(&tickets[i])...)
	}
	if err := pp.Load(refs); err != nil {
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
	rules, err := RulesFor(in, ptx.State.Generation)
	if err != nil {
		return out, err
	}
	w, err := a.translateTickets(in.Name, tickets, existing, pp.CaseValues, rules)
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
	rows []store.TicketRow
	// fresh[i] says rows[i] is a ticket not mirrored yet: those rows are COPYed, the others upserted.
	fresh                  []bool
	newCases, changedCases []store.CaseRow
	conflicts              []store.Conflict
}

// translateTickets translates a page's tickets (translateTicket) and gathers their rows.
func (a *Activities) translateTickets(integration string, tickets []zendesk.Ticket,
	existing map[int64]*store.ExistingTicket, derive deriveFunc, r importRules) (ticketWrites, error) {
	var w ticketWrites
	for i := range tickets {
		t := &tickets[i]
		tr, err := translateTicket(t, existing[t.ID], derive, r)
		if err != nil {
			return w, err
		}
		for _, warning := range tr.Warnings {
			a.Log().Warn("ticket mapped with a warning", "integration", integration, "ticket", t.ID, "warning", warning)
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
		w.fresh = append(w.fresh, existing[t.ID] == nil)
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
	if err := ptx.SetCaseAttributes(w.attributes(ids2cases)); err != nil {
		return 0, err
	}
	var fresh, known []store.TicketRow
	for i := range w.rows {
		if w.fresh[i] {
			fresh = append(fresh, w.rows[i])
		} else {
			known = append(known, w.rows[i])
		}
	}
	if err := ptx.InsertNewTickets(fresh); err != nil {
		return 0, err
	}
	if err := ptx.UpsertTickets(known); err != nil {
		return 0, err
	}
	if err := ptx.RecordCaseConflicts(w.conflicts); err != nil {
		return 0, err
	}
	return int64(len(ids2cases)), nil
}

// attributes are the attributes columns to write: those of the new cases (by the ids they were given) and of the
// changed ones, for cases whose values carry attributes.
func (w *ticketWrites) attributes(ids2cases map[int64]int64) map[int64][]byte {
	out := map[int64][]byte{}
	for _, c := range w.newCases {
		if id, ok := ids2cases[c.TicketID]; ok && c.Attributes != nil {
			out[id] = c.Attributes
		}
	}
	for _, c := range w.changedCases {
		if c.Attributes != nil {
			out[c.ID] = c.Attributes
		}
	}
	return out
}

// ApplyCommentPage mirrors a staged page of comments (and their authors) and gives each comment whose ticket has
// a case its case comment, moving the events position in the same transaction.
func (a *Activities) ApplyCommentPage(ctx context.Context, ref contract.PageRef) (store.Counters, error) {
	return a.applyStaged(ctx, ref, store.KindComments, func(ptx *store.PageTx, in *store.Integration,
		dir *mapping.Directory, body []byte) (store.Counters, error) {
		var sc stagedComments
		if err := decodeStaged(body, &sc); err != nil {
			return store.Counters{}, err
		}
		var out store.Counters
		failures := badFailures(sc.Bad)
		pp := activities.NewPeople(ptx, in, dir)
		if err := pp.Upsert(stagedUsers(sc.Users)); err != nil {
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
	f := store.Failure{Kind: b.Kind, Reason: activities.CleanText(b.Reason), Payload: activities.CleanPayload(b.Raw)}
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

// older says the ticket is an older version than the one this generation mirrors. Tickets now also arrive by id
// (webhooks) besides the export, and an export answer read before a webhook's fetch, or lagging behind it, must
// not take the case back to what it was. updated_at only moves forward in Zendesk; an equal one is not older.
func older(ex *store.ExistingTicket, t *zendesk.Ticket, gen int) bool {
	return ex != nil && ex.SyncGeneration == gen && ex.OriginUpdatedAt != nil && t.UpdatedAt.Before(*ex.OriginUpdatedAt)
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
	cr.ReportedAt = activities.TimePtr(t.CreatedAt)
	if v.Status == mapping.CaseStatusClosed {
		cr.ClosedAt = activities.TimePtr(t.UpdatedAt)
	}
	return cr
}

func caseRow(id int64, v mapping.CaseValues) store.CaseRow {
	cr := store.CaseRow{ID: id, Subject: v.Subject, Description: v.Description, Status: v.Status, Priority: v.Priority,
		OwnerUserID: activities.NonZero(v.OwnerID), AssignedToUserID: activities.NonZero(v.AssignedToID), ContactID: activities.NonZero(v.ContactID)}
	if v.Attributes != nil {
		cr.Attributes = mapping.AttributesJSON(v.Attributes)
	}
	return cr
}

func caseValues(c *store.CaseRow) mapping.CaseValues {
	return mapping.CaseValues{Subject: c.Subject, Description: c.Description, Status: c.Status, Priority: c.Priority,
		OwnerID: activities.ZeroIfNil(c.OwnerUserID), AssignedToID: activities.ZeroIfNil(c.AssignedToUserID), ContactID: activities.ZeroIfNil(c.ContactID),
		StatusOK: true, PriorityOK: true, Attributes: mapping.AttributesOf(c.Attributes)}
}

func sameTime(a *time.Time, b time.Time) bool { return a != nil && a.Equal(b) }

func pendingFields(names []string) []mapping.Field {
	fs := make([]mapping.Field, len(names))
	for i, n := range names {
		fs[i] = mapping.Field(n)
	}
	return fs
}
