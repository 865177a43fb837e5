package preview

import (
	"context"
	"sort"

	"github.com/zendesk-sync/zendesk-sync/store"
)

// NextPass is the dry-run of the integration's next pass: its ticket and comment streams read from where PostgreSQL
// says they stand, and (two-way) its push of the pending local changes. Nothing is written anywhere.
func NextPass(ctx context.Context, d Deps, in *store.Integration) (DryRun, error) {
	r, err := newRun(ctx, d, in, d.PerPage)
	if err != nil {
		return DryRun{}, err
	}
	st, err := d.Store.SyncState(ctx, in.ID)
	if err != nil {
		return DryRun{}, err
	}
	if _, err := r.tickets(ctx, st.TicketCursor, 0); err != nil {
		return DryRun{}, err
	}
	if err := r.comments(ctx, st.EventsStartTime); err != nil {
		return DryRun{}, err
	}
	pushes, err := r.pushes(ctx)
	if err != nil {
		return DryRun{}, err
	}
	out := DryRun{Integration: in.Name, TicketsRead: r.ticketsRead, Cases: r.cases, Pushes: pushes,
		Conflicts: r.conflicts, ContactsToCreate: r.pp.contactsToCreate(), AgentsFallingBack: agents(r.pp.fallback)}
	if out.Cases == nil {
		out.Cases = []CasePlan{}
	}
	if out.Pushes == nil {
		out.Pushes = []CasePlan{}
	}
	if out.Conflicts == nil {
		out.Conflicts = []Conflict{}
	}
	for _, c := range out.Cases {
		switch c.Action {
		case ActionCreate:
			out.Totals.Create++
		case ActionUpdate:
			out.Totals.Update++
		default:
			out.Totals.None++
		}
	}
	for _, p := range out.Pushes {
		if p.Action == ActionUpdate {
			out.Totals.Pushes++
		}
	}
	out.Totals.Conflicts, out.Totals.ContactsToCreate = len(out.Conflicts), len(out.ContactsToCreate)
	out.Totals.AgentsFallingBack, out.Totals.CommentsToAdd, out.Totals.Failures =
		len(out.AgentsFallingBack), r.newComments, r.failures
	if d.Requests != nil {
		out.Requests = d.Requests()
	}
	return out, nil
}

// DefaultLimit is how many tickets `integration preview` reads at most unless told otherwise.
const DefaultLimit = 1000

// FirstSyncPreview is what the integration's first sync would create, from the start of the ticket export (or its
// sync-from date), reading at most limit tickets: a page of at most limit tickets, then more pages while the limit
// is not reached. Comments are not read. Nothing is written anywhere.
func FirstSyncPreview(ctx context.Context, d Deps, in *store.Integration, limit int) (FirstSync, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	r, err := newRun(ctx, d, in, d.PerPage)
	if err != nil {
		return FirstSync{}, err
	}
	complete, err := r.tickets(ctx, "", limit)
	if err != nil {
		return FirstSync{}, err
	}
	out := FirstSync{Integration: in.Name, Limit: limit, TicketsRead: r.ticketsRead, Complete: complete,
		CasesToCreate: len(r.creates), TicketsWithoutCase: r.withoutCase, Failures: r.failures,
		ContactsMatched: len(r.pp.matched), ContactsToCreate: len(r.pp.planned),
		AgentsMatched: agents(r.pp.agentsOK), AgentsUnmatched: agents(r.pp.fallback),
		Status: map[string]int{}, Priority: map[string]int{}}
	for _, v := range r.creates {
		out.Status[v.Status]++
		out.Priority[v.Priority]++
	}
	if d.Requests != nil {
		out.Requests = d.Requests()
	}
	return out, nil
}

// SortedKeys are a spread's keys, most frequent first (for text output).
func SortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}
