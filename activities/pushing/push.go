package pushing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// pushBatch bounds the outbox rows one PushLocalChanges handles, so one activity stays short.
const pushBatch = 200

// pushable are the case fields a push sends to Zendesk. The description is Zendesk's first comment and cannot be
// updated; owner and contact have no single ticket field to go to without overwriting a real person.
var pushable = []mapping.Field{mapping.FieldSubject, mapping.FieldStatus, mapping.FieldPriority, mapping.FieldAssignedTo}

// PushLocalChanges sends the recorded local changes of a two-way integration to Zendesk: per case, only the
// fields changed locally (a partial update), three-way merged against the values last synced and the ticket as
// Zendesk has it now (fetched in batches of 100), and each new case comment as a ticket comment. A closed ticket
// is never updated: the case gets a note saying why. Re-running it after a lost answer sends nothing twice.
func (a *Activities) PushLocalChanges(ctx context.Context, ref contract.IntegrationRef) (contract.PushResult, error) {
	var res contract.PushResult
	in, err := a.Store.Integration(ctx, ref.IntegrationID)
	if err != nil {
		return res, err
	}
	items, err := a.Store.PendingOutbox(ctx, in.ID, pushBatch)
	if err != nil || len(items) == 0 {
		return res, err
	}
	res.HasMore = len(items) == pushBatch
	if !in.TwoWay {
		// Recorded while two-way was on, then switched off (the switch parks them itself; this catches a push that
		// raced it): parked until two-way is switched on again.
		return res, a.Store.ParkOutbox(ctx, in.ID, "two-way sync is switched off", false)
	}
	stop := activities.KeepAlive(ctx)
	defer stop()
	p, err := a.prepare(ctx, in, items)
	if err != nil {
		return res, err
	}
	for _, caseID := range p.order {
		n, err := p.pushCaseWithRereads(ctx, caseID)
		res.Pushed += n.Pushed
		res.Skipped += n.Skipped
		res.Conflicts += n.Conflicts
		if err != nil {
			failure, ok := activities.GivenUp(ctx, err)
			if !ok {
				return res, err
			}
			// This case's push fails the same way every time: recorded and set aside, so the cases after it
			// are pushed (they waited PermanentAttempts attempts of the step).
			if err := p.setAside(ctx, caseID, failure); err != nil {
				return res, err
			}
			res.Skipped += len(p.byCase[caseID])
		}
	}
	activities.ObservePushes(in.Name, res.Pushed)
	return res, nil
}

// push is one PushLocalChanges step: the integration, its Zendesk client and directory, and the outbox rows it
// handles with what they need (their cases' targets, comments, and the tickets as Zendesk has them now).
type push struct {
	a        *Activities
	c        *zendesk.Client
	in       *store.Integration
	dir      *mapping.Directory
	order    []int64 // case ids, in the order of their oldest outbox row
	byCase   map[int64][]store.OutboxItem
	targets  map[int64]*store.PushTarget
	comments map[int64]store.LocalComment
	now      map[int64]*zendesk.Ticket // by ticket id; a ticket gone from Zendesk is missing
	mapping  *mapping.Mapping          // the integration's custom field and tag mapping, nil for none
}

// prepare reads what pushing items needs, in a few batched reads.
func (a *Activities) prepare(ctx context.Context, in *store.Integration, items []store.OutboxItem) (*push, error) {
	c, err := a.Client(in)
	if err != nil {
		return nil, err
	}
	p := &push{a: a, c: c, in: in, byCase: map[int64][]store.OutboxItem{}}
	var commentIDs []int64
	for _, it := range items {
		if _, ok := p.byCase[it.CaseID]; !ok {
			p.order = append(p.order, it.CaseID)
		}
		p.byCase[it.CaseID] = append(p.byCase[it.CaseID], it)
		if it.CommentID != nil {
			commentIDs = append(commentIDs, *it.CommentID)
		}
	}
	if p.targets, err = a.Store.PushTargets(ctx, in.ID, p.order); err != nil {
		return nil, err
	}
	if p.comments, err = a.Store.LocalComments(ctx, commentIDs); err != nil {
		return nil, err
	}
	if p.now, err = a.ticketsNow(ctx, c, in, p.targets); err != nil {
		return nil, err
	}
	if p.dir, err = a.Directory(ctx); err != nil {
		return nil, err
	}
	if p.mapping, err = in.CustomMapping(); err != nil {
		return nil, err
	}
	return p, nil
}

