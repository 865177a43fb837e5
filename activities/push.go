package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// pushBatch bounds the outbox rows one PushLocalChanges handles, so one activity stays short.
const pushBatch = 200

// pushable are the case fields a push sends to Zendesk. The description is Zendesk's first comment and cannot be
// updated; owner and contact have no single ticket field to go to without overwriting a real person.
var pushable = []mapping.Field{mapping.FieldSubject, mapping.FieldStatus, mapping.FieldPriority, mapping.FieldAssignedTo}

// PushResult says what one push step did.
type PushResult struct {
	Pushed    int
	Skipped   int
	Conflicts int
	HasMore   bool
}

// PushLocalChanges sends the recorded local changes of a two-way integration to Zendesk: per case, only the
// fields changed locally (a partial update), three-way merged against the values last synced and the ticket as
// Zendesk has it now (fetched in batches of 100), and each new case comment as a ticket comment. A closed ticket
// is never updated: the case gets a note saying why. Re-running it after a lost answer sends nothing twice.
func (a *Activities) PushLocalChanges(ctx context.Context, integrationID int64) (PushResult, error) {
	var res PushResult
	in, err := a.Store.Integration(ctx, integrationID)
	if err != nil {
		return res, err
	}
	items, err := a.Store.PendingOutbox(ctx, in.ID, pushBatch)
	if err != nil || len(items) == 0 {
		return res, err
	}
	res.HasMore = len(items) == pushBatch
	if !in.TwoWay {
		// Recorded while two-way was on, then switched off: dropped, as switching it back on pushes nothing old.
		return res, a.Store.ApplyPushed(ctx, store.Pushed{IntegrationID: in.ID, Done: ids(items)})
	}
	c, err := a.client(in)
	if err != nil {
		return res, err
	}
	stop := keepAlive(ctx)
	defer stop()

	byCase := map[int64][]store.OutboxItem{}
	var order, commentIDs []int64
	for _, it := range items {
		if _, ok := byCase[it.CaseID]; !ok {
			order = append(order, it.CaseID)
		}
		byCase[it.CaseID] = append(byCase[it.CaseID], it)
		if it.CommentID != nil {
			commentIDs = append(commentIDs, *it.CommentID)
		}
	}
	targets, err := a.Store.PushTargets(ctx, in.ID, order)
	if err != nil {
		return res, err
	}
	comments, err := a.Store.LocalComments(ctx, commentIDs)
	if err != nil {
		return res, err
	}
	var ticketIDs []int64
	for _, t := range targets {
		if t.TicketID != nil {
			ticketIDs = append(ticketIDs, *t.TicketID)
		}
	}
	fresh, err := c.ShowManyTickets(ctx, ticketIDs)
	if err != nil {
		return res, a.classify(ctx, in, "read tickets before pushing", err)
	}
	now := map[int64]*zendesk.Ticket{}
	for i := range fresh {
		now[fresh[i].ID] = &fresh[i]
	}
	dir, err := a.directory(ctx)
	if err != nil {
		return res, err
	}
	// The mirror rows written from Zendesk's answers belong to the current sync generation.
	state, err := a.Store.SyncState(ctx, in.ID)
	if err != nil {
		return res, err
	}
	for _, caseID := range order {
		its := byCase[caseID]
		t := targets[caseID]
		if t == nil || t.TicketID == nil {
			// Not published: nothing to push (publishing sends the case as it is then).
			if err := a.Store.ApplyPushed(ctx, store.Pushed{IntegrationID: in.ID, CaseID: caseID, Done: ids(its)}); err != nil {
				return res, err
			}
			res.Skipped += len(its)
			continue
		}
		n, err := a.pushCase(ctx, c, in, dir, state.Generation, t, now[*t.TicketID], its, comments)
		res.Pushed += n.Pushed
		res.Skipped += n.Skipped
		res.Conflicts += n.Conflicts
		if err != nil {
			return res, err
		}
	}
	pushes.WithLabelValues(in.Name).Add(float64(res.Pushed))
	return res, nil
}

