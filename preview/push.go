package preview

import (
	"context"
	"fmt"
	"math"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// pushes plans the push of a two-way integration's pending local changes as the pass's push would make it, after
// its import: the tickets are read as the push reads them (show_many, 100 a request), each case is merged with
// pushing.PlanFields from the values and merge base the import would leave.
func (r *run) pushes(ctx context.Context) ([]CasePlan, error) {
	if !r.in.TwoWay {
		return nil, nil
	}
	items, err := r.d.Store.PendingOutbox(ctx, r.in.ID, math.MaxInt32)
	if err != nil || len(items) == 0 {
		return nil, err
	}
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
	targets, err := r.d.Store.PushTargets(ctx, r.in.ID, order)
	if err != nil {
		return nil, err
	}
	comments, err := r.d.Store.LocalComments(ctx, commentIDs)
	if err != nil {
		return nil, err
	}
	now, err := r.ticketsNow(ctx, targets)
	if err != nil {
		return nil, err
	}
	out := make([]CasePlan, 0, len(order))
	for _, caseID := range order {
		p, err := r.planPush(ctx, caseID, byCase[caseID], targets[caseID], now, comments)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ticketsNow reads the targets' tickets from Zendesk with the push's request, and resolves their people.
func (r *run) ticketsNow(ctx context.Context, targets map[int64]*store.PushTarget) (map[int64]*zendesk.Ticket, error) {
	var ids, refs []int64
	for _, t := range targets {
		if t.TicketID != nil {
			ids = append(ids, *t.TicketID)
		}
	}
	fresh, err := r.d.Client.ShowManyTickets(ctx, ids)
	if err == nil {
		err = activities.CleanTickets(fresh) // as the push reads them
	}
	if err != nil {
		return nil, fmt.Errorf("integration %q: read the tickets to push to: %w", r.in.Name, err)
	}
	now := make(map[int64]*zendesk.Ticket, len(fresh))
	for i := range fresh {
		now[fresh[i].ID] = &fresh[i]
		refs = append(refs, activities.RoleIDs(&fresh[i])...)
	}
	return now, r.d.Store.ReadOnlyTx(ctx, r.in.ID, func(ptx *store.PageTx) error { return r.pp.load(ptx, refs) })
}

// planPush is what the push would do for one case with pending local changes.
func (r *run) planPush(ctx context.Context, caseID int64, its []store.OutboxItem, target *store.PushTarget,
	now map[int64]*zendesk.Ticket, comments map[int64]store.LocalComment) (CasePlan, error) {
	id := caseID
	plan := CasePlan{CaseID: &id, Action: ActionNone, Changes: map[string]Change{}}
	for _, it := range its {
		if it.CommentID == nil {
			continue
		}
		if cm, ok := comments[*it.CommentID]; ok && !cm.Linked {
			plan.Comments++
		}
	}
	if target == nil || target.TicketID == nil {
		plan.Comments = 0
		plan.Note = "not published to Zendesk: nothing to push (`starter case publish` sends the case as it is)"
		return plan, nil
	}
	plan.TicketID = *target.TicketID
	remoteTicket := now[plan.TicketID]
	if remoteTicket == nil || !mapping.TicketWritable(remoteTicket.Status) {
		plan.Comments = 0
		plan.Note = fmt.Sprintf("not pushed: Zendesk ticket %d is closed, and a closed ticket cannot be updated", plan.TicketID)
		if remoteTicket == nil || remoteTicket.Status == mapping.TicketStatusDeleted {
			plan.Note = fmt.Sprintf("not pushed: Zendesk ticket %d was deleted", plan.TicketID)
		}
		return plan, nil
	}
	t := r.afterImport(*target)
	// The push weighs every mapped attribute, whatever its direction, against Zendesk (as DeriveCase does).
	remote := r.rules.Mapping.Apply(r.pp.derive(remoteTicket), activities.Facts(remoteTicket), activities.Extras(remoteTicket),
		func(mapping.Direction) bool { return true })
	fp, err := r.push.PlanFields(ctx, r.in, r.rules.Mapping, &t, remoteTicket, remote, its)
	if err != nil {
		return plan, err
	}
	local := mapping.CaseValues{Subject: t.Subject, Description: t.Description, Status: t.Status, Priority: t.Priority,
		OwnerID: activities.ZeroIfNil(t.OwnerUserID), AssignedToID: activities.ZeroIfNil(t.AssignedToID),
		ContactID: activities.ZeroIfNil(t.ContactID), StatusOK: true, PriorityOK: true}
	for _, s := range fp.Sends {
		plan.Changes[string(s.Field)] = Change{Old: r.disp.value(s.Field, remote), New: r.disp.value(s.Field, local)}
	}
	for _, c := range fp.Conflicts {
		r.conflicts = append(r.conflicts, Conflict{CaseID: caseID, TicketID: plan.TicketID, Field: string(c.Field),
			Local: r.disp.str(c.Field, c.Local), Remote: r.disp.str(c.Field, c.Remote), Winner: c.Winner, Step: "push"})
	}
	if len(plan.Changes) > 0 || plan.Comments > 0 {
		plan.Action = ActionUpdate
	}
	return plan, nil
}

// afterImport is a push target as the pass's import would leave it: the case's new values and merge base.
func (r *run) afterImport(t store.PushTarget) store.PushTarget {
	ic, ok := r.imported[t.CaseID]
	if !ok {
		return t
	}
	t.Synced = ic.synced
	if v := ic.values; v != nil {
		t.Subject, t.Description, t.Status, t.Priority = v.Subject, v.Description, v.Status, v.Priority
		t.OwnerUserID, t.AssignedToID, t.ContactID = activities.NonZero(v.OwnerID), activities.NonZero(v.AssignedToID),
			activities.NonZero(v.ContactID)
		t.AssignedToEmail = nil
		if e, ok := r.disp.users[v.AssignedToID]; ok {
			t.AssignedToEmail = &e
		}
	}
	return t
}