// ticketsNow reads the published tickets of targets from Zendesk, by id.
func (a *Activities) ticketsNow(ctx context.Context, c *zendesk.Client, in *store.Integration,
	targets map[int64]*store.PushTarget) (map[int64]*zendesk.Ticket, error) {
	var ticketIDs []int64
	for _, t := range targets {
		if t.TicketID != nil {
			ticketIDs = append(ticketIDs, *t.TicketID)
		}
	}
	fresh, err := c.ShowManyTickets(ctx, ticketIDs)
	if err == nil {
		err = activities.CleanTickets(fresh)
	}
	if err != nil {
		return nil, a.Classify(ctx, in, "read tickets before pushing", err)
	}
	now := map[int64]*zendesk.Ticket{}
	for i := range fresh {
		now[fresh[i].ID] = &fresh[i]
	}
	return now, nil
}

// pushCaseWithRereads pushes one case; when Zendesk's ticket changed between our read and our update (an agent's
// edit), it reads the ticket again and merges afresh, so that edit is weighed like any other. A ticket edited
// that often is left to a retry of the activity.
func (p *push) pushCaseWithRereads(ctx context.Context, caseID int64) (contract.PushResult, error) {
	var res contract.PushResult
	its, t := p.byCase[caseID], p.targets[caseID]
	if t == nil || t.TicketID == nil {
		// Not published: nothing to push (publishing sends the case as it is then).
		res.Skipped = len(its)
		return res, p.a.Store.ApplyPushed(ctx, store.Pushed{IntegrationID: p.in.ID, CaseID: caseID, Done: ids(its)})
	}
	remoteTicket := p.now[*t.TicketID]
	for tries := 1; ; tries++ {
		n, err := p.pushCase(ctx, t, remoteTicket, its)
		res.Pushed += n.Pushed
		res.Skipped += n.Skipped
		res.Conflicts += n.Conflicts
		var stale *staleTicketError
		if !errors.As(err, &stale) {
			return res, err
		}
		if tries == staleRereads {
			return res, p.a.Classify(ctx, p.in, fmt.Sprintf("push case %d to ticket %d", caseID, stale.ticketID), stale.err)
		}
		if remoteTicket, err = p.a.reread(ctx, p.c, p.in, stale.ticketID); err != nil {
			return res, err
		}
	}
}

// setAside ends the outbox rows of a case whose push failed for good (failure, from activities.GivenUp): a push
// failure of its ticket, listed by `starter failures` with the reason, and the case's sync note say so. A later
// edit of the case is pushed afresh.
func (p *push) setAside(ctx context.Context, caseID int64, failure string) error {
	its, t := p.byCase[caseID], p.targets[caseID]
	out := store.Pushed{IntegrationID: p.in.ID, CaseID: caseID, Done: ids(its)}
	reason := activities.CleanText(fmt.Sprintf("local changes of case %d not pushed: %s", caseID, failure))
	out.Note = &reason
	if t != nil && t.TicketID != nil {
		out.TicketID = *t.TicketID
		out.Failures = []store.Failure{{Kind: store.FailurePush, ZendeskID: t.TicketID, Reason: reason}}
	}
	p.a.Log().Error("push of a case failed for good; set aside", "integration", p.in.Name, "case", caseID, "error", reason)
	if err := p.a.Store.ApplyPushed(ctx, out); err != nil {
		return fmt.Errorf("set aside the local changes of case %d: %w", caseID, err)
	}
	return nil
}