func (a *Activities) pushCase(ctx context.Context, c *zendesk.Client, in *store.Integration, dir *mapping.Directory,
	gen int, t *store.PushTarget, remoteTicket *zendesk.Ticket, its []store.OutboxItem, comments map[int64]store.LocalComment) (PushResult, error) {
	var res PushResult
	ticketID := *t.TicketID
	if remoteTicket == nil || remoteTicket.Status == "closed" || remoteTicket.Status == mapping.TicketStatusDeleted {
		why := closedNote(ticketID)
		if remoteTicket == nil || remoteTicket.Status == mapping.TicketStatusDeleted {
			why = fmt.Sprintf("local changes not pushed: Zendesk ticket %d was deleted", ticketID)
		}
		res.Skipped = len(its)
		return res, a.Store.ApplyPushed(ctx, store.Pushed{IntegrationID: in.ID, CaseID: t.CaseID, Done: ids(its), Note: &why})
	}
	remote, err := a.derive(ctx, in, dir, remoteTicket)
	if err != nil {
		return res, err
	}
	var base mapping.CaseValues
	if len(t.Synced) > 0 && string(t.Synced) != "null" {
		if err := json.Unmarshal(t.Synced, &base); err != nil {
			return res, fmt.Errorf("case %d: values last synced: %w", t.CaseID, err)
		}
	} else {
		base = remote
	}
	local := mapping.CaseValues{Subject: t.Subject, Description: t.Description, Status: t.Status, Priority: t.Priority,
		OwnerID: zeroIfNil(t.OwnerUserID), AssignedToID: zeroIfNil(t.AssignedToID), ContactID: zeroIfNil(t.ContactID),
		StatusOK: true, PriorityOK: true}

	touched := map[mapping.Field]bool{}
	for _, it := range its {
		for _, f := range it.Fields {
			touched[mapping.Field(f)] = true
		}
	}
	var upd zendesk.TicketUpdate
	send := false
	fix := local
	fixed := false
	var conflicts []store.Conflict
	prio := mapping.Priority(in.Priority)
	for _, f := range pushable {
		if !touched[f] {
			continue
		}
		bv, lv, rv := mapping.FieldValue(f, base), mapping.FieldValue(f, local), mapping.FieldValue(f, remote)
		d := mapping.Merge3(bv, lv, rv, prio)
		if d.Conflict {
			conflicts = append(conflicts, store.Conflict{TicketID: ticketID, Field: string(f), BaseValue: &bv,
				LocalValue: &lv, RemoteValue: &rv, Winner: d.Winner})
		}
		if d.Value != lv {
			// Zendesk's value won: the case takes it (as the sync's own write, so it is not pushed back).
			mapping.CopyField(f, &fix, remote)
			fixed = true
		}
		if d.Value == rv {
			continue
		}
		ok, err := a.setUpdate(ctx, in, f, local, t, remoteTicket, &upd)
		if err != nil {
			return res, err
		}
		send = send || ok
	}
	// Comment rows whose comment is gone or already linked to a Zendesk comment are done with the fields.
	done := fieldItems(its)
	var pending []store.OutboxItem
	for _, it := range its {
		if it.CommentID == nil {
			continue
		}
		if cm, ok := comments[*it.CommentID]; ok && !cm.Linked {
			pending = append(pending, it)
		} else {
			done = append(done, it.ID)
		}
	}
	out := store.Pushed{IntegrationID: in.ID, CaseID: t.CaseID, Conflicts: conflicts, Done: done}
	if fixed {
		cr := caseRow(t.CaseID, fix)
		out.CaseFix = &cr
	}
	res.Conflicts = len(conflicts)
	if send {
		u, stopped, err := a.update(ctx, c, in, t.CaseID, ticketID, upd, &out, its)
		if err != nil || stopped {
			res.Skipped += len(its)
			return res, err
		}
		res.Pushed++
		row, err := a.mirrorOf(ctx, in, dir, gen, &u.Ticket)
		if err != nil {
			return res, err
		}
		out.Ticket = &row
	}
	if send || len(done) > 0 || fixed || len(conflicts) > 0 {
		if err := a.Store.ApplyPushed(ctx, out); err != nil {
			return res, err
		}
	}
	// Each comment is its own update, so a retry resends at most the one whose answer was lost (and finds it).
	for k, it := range pending {
		cm := comments[*it.CommentID]
		one := store.Pushed{IntegrationID: in.ID, CaseID: t.CaseID, CommentOf: cm.ID, Done: []int64{it.ID}}
		linked, err := a.alreadySent(ctx, c, in, &it, cm, ticketID)
		if err != nil {
			return res, err
		}
		if linked == nil {
			author, err := a.commentAuthor(ctx, in, cm)
			if err != nil {
				return res, err
			}
			u, stopped, err := a.update(ctx, c, in, t.CaseID, ticketID,
				zendesk.TicketUpdate{Comment: &zendesk.NewComment{Body: cm.Body, Public: cm.Public, AuthorID: author}},
				&one, pending[k:])
			if err != nil || stopped {
				res.Skipped += len(pending) - k
				return res, err
			}
			res.Pushed++
			row, err := a.mirrorOf(ctx, in, dir, gen, &u.Ticket)
			if err != nil {
				return res, err
			}
			one.Ticket = &row
			if u.AddedComment != nil {
				linked = commentRow(*u.AddedComment, ticketID)
			} else if linked, err = a.findComment(ctx, c, in, cm, ticketID, time.Now().Add(-time.Minute)); err != nil {
				return res, err
			}
		}
		one.Comment = linked
		if err := a.Store.ApplyPushed(ctx, one); err != nil {
			return res, err
		}
	}
	return res, nil
}

