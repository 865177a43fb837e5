package importing

import (
	"encoding/json"
	"fmt"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// importRules are the integration's settings the translation of a ticket follows.
type importRules struct {
	TwoWay     bool             // local edits are merged per field (MergeTwoWay) rather than imported over
	Priority   mapping.Priority // who wins a field changed on both sides
	Generation int              // the sync's generation: a ticket synced in an older one is derived again
	// Mapping is the integration's custom field and tag mapping (nil: none): it derives the case attributes of
	// the directions that import and may override the status and priority maps.
	Mapping *mapping.Mapping
}

// translated is what one ticket becomes: nothing (Skip: unchanged since the last sync), or its mirror row with,
// when its case must be created or changed, that case's row, and the conflicts decided on the way.
type translated struct {
	Skip        bool
	Ticket      store.TicketRow
	NewCase     *store.CaseRow // TicketID set, ID 0: to create
	ChangedCase *store.CaseRow // ID set: to update
	Conflicts   []store.Conflict
	Warnings    []string
}

// deriveFunc derives a ticket's case values from the people its page resolved (activities.People.CaseValues).
type deriveFunc func(t *zendesk.Ticket) (mapping.CaseValues, []string)

// translateTicket is the import's decision for one ticket, without I/O: from the ticket, its mirror row (nil when
// it was never seen), its people as the page resolved them (derive) and the local case (ex.Case), to the rows to
// write. Unit-tested table by table in translate_test.go.
func translateTicket(t *zendesk.Ticket, ex *store.ExistingTicket, derive deriveFunc, r importRules) (translated, error) {
	if unchanged(ex, t, r.Generation) || older(ex, t, r.Generation) {
		return translated{Skip: true}, nil
	}
	next, warnings := derive(t)
	next = r.Mapping.Apply(next, activities.Facts(t), activities.Extras(t), mapping.Direction.Imports)
	synced, err := json.Marshal(next)
	if err != nil {
		return translated{}, fmt.Errorf("encode the synced values of ticket %d: %w", t.ID, err)
	}
	out := translated{Ticket: activities.TicketRow(*t, synced, r.Generation), Warnings: warnings}
	switch {
	case ex == nil || ex.Case == nil:
		out.NewCase = caseToCreate(t, ex, next)
	default:
		m := mergeCase(t, ex, next, r)
		out.ChangedCase, out.Conflicts = m.changed, m.conflicts
		if m.deferred {
			// The merge base keeps the deferred fields' old values: the push merges them against it.
			if out.Ticket.Synced, err = json.Marshal(m.next); err != nil {
				return translated{}, fmt.Errorf("encode the synced values of ticket %d: %w", t.ID, err)
			}
		}
	}
	return out, nil
}

// caseToCreate is the case of a ticket that has none, or nil when it gets none: a ticket deleted when first seen,
// or one whose case was deleted in the CRM on purpose (it stays deleted; the ticket is still mirrored, and the
// integration's failures say so: a trigger records it at the deletion).
func caseToCreate(t *zendesk.Ticket, ex *store.ExistingTicket, next mapping.CaseValues) *store.CaseRow {
	create, _ := mapping.CaseForDeleted(ex == nil)
	if t.Status == mapping.TicketStatusDeleted && !create {
		return nil
	}
	if ex != nil && ex.CaseDeletedAt != nil {
		return nil
	}
	c := newCase(*t, next)
	return &c
}

// mergeOutcome is the outcome of merging a ticket into its local case.
type mergeOutcome struct {
	changed   *store.CaseRow // nil when nothing changed
	conflicts []store.Conflict
	next      mapping.CaseValues // the ticket's values with the fields deferred to the push kept as they were
	deferred  bool               // some field with a local change not pushed yet was left to the push
}

// mergeCase merges the ticket's derived values into its local case against the values last synced. For a
// two-way integration, fields with a local change not pushed yet (ex.PendingFields) are left to the push, which
// decides against the ticket as it is now (mapping.DeferToPush), and the conflicts decided are returned.
func mergeCase(t *zendesk.Ticket, ex *store.ExistingTicket, next mapping.CaseValues, r importRules) mergeOutcome {
	current := caseValues(ex.Case)
	var base *mapping.CaseValues
	if len(ex.Synced) > 0 && string(ex.Synced) != "null" {
		var b mapping.CaseValues
		if err := json.Unmarshal(ex.Synced, &b); err == nil {
			base = &b
		}
	}
	var out mergeOutcome
	var values mapping.CaseValues
	var changed []mapping.Field
	if r.TwoWay {
		var deferred []mapping.Field
		next, deferred = mapping.DeferToPush(current, base, next, pendingFields(ex.PendingFields))
		out.deferred = len(deferred) > 0
		var fcs []mapping.FieldConflict
		values, changed, fcs = mapping.MergeTwoWay(current, base, next, r.Priority)
		for _, fc := range fcs {
			out.conflicts = append(out.conflicts, conflictOf(ex.Case.ID, t.ID, fc))
		}
	} else {
		values, changed = mapping.MergeImport(current, base, next, r.Priority)
	}
	out.next = next
	if len(changed) == 0 {
		return out
	}
	cr := caseRow(ex.Case.ID, values)
	if values.Status == mapping.CaseStatusClosed && current.Status != mapping.CaseStatusClosed {
		cr.ClosedAt = activities.TimePtr(t.UpdatedAt)
	}
	out.changed = &cr
	return out
}

func conflictOf(caseID, ticketID int64, fc mapping.FieldConflict) store.Conflict {
	base, local, remote := fc.Base, fc.Local, fc.Remote
	return store.Conflict{CaseID: &caseID, TicketID: ticketID, Field: string(fc.Field), BaseValue: &base,
		LocalValue: &local, RemoteValue: &remote, Winner: fc.Winner}
}