// pushCase pushes one case's outbox rows against remoteTicket: its changed fields, then its new comments.
func (p *push) pushCase(ctx context.Context, t *store.PushTarget, remoteTicket *zendesk.Ticket,
	its []store.OutboxItem) (contract.PushResult, error) {
	var res contract.PushResult
	ticketID := *t.TicketID
	if remoteTicket == nil || !mapping.TicketWritable(remoteTicket.Status) {
		why := closedNote(ticketID)
		if remoteTicket == nil || remoteTicket.Status == mapping.TicketStatusDeleted {
			why = fmt.Sprintf("local changes not pushed: Zendesk ticket %d was deleted", ticketID)
		}
		res.Skipped = len(its)
		return res, p.a.Store.ApplyPushed(ctx, store.Pushed{IntegrationID: p.in.ID, CaseID: t.CaseID, Done: ids(its), Note: &why})
	}
	out, n, stopped, err := p.pushFields(ctx, t, remoteTicket, its)
	res.Pushed, res.Conflicts = n, len(out.Conflicts)
	if err != nil {
		return res, err
	}
	if stopped {
		// The ticket is closed: everything of this case is done, with a note saying why.
		out.Done = append(out.Done, commentItems(its)...)
		res.Skipped += len(its)
		out.Synced = nil
		return res, p.a.Store.ApplyPushed(ctx, *out)
	}
	// Comment rows whose comment is gone or already linked to a Zendesk comment are done with the fields.
	var pending []store.OutboxItem
	for _, it := range its {
		if it.CommentID == nil {
			continue
		}
		if cm, ok := p.comments[*it.CommentID]; ok && !cm.Linked {
			pending = append(pending, it)
		} else {
			out.Done = append(out.Done, it.ID)
		}
	}
	if err := p.a.Store.ApplyPushed(ctx, *out); err != nil {
		return res, err
	}
	c, err := p.pushComments(ctx, t, pending)
	res.Pushed += c.Pushed
	res.Skipped += c.Skipped
	return res, err
}

// pushFields merges and sends the case's locally changed fields (mapping.PlanPush decides), and returns the local
// side of the push to apply, how many updates Zendesk took, and whether a closed ticket stopped the case.
func (p *push) pushFields(ctx context.Context, t *store.PushTarget, remoteTicket *zendesk.Ticket,
	its []store.OutboxItem) (*store.Pushed, int, bool, error) {
	ticketID := *t.TicketID
	out := &store.Pushed{IntegrationID: p.in.ID, CaseID: t.CaseID, TicketID: ticketID, Done: fieldItems(its)}
	remote, err := p.a.DeriveCase(ctx, p.in, p.dir, remoteTicket)
	if err != nil {
		return out, 0, false, err
	}
	fp, err := p.a.PlanFields(ctx, p.in, p.mapping, t, remoteTicket, remote, its)
	if err != nil {
		return out, 0, false, err
	}
	for _, c := range fp.Conflicts {
		bv, lv, rv := c.Base, c.Local, c.Remote
		out.Conflicts = append(out.Conflicts, store.Conflict{TicketID: ticketID, Field: string(c.Field), BaseValue: &bv,
			LocalValue: &lv, RemoteValue: &rv, Winner: c.Winner})
	}
	for _, f := range fp.Fixes {
		// Zendesk's value won: the case takes it (as the sync's own write, so it is not pushed back), but only if
		// the CRM has not changed the field again since it was read.
		out.CaseFix = append(out.CaseFix, store.FieldFix{Field: string(f.Field), Old: f.Old, New: f.New})
	}
	newBase := fp.NewBase
	sends := make([]fieldUpdate, 0, len(fp.Sends))
	for _, s := range fp.Sends {
		sends = append(sends, fieldUpdate{field: s.Field, upd: s.Update})
	}
	n, stopped := 0, false
	if len(sends) > 0 {
		if n, stopped, err = p.sendFields(ctx, t.CaseID, remoteTicket, sends, &newBase, out); err != nil || stopped {
			return out, n, stopped, err
		}
	}
	if out.Synced, err = json.Marshal(newBase); err != nil {
		return out, n, false, fmt.Errorf("case %d: encode the merge base: %w", t.CaseID, err)
	}
	return out, n, false, nil
}