// update sends one partial update. A closed ticket or a refused update is not an error of the sync: the case
// gets a note saying why, the outbox rows of this step are done (stopped is true), and nothing fails.
func (a *Activities) update(ctx context.Context, c *zendesk.Client, in *store.Integration, caseID, ticketID int64,
	upd zendesk.TicketUpdate, out *store.Pushed, rest []store.OutboxItem) (*zendesk.UpdatedTicket, bool, error) {
	u, err := c.UpdateTicket(ctx, ticketID, upd)
	var closed *zendesk.ClosedTicketError
	var invalid *zendesk.InvalidRecordError
	var why string
	switch {
	case err == nil:
		clear := ""
		out.Note = &clear
		return u, false, nil
	case errors.As(err, &closed):
		why = closedNote(ticketID)
	case errors.As(err, &invalid):
		why = fmt.Sprintf("local changes not pushed: Zendesk refused them: %s", invalid.Error())
		_ = a.Store.RecordFailure(ctx, in.ID, store.Failure{Kind: "push", ZendeskID: &ticketID, Reason: why})
	default:
		return nil, false, a.classify(ctx, in, fmt.Sprintf("push case %d to ticket %d", caseID, ticketID), err)
	}
	out.Note = &why
	out.Done = append(out.Done, ids(rest)...)
	out.Ticket, out.Comment = nil, nil
	return nil, true, a.Store.ApplyPushed(ctx, *out)
}

// setUpdate puts one locally changed field into the partial update; false when Zendesk needs nothing sent.
func (a *Activities) setUpdate(ctx context.Context, in *store.Integration, f mapping.Field, local mapping.CaseValues,
	t *store.PushTarget, remote *zendesk.Ticket, upd *zendesk.TicketUpdate) (bool, error) {
	switch f {
	case mapping.FieldSubject:
		s := local.Subject
		upd.Subject = &s
		return true, nil
	case mapping.FieldStatus:
		st, send, err := mapping.TicketStatusFor(local.Status, remote.Status)
		if err != nil || !send {
			return false, nil
		}
		upd.Status = &st
		return true, nil
	case mapping.FieldPriority:
		p, send, err := mapping.TicketPriorityFor(local.Priority, remote.Priority)
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

// commentAuthor is the Zendesk user with the CRM author's email, else the Default Zendesk User, else nobody
// (the API user).
func (a *Activities) commentAuthor(ctx context.Context, in *store.Integration, cm store.LocalComment) (*int64, error) {
	for _, email := range []string{deref(cm.AuthorEmail), in.DefaultUserEmail} {
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
		return nil, a.classify(ctx, in, fmt.Sprintf("look for comment %d on ticket %d", cm.ID, ticketID), err)
	}
	for _, z := range list {
		if strings.TrimSpace(z.Body) == strings.TrimSpace(cm.Body) && !z.CreatedAt.Before(since) {
			return commentRow(z, ticketID), nil
		}
	}
	return nil, nil
}

// derive computes the case values a ticket gives, resolving its people from the mirror.
func (a *Activities) derive(ctx context.Context, in *store.Integration, dir *mapping.Directory, t *zendesk.Ticket) (mapping.CaseValues, error) {
	var v mapping.CaseValues
	err := a.Store.ReadTx(ctx, in.ID, func(ptx *store.PageTx) error {
		pp := &people{ptx: ptx, in: in, dir: dir, parties: map[int64]*mapping.Party{}}
		if err := pp.load(roleIDs(t)); err != nil {
			return err
		}
		v, _ = pp.caseValues(t)
		return nil
	})
	return v, err
}

// mirrorOf is the ticket mirror row for a ticket Zendesk just returned, with the values derived from it as the new
// base of the next three-way merge.
func (a *Activities) mirrorOf(ctx context.Context, in *store.Integration, dir *mapping.Directory, gen int,
	t *zendesk.Ticket) (store.TicketRow, error) {
	v, err := a.derive(ctx, in, dir, t)
	if err != nil {
		return store.TicketRow{}, err
	}
	synced, err := json.Marshal(v)
	if err != nil {
		return store.TicketRow{}, err
	}
	return ticketRow(*t, synced, gen), nil
}

// closedNote is the case note of a change that a closed Zendesk ticket cannot take.
func closedNote(ticketID int64) string {
	return fmt.Sprintf("local changes not pushed: Zendesk ticket %d is closed, and a closed ticket cannot be updated", ticketID)
}

func commentRow(z zendesk.Comment, ticketID int64) *store.CommentRow {
	created := z.CreatedAt
	row := &store.CommentRow{ZendeskID: z.ID, TicketID: ticketID, Body: z.Body, HTMLBody: z.HTMLBody, Public: z.Public,
		Raw: z.Raw}
	if !created.IsZero() {
		row.OriginCreatedAt = &created
	}
	if z.AuthorID > 0 {
		id := z.AuthorID
		row.AuthorID = &id
	}
	if len(row.Raw) == 0 {
		row.Raw = json.RawMessage(`{}`)
	}
	return row
}

func ids(items []store.OutboxItem) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
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
