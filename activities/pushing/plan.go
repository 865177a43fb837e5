package pushing

import (
	"context"
	"slices"

	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// FieldPlan is what a push decides for one case's locally changed fields before it sends anything. The push and
// the dry-run (package preview) both take it from PlanFields, so what a dry-run shows is what a push would do.
type FieldPlan struct {
	mapping.PushPlan
	// Sends are the fields to send, each with its update, in the order of pushable.
	Sends []FieldSend
	// NewBase is PushPlan.NewBase with Zendesk's value for each field planned but not sent (Zendesk already means
	// the same, or nobody to assign).
	NewBase mapping.CaseValues
}

// FieldSend is one field to send and the partial update that carries it.
type FieldSend struct {
	Field  mapping.Field
	Update zendesk.TicketUpdate
}

// PlanFields merges the case's locally changed fields (the built-in ones and the attributes m pushes; its
// outbox rows its) three-way against the values last
// synced and the ticket as Zendesk has it now (remoteTicket, whose case values are remote): mapping.PlanPush
// decides, then each field to send becomes its Zendesk update. It reads the store (Zendesk user ids), writes
// nothing.
func (a *Activities) PlanFields(ctx context.Context, in *store.Integration, m *mapping.Mapping, t *store.PushTarget,
	remoteTicket *zendesk.Ticket, remote mapping.CaseValues, its []store.OutboxItem) (FieldPlan, error) {
	base, err := mergeBase(t, remote)
	if err != nil {
		return FieldPlan{}, err
	}
	local := localValues(t)
	base = pushOnlyBase(m, base, remote)
	fields := append(slices.Clone(pushable), m.Pushed()...)
	plan := mapping.PlanPush(fields, touchedFields(its), base, local, remote, mapping.Priority(in.Priority))
	fp := FieldPlan{PushPlan: plan, NewBase: plan.NewBase}
	for _, f := range plan.Sends {
		var one zendesk.TicketUpdate
		ok, err := a.setUpdate(ctx, in, m, f, local, t, remoteTicket, &one)
		if err != nil {
			return fp, err
		}
		if !ok {
			// Nothing Zendesk would take differently (same meaning, or nobody to assign): Zendesk's value is the
			// one both sides now start from.
			mapping.CopyField(f, &fp.NewBase, remote)
			continue
		}
		fp.Sends = append(fp.Sends, FieldSend{Field: f, Update: one})
	}
	return fp, nil
}