// pushOnlyBase sets, for each push-only attribute, the merge base to Zendesk's value: Zendesk never wins such an
// attribute, so the push sends the CRM's value whenever it differs from Zendesk's (and never takes Zendesk's).
func pushOnlyBase(m *mapping.Mapping, base, remote mapping.CaseValues) mapping.CaseValues {
	for _, f := range m.Pushed() {
		if name, _ := mapping.AttributeName(f); m.PushOnly(name) {
			mapping.CopyField(f, &base, remote)
		}
	}
	return base
}

// mergeBase is the case's values as last synced with its ticket; a ticket synced before merge bases were kept
// starts from Zendesk's values.
func mergeBase(t *store.PushTarget, remote mapping.CaseValues) (mapping.CaseValues, error) {
	if len(t.Synced) == 0 || string(t.Synced) == "null" {
		return remote, nil
	}
	var base mapping.CaseValues
	if err := json.Unmarshal(t.Synced, &base); err != nil {
		return base, fmt.Errorf("case %d: values last synced: %w", t.CaseID, err)
	}
	return base, nil
}

// localValues are the case's values as the CRM has them now.
func localValues(t *store.PushTarget) mapping.CaseValues {
	return mapping.CaseValues{Subject: t.Subject, Description: t.Description, Status: t.Status, Priority: t.Priority,
		OwnerID: activities.ZeroIfNil(t.OwnerUserID), AssignedToID: activities.ZeroIfNil(t.AssignedToID),
		ContactID: activities.ZeroIfNil(t.ContactID), StatusOK: true, PriorityOK: true,
		Attributes: mapping.AttributesOf(t.Attributes)}
}

// touchedFields are the fields the outbox rows say the CRM changed.
func touchedFields(its []store.OutboxItem) map[mapping.Field]bool {
	touched := map[mapping.Field]bool{}
	for _, it := range its {
		for _, f := range it.Fields {
			touched[mapping.Field(f)] = true
		}
	}
	return touched
}

// pushComments sends each pending comment as its own update, so a retry resends at most the one whose answer was
// lost (and finds it). A comment Zendesk refuses is recorded as a failure and the next one is still sent; a
// closed ticket ends the case's comments with a note.
func (p *push) pushComments(ctx context.Context, t *store.PushTarget, pending []store.OutboxItem) (contract.PushResult, error) {
	var res contract.PushResult
	ticketID := *t.TicketID
	for k, it := range pending {
		cm := p.comments[*it.CommentID]
		one := store.Pushed{IntegrationID: p.in.ID, CaseID: t.CaseID, TicketID: ticketID, CommentOf: cm.ID,
			Done: []int64{it.ID}}
		linked, err := p.a.alreadySent(ctx, p.c, p.in, &it, cm, ticketID)
		if err != nil {
			return res, err
		}
		if linked == nil {
			var refusal *string
			linked, refusal, err = p.sendComment(ctx, t.CaseID, ticketID, cm)
			var closed *zendesk.ClosedTicketError
			switch {
			case errors.As(err, &closed):
				why := closedNote(ticketID)
				rest := store.Pushed{IntegrationID: p.in.ID, CaseID: t.CaseID, Done: ids(pending[k:]), Note: &why}
				res.Skipped += len(pending) - k
				return res, p.a.Store.ApplyPushed(ctx, rest)
			case err != nil:
				return res, err
			case refusal != nil:
				one.Failures = []store.Failure{{Kind: store.FailurePush, ZendeskID: &ticketID, Reason: *refusal}}
				one.CommentOf, one.Note = 0, refusal
				res.Skipped++
				if err := p.a.Store.ApplyPushed(ctx, one); err != nil {
					return res, err
				}
				continue
			}
			res.Pushed++
		}
		one.Comment = linked
		if err := p.a.Store.ApplyPushed(ctx, one); err != nil {
			return res, err
		}
	}
	return res, nil
}

