package importing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		if err := json.Unmarshal(body, &st); err != nil {
			return store.Counters{}, fmt.Errorf("decode staged ticket page: %w", err)
		}
		c, err := a.applyTickets(ptx, in, dir, &st)
		if err != nil {
			return c, err
		}
		// Only the page stream notes how far it has read: the point a refused cursor restarts from.
		return c, ptx.NoteTicketsGenerated(st.generatedMax)
	})
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
	c, err := a.Store.ApplyPage(ctx, in.ID, kind, ref.Generation, ref.From, apply)
	if errors.Is(err, store.ErrPageMissing) {
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

// decodeUsers decodes staged users; one that cannot be read becomes a failure, not a lost page.
func decodeUsers(raws []json.RawMessage, failures *[]store.Failure) []zendesk.User {
	users := make([]zendesk.User, 0, len(raws))
	for _, raw := range raws {
		var u zendesk.User
		if err := json.Unmarshal(raw, &u); err != nil {
			*failures = append(*failures, badFailure(stagedBad{Kind: "user", Reason: err.Error(), Raw: raw}))
			continue
		}
		users = append(users, u)
	}
	return users
}

func (a *Activities) applyTickets(ptx *store.PageTx, in *store.Integration, dir *mapping.Directory, st *stagedTickets) (store.Counters, error) {
	var out store.Counters
	var failures []store.Failure
	for _, b := range st.Bad {
		failures = append(failures, badFailure(b))
	}
	// A ticket can appear twice in one page only if Zendesk repeats it; the last copy is the newest.
	byID := map[int64]int{}
	var tickets []zendesk.Ticket
	for _, raw := range st.Tickets {
		var t zendesk.Ticket
		if err := json.Unmarshal(raw, &t); err != nil {
			failures = append(failures, badFailure(stagedBad{Kind: "ticket", Reason: err.Error(), Raw: raw}))
			continue
		}
		st.generatedMax = max(st.generatedMax, t.GeneratedTimestamp)
		if i, ok := byID[t.ID]; ok {
			tickets[i] = t
			continue
		}
		byID[t.ID] = len(tickets)
		tickets = append(tickets, t)
	}
	pp := activities.NewPeople(ptx, in, dir)
	if err := pp.Upsert(decodeUsers(st.Users, &failures)); err != nil {
		return out, err
	}
	var refs, ids []int64
	for _, t := range tickets {
		ids = append(ids, t.ID)
		refs = append(refs, activities.RoleIDs(&t)...)
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
	gen := ptx.State.Generation
	prio := mapping.Priority(in.Priority)
	var rows []store.TicketRow
	var newCases, changedCases []store.CaseRow
	type caseConflict struct {
		caseID int64
		c      store.Conflict
	}
	var conflicts []caseConflict
	conflictRecord := func(caseID, ticketID int64, fc mapping.FieldConflict) caseConflict {
		base, local, remote := fc.Base, fc.Local, fc.Remote
		return caseConflict{caseID, store.Conflict{TicketID: ticketID, Field: string(fc.Field), BaseValue: &base,
			LocalValue: &local, RemoteValue: &remote, Winner: fc.Winner}}
	}
	for _, t := range tickets {
		ex := existing[t.ID]
		if unchanged(ex, &t, gen) {
			continue // unchanged since the last sync: nothing is written
		}
		next, warnings := pp.CaseValues(&t)
		for _, w := range warnings {
			a.Log().Warn("ticket mapped with a warning", "integration", in.Name, "ticket", t.ID, "warning", w)
		}
		synced, err := json.Marshal(next)
		if err != nil {
			return out, err
		}
		row := activities.TicketRow(t, synced, gen)
		out.Tickets++
		switch {
		case ex == nil || ex.Case == nil:
			create, _ := mapping.CaseForDeleted(ex == nil)
			if t.Status == mapping.TicketStatusDeleted && !create {
				break
			}
			if ex != nil && ex.CaseDeletedAt != nil {
				// The case was deleted in the CRM on purpose: it stays deleted (not re-created), the ticket is
				// still mirrored, and the integration's failures say so (a trigger records it at the deletion).
				break
			}
			newCases = append(newCases, newCase(t, next))
		default:
			current := caseValues(ex.Case)
			var base *mapping.CaseValues
			if len(ex.Synced) > 0 && string(ex.Synced) != "null" {
				var b mapping.CaseValues
				if err := json.Unmarshal(ex.Synced, &b); err == nil {
					base = &b
				}
			}
			var merged mapping.CaseValues
			var changed []mapping.Field
			if in.TwoWay {
				var fcs []mapping.FieldConflict
				var deferred []mapping.Field
				next, deferred = mapping.DeferToPush(current, base, next, pendingFields(ex.PendingFields))
				if len(deferred) > 0 {
					// The merge base keeps the deferred fields' old values: the push merges them against it.
					if row.Synced, err = json.Marshal(next); err != nil {
						return out, err
					}
				}
				merged, changed, fcs = mapping.MergeTwoWay(current, base, next, prio)
				for _, fc := range fcs {
					conflicts = append(conflicts, conflictRecord(ex.Case.ID, t.ID, fc))
				}
			} else {
				merged, changed = mapping.MergeImport(current, base, next, prio)
			}
			if len(changed) > 0 {
				cr := caseRow(ex.Case.ID, merged)
				if merged.Status == mapping.CaseStatusClosed && current.Status != mapping.CaseStatusClosed {
					cr.ClosedAt = activities.TimePtr(t.UpdatedAt)
				}
				changedCases = append(changedCases, cr)
			}
		}
		rows = append(rows, row)
	}
	ids2cases, err := ptx.CreateCases(newCases)
	if err != nil {
		return out, err
	}
	var withCase []int64
	for i := range rows {
		if id, ok := ids2cases[rows[i].ZendeskID]; ok {
			id := id
			rows[i].CaseID = &id
			withCase = append(withCase, rows[i].ZendeskID)
		}
	}
	// A ticket that has a case again (its mirror row was removed and it synced anew) is no longer "case deleted".
	if err := ptx.ResolveFailures(store.FailureCaseDeleted, withCase); err != nil {
		return out, err
	}
	if err := ptx.UpdateCases(changedCases); err != nil {
		return out, err
	}
	if err := ptx.UpsertTickets(rows); err != nil {
		return out, err
	}
	for _, c := range conflicts {
		if err := ptx.RecordConflicts(c.caseID, []store.Conflict{c.c}); err != nil {
			return out, err
		}
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
	out.CasesCreated = int64(len(ids2cases))
	out.CasesUpdated = int64(len(changedCases))
	out.Comments = linked
	out.Failures = int64(len(failures))
	return out, nil
}

// ApplyCommentPage mirrors a staged page of comments (and their authors) and gives each comment whose ticket has
// a case its case comment, moving the events position in the same transaction.
func (a *Activities) ApplyCommentPage(ctx context.Context, ref contract.PageRef) (store.Counters, error) {
	return a.applyStaged(ctx, ref, store.KindComments, func(ptx *store.PageTx, in *store.Integration,
		dir *mapping.Directory, body []byte) (store.Counters, error) {
		var sc stagedComments
		if err := json.Unmarshal(body, &sc); err != nil {
			return store.Counters{}, fmt.Errorf("decode staged comment page: %w", err)
		}
		var out store.Counters
		var failures []store.Failure
		for _, b := range sc.Bad {
			failures = append(failures, badFailure(b))
		}
		pp := activities.NewPeople(ptx, in, dir)
		if err := pp.Upsert(decodeUsers(sc.Users, &failures)); err != nil {
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
	return store.CaseRow{ID: id, Subject: v.Subject, Description: v.Description, Status: v.Status, Priority: v.Priority,
		OwnerUserID: activities.NonZero(v.OwnerID), AssignedToUserID: activities.NonZero(v.AssignedToID), ContactID: activities.NonZero(v.ContactID)}
}

func caseValues(c *store.CaseRow) mapping.CaseValues {
	return mapping.CaseValues{Subject: c.Subject, Description: c.Description, Status: c.Status, Priority: c.Priority,
		OwnerID: activities.ZeroIfNil(c.OwnerUserID), AssignedToID: activities.ZeroIfNil(c.AssignedToUserID), ContactID: activities.ZeroIfNil(c.ContactID),
		StatusOK: true, PriorityOK: true}
}

func sameTime(a *time.Time, b time.Time) bool { return a != nil && a.Equal(b) }

func pendingFields(names []string) []mapping.Field {
	fs := make([]mapping.Field, len(names))
	for i, n := range names {
		fs[i] = mapping.Field(n)
	}
	return fs
}