// sendComment posts one local comment to the ticket and returns the mirror row of what Zendesk made of it (nil if
// Zendesk's answer does not show it and it cannot be found). A comment Zendesk refuses returns the reason; a closed
// ticket returns its *zendesk.ClosedTicketError.
func (p *push) sendComment(ctx context.Context, caseID, ticketID int64, cm store.LocalComment) (*store.CommentRow, *string, error) {
	author, err := p.a.commentAuthor(ctx, p.in, cm)
	if err != nil {
		return nil, nil, err
	}
	u, err := p.c.UpdateTicket(ctx, ticketID,
		zendesk.TicketUpdate{Comment: &zendesk.NewComment{Body: cm.Body, Public: cm.Public, AuthorID: author}})
	var closed *zendesk.ClosedTicketError
	var invalid *zendesk.InvalidRecordError
	switch {
	case err == nil:
	case errors.As(err, &closed):
		return nil, nil, err
	case errors.As(err, &invalid):
		why := fmt.Sprintf("case %d: comment %d not pushed to ticket %d: Zendesk refused it: %s", caseID, cm.ID,
			ticketID, invalid.Error())
		return nil, &why, nil
	default:
		return nil, nil, p.a.Classify(ctx, p.in, fmt.Sprintf("push comment %d of case %d to ticket %d", cm.ID, caseID,
			ticketID), err)
	}
	if u.AddedComment != nil {
		return activities.AnsweredComment(*u.AddedComment, ticketID), nil, nil
	}
	linked, err := p.a.findComment(ctx, p.c, p.in, cm, ticketID, time.Now().Add(-time.Minute))
	return linked, nil, err
}

// staleRereads bounds how often one push reads a ticket again after Zendesk refused a safe update of it.
const staleRereads = 3

// staleTicketError: Zendesk refused a safe update because the ticket changed after the push read it.
type staleTicketError struct {
	ticketID int64
	err      error
}

func (e *staleTicketError) Error() string {
	return fmt.Sprintf("ticket %d changed in Zendesk since it was read: %v", e.ticketID, e.err)
}

func (e *staleTicketError) Unwrap() error { return e.err }

// reread reads one ticket again; a ticket gone from Zendesk is nil, as show_many leaves it out.
func (a *Activities) reread(ctx context.Context, c *zendesk.Client, in *store.Integration, ticketID int64) (*zendesk.Ticket, error) {
	tk, err := c.ShowTicket(ctx, ticketID)
	var nf *zendesk.NotFoundError
	switch {
	case errors.As(err, &nf):
		return nil, nil
	case err == nil:
		err = activities.CleanTicket(tk)
	}
	if err != nil {
		return nil, a.Classify(ctx, in, fmt.Sprintf("read ticket %d again before pushing", ticketID), err)
	}
	return tk, nil
}

// fieldUpdate is one field's part of a partial update.
type fieldUpdate struct {
	field mapping.Field
	upd   zendesk.TicketUpdate
}

// merged is the partial update carrying every field of us.
func merged(us []fieldUpdate) zendesk.TicketUpdate {
	var m zendesk.TicketUpdate
	for _, u := range us {
		if u.upd.Subject != nil {
			m.Subject = u.upd.Subject
		}
		if u.upd.Status != nil {
			m.Status = u.upd.Status
		}
		if u.upd.Priority != nil {
			m.Priority = u.upd.Priority
		}
		if u.upd.AssigneeID != nil {
			m.AssigneeID = u.upd.AssigneeID
		}
		m.CustomFields = append(m.CustomFields, u.upd.CustomFields...)
		m.AdditionalTags = append(m.AdditionalTags, u.upd.AdditionalTags...)
		m.RemoveTags = append(m.RemoveTags, u.upd.RemoveTags...)
	}
	return m
}

// sendFields sends the locally changed fields as one partial update. When Zendesk refuses it (a 422 such as "type
// is required when solving"), each field is sent on its own, so one refused field never holds back the others:
// a refused field is recorded as a failure with Zendesk's reason and keeps its old merge base. The merge base of
// each accepted field takes the value Zendesk answered with. A closed ticket stops the case (stopped is true).
// Every update is a safe update against the ticket the merge was decided from: if Zendesk's ticket changed since,
// Zendesk answers 409 and a *staleTicketError says to read it again and merge afresh. Other errors (5xx, network)
// are returned for the activity to be retried.
func (p *push) sendFields(ctx context.Context, caseID int64, remoteTicket *zendesk.Ticket, sends []fieldUpdate,
	newBase *mapping.CaseValues, out *store.Pushed) (int, bool, error) {
	ticketID, stamp := remoteTicket.ID, remoteTicket.UpdatedAt
	pushed := 0
	groups := [][]fieldUpdate{sends}
	var refused []string
	for len(groups) > 0 {
		g := groups[0]
		groups = groups[1:]
		upd := merged(g)
		upd.SafeStamp = stamp
		u, err := p.c.UpdateTicket(ctx, ticketID, upd)
		var closed *zendesk.ClosedTicketError
		var invalid *zendesk.InvalidRecordError
		var conflict *zendesk.ConflictError
		switch {
		case errors.As(err, &conflict):
			return pushed, false, &staleTicketError{ticketID: ticketID, err: err}
		case err == nil:
			pushed++
			out.Sent = append(out.Sent, sentUpdate(remoteTicket, upd, acceptedAnswer(u)))
			// The next field of a split update is checked against the ticket as this update left it.
			stamp = u.Ticket.UpdatedAt
			answer, err := p.a.DeriveCase(ctx, p.in, p.dir, &u.Ticket)
			if err != nil {
				return pushed, false, err
			}
			for _, f := range g {
				mapping.CopyField(f.field, newBase, answer)
			}
		case errors.As(err, &closed):
			why := closedNote(ticketID)
			out.Note = &why
			out.CaseFix = nil // the case keeps its values; nothing was reconciled
			return pushed, true, nil
		case errors.As(err, &invalid) && len(g) > 1:
			for _, f := range g {
				groups = append(groups, []fieldUpdate{f})
			}
		case errors.As(err, &invalid):
			out.Sent = append(out.Sent, sentUpdate(remoteTicket, upd, "refused: "+invalid.Error()))
			refused = append(refused, fmt.Sprintf("%s not pushed: Zendesk refused it: %s", g[0].field, invalid.Error()))
		default:
			return pushed, false, p.a.Classify(ctx, p.in, fmt.Sprintf("push case %d to ticket %d", caseID, ticketID), err)
		}
	}
	if len(refused) == 0 {
		clear := ""
		out.Note = &clear
		out.ResolvePush = true
		return pushed, false, nil
	}
	why := fmt.Sprintf("case %d, ticket %d: %s", caseID, ticketID, strings.Join(refused, "; "))
	out.Note = &why
	out.Failures = append(out.Failures, store.Failure{Kind: store.FailurePush, ZendeskID: &ticketID, Reason: why})
	return pushed, false, nil
}

// setUpdate puts one locally changed field into the partial update; false when Zendesk needs nothing sent.
func (a *Activities) setUpdate(ctx context.Context, in *store.Integration, m *mapping.Mapping, f mapping.Field,
	local mapping.CaseValues, t *store.PushTarget, remote *zendesk.Ticket, upd *zendesk.TicketUpdate) (bool, error) {
	if name, ok := mapping.AttributeName(f); ok {
		return a.setAttribute(in, m, name, local, t.CaseID, upd), nil
	}
	switch f {
	case mapping.FieldSubject:
		s := local.Subject
		upd.Subject = &s
		return true, nil
	case mapping.FieldStatus:
		st, send, err := m.TicketStatusFor(local.Status, remote.Status)
		if err != nil || !send {
			return false, nil
		}
		upd.Status = &st
		return true, nil
	case mapping.FieldPriority:
		p, send, err := m.TicketPriorityFor(local.Priority, remote.Priority)
		if err != nil || !send {
			return false, nil
		}
		upd.Priority = &p
		return true, nil
	case mapping.FieldAssignedTo:
		if t.AssignedToEmail == nil {
			return false, nil
		}
		id, ok, err := a.Store.ZendeskUserIDByEmail(ctx, in.ID, *t.AssignedToEmail, true)
		if err != nil {
			return false, err
		}
		if !ok && in.DefaultUserEmail != "" {
			// Nobody in Zendesk has this agent's email: the Default Zendesk User stands in, but only when the
			// ticket has no real assignee to overwrite.
			if remote.AssigneeID != nil {
				return false, nil
			}
			id, ok, err = a.Store.ZendeskUserIDByEmail(ctx, in.ID, in.DefaultUserEmail, false)
			if err != nil {
				return false, err
			}
		}
		if !ok || (remote.AssigneeID != nil && *remote.AssigneeID == id) {
			return false, nil
		}
		upd.AssigneeID = &id
		return true, nil
	}
	return false, nil
}

// setAttribute puts an attribute's custom field value or tag changes into the partial update. A value the mapping
// cannot express in Zendesk (a tag choice without that value) is not sent: it is logged, and the next import of the
// ticket shows the case Zendesk's value again.
func (a *Activities) setAttribute(in *store.Integration, m *mapping.Mapping, name string, local mapping.CaseValues,
	caseID int64, upd *zendesk.TicketUpdate) bool {
	ch, err := m.PushAttribute(name, mapping.FieldValue(mapping.AttributeField(name), local))
	if err != nil {
		a.Log().Warn("case attribute not pushed", "integration", in.Name, "case", caseID, "attribute", name,
			"error", err)
		return false
	}
	for _, cf := range ch.CustomFields {
		upd.CustomFields = append(upd.CustomFields, zendesk.CustomField{ID: cf.ID, Value: cf.Value})
	}
	upd.AdditionalTags = append(upd.AdditionalTags, ch.AddTags...)
	upd.RemoveTags = append(upd.RemoveTags, ch.RemoveTags...)
	return !ch.Empty()
}

// commentAuthor is the Zendesk user with the CRM author's email, else the Default Zendesk User, else nobody
// (the API user).
func (a *Activities) commentAuthor(ctx context.Context, in *store.Integration, cm store.LocalComment) (*int64, error) {
	for _, email := range []string{activities.Deref(cm.AuthorEmail), in.DefaultUserEmail} {
		if email == "" {
			continue
		}
		id, ok, err := a.Store.ZendeskUserIDByEmail(ctx, in.ID, email, false)
		if err != nil {
			return nil, err
		}
		if ok {
			return &id, nil
		}
	}
	return nil, nil
}

// alreadySent makes comment pushes exactly-once: before sending, the outbox row is marked; a retry that finds the
// mark looks for the comment in Zendesk (same body, posted since the mark) and links it instead of sending again.
func (a *Activities) alreadySent(ctx context.Context, c *zendesk.Client, in *store.Integration, it *store.OutboxItem,
	cm store.LocalComment, ticketID int64) (*store.CommentRow, error) {
	if it.SendingAt == nil {
		_, err := a.Store.MarkSending(ctx, it.ID)
		return nil, err
	}
	return a.findComment(ctx, c, in, cm, ticketID, it.SendingAt.Add(-time.Minute))
}

// findComment looks for a local comment among the ticket's Zendesk comments posted since a time.
func (a *Activities) findComment(ctx context.Context, c *zendesk.Client, in *store.Integration, cm store.LocalComment,
	ticketID int64, since time.Time) (*store.CommentRow, error) {
	list, err := c.TicketComments(ctx, ticketID)
	if err != nil {
		return nil, a.Classify(ctx, in, fmt.Sprintf("look for comment %d on ticket %d", cm.ID, ticketID), err)
	}
	for _, z := range list {
		if strings.TrimSpace(z.Body) == strings.TrimSpace(cm.Body) && !z.CreatedAt.Before(since) {
			return activities.AnsweredComment(z, ticketID), nil
		}
	}
	return nil, nil
}

// closedNote is the case note of a change that a closed Zendesk ticket cannot take.
func closedNote(ticketID int64) string {
	return fmt.Sprintf("local changes not pushed: Zendesk ticket %d is closed, and a closed ticket cannot be updated", ticketID)
}

func ids(items []store.OutboxItem) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func commentItems(items []store.OutboxItem) []int64 {
	var out []int64
	for _, it := range items {
		if it.CommentID != nil {
			out = append(out, it.ID)
		}
	}
	return out
}

func fieldItems(items []store.OutboxItem) []int64 {
	var out []int64
	for _, it := range items {
		if it.CommentID == nil {
			out = append(out, it.ID)
		}
	}
	return out
}
