package preview

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/activities/importing"
	"github.com/zendesk-sync/zendesk-sync/activities/pushing"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// Deps are what a preview reads with.
type Deps struct {
	Store  *store.Store
	Client *zendesk.Client
	// PerPage is the export page size the worker uses (0: Zendesk's maximum, 1000), so pages fall as in a pass.
	PerPage int
	// Requests, when set, says how many requests Client has sent so far (the report's requests).
	Requests func() int
}

// run is one preview in progress: what it has read and decided so far.
type run struct {
	d     Deps
	in    *store.Integration
	imp   *importing.Activities
	push  *pushing.Activities
	pp    *people
	disp  display
	rules importing.ImportRules

	cases       []CasePlan
	byTicket    map[int64]int // ticket id → index in cases
	imported    map[int64]importedCase
	creates     map[int64]mapping.CaseValues // ticket id → the case it would create
	conflicts   []Conflict
	ticketsRead int
	failures    int
	newComments int
	withoutCase int
}

// importedCase is a case as the pass's import would leave it, for its push to start from.
type importedCase struct {
	values *mapping.CaseValues // nil: the import leaves the case's values as they are
	synced json.RawMessage     // the merge base the import writes
}

func newRun(ctx context.Context, d Deps, in *store.Integration, perPage int) (*run, error) {
	users, err := d.Store.CRMUsers(ctx)
	if err != nil {
		return nil, err
	}
	st, err := d.Store.SyncState(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	mu := make([]mapping.CRMUser, len(users))
	emails := make(map[int64]string, len(users))
	for i, u := range users {
		mu[i] = mapping.CRMUser{ID: u.ID, Email: u.Email, Secondary: u.Secondary}
		emails[u.ID] = u.Email
	}
	rules, err := importing.RulesFor(in, st.Generation)
	if err != nil {
		return nil, err
	}
	base := &activities.Activities{Store: d.Store, PerPage: perPage}
	r := &run{d: d, in: in, imp: &importing.Activities{Activities: base}, push: &pushing.Activities{Activities: base},
		pp: newPeople(in, mapping.NewDirectory(mu)), byTicket: map[int64]int{}, imported: map[int64]importedCase{},
		creates: map[int64]mapping.CaseValues{},
		rules:   rules}
	r.disp = display{users: emails, contacts: r.pp.emailOf}
	return r, nil
}

// tickets reads the ticket export from "from" page by page, as the pass's fetch activities do, and decides each
// page as its apply would. With limit > 0 it stops once that many tickets were read (pages are asked no larger
// than what is left); complete says the export's end was reached.
func (r *run) tickets(ctx context.Context, from string, limit int) (complete bool, err error) {
	perPage := r.imp.PerPage
	for {
		if limit > 0 {
			r.imp.PerPage = min(pageSize(perPage), limit-r.ticketsRead)
		}
		page, err := r.imp.PreviewTicketPage(ctx, r.d.Client, r.in, from)
		if err != nil {
			return false, fmt.Errorf("integration %q: %w", r.in.Name, err)
		}
		r.failures += page.Bad
		if err := r.d.Store.ReadOnlyTx(ctx, r.in.ID, func(ptx *store.PageTx) error {
			return r.ticketPage(ptx, page.Tickets, page.Users)
		}); err != nil {
			return false, err
		}
		if page.EndOfStream {
			return true, nil
		}
		if limit > 0 && r.ticketsRead >= limit {
			return false, nil
		}
		from = page.Next
	}
}

// pageSize is the export page size a PerPage setting gives.
func pageSize(perPage int) int {
	if perPage <= 0 || perPage > 1000 {
		return 1000
	}
	return perPage
}

// ticketPage decides one page's tickets with the import's own translation.
func (r *run) ticketPage(ptx *store.PageTx, tickets []zendesk.Ticket, users []zendesk.User) error {
	if err := r.pp.upsert(ptx, users); err != nil {
		return err
	}
	var refs, ids []int64
	for i := range tickets {
		ids = append(ids, tickets[i].ID)
		refs = append(refs, activities.RoleIDs(&tickets[i])...)
	}
	if err := r.pp.load(ptx, refs); err != nil {
		return err
	}
	existing, err := ptx.Tickets(ids)
	if err != nil {
		return err
	}
	var contactIDs []int64
	for _, ex := range existing {
		if ex.Case != nil && ex.Case.ContactID != nil {
			contactIDs = append(contactIDs, *ex.Case.ContactID)
		}
	}
	emails, err := ptx.ContactEmails(contactIDs)
	if err != nil {
		return err
	}
	for id, e := range emails {
		r.pp.emailOf[id] = e
	}
	for i := range tickets {
		t := &tickets[i]
		tr, err := importing.TranslateTicket(t, existing[t.ID], r.pp.caseValues, r.rules)
		if err != nil {
			return err
		}
		r.ticketsRead++
		r.add(t, existing[t.ID], tr)
	}
	return nil
}

// add records what the import would do with one ticket; a ticket read again later in the pass replaces it.
func (r *run) add(t *zendesk.Ticket, ex *store.ExistingTicket, tr importing.Translation) {
	plan := CasePlan{TicketID: t.ID, Action: ActionNone, Changes: map[string]Change{}}
	if ex != nil && ex.Case != nil {
		id := ex.Case.ID
		plan.CaseID = &id
	}
	delete(r.creates, t.ID)
	switch {
	case tr.Skip:
	case tr.NewCase != nil:
		v := importing.CaseValuesOf(tr.NewCase)
		plan.Action, plan.Changes = ActionCreate, r.disp.changes(nil, v)
		r.creates[t.ID] = v
	case plan.CaseID == nil:
		plan.Note = "no case: the ticket was deleted in Zendesk before it was first synced"
		if ex != nil && ex.CaseDeletedAt != nil {
			plan.Note = "no case: its case was deleted in the CRM and is not created again"
		}
		r.withoutCase++
	case tr.ChangedCase != nil:
		old, next := importing.CaseValuesOf(ex.Case), importing.CaseValuesOf(tr.ChangedCase)
		plan.Action, plan.Changes = ActionUpdate, r.disp.changes(&old, next)
		r.imported[*plan.CaseID] = importedCase{values: &next, synced: tr.Ticket.Synced}
	default:
		r.imported[*plan.CaseID] = importedCase{synced: tr.Ticket.Synced}
	}
	for _, c := range tr.Conflicts {
		f := mapping.Field(c.Field)
		r.conflicts = append(r.conflicts, Conflict{CaseID: *c.CaseID, TicketID: c.TicketID, Field: c.Field,
			Local: r.disp.str(f, deref(c.LocalValue)), Remote: r.disp.str(f, deref(c.RemoteValue)), Winner: c.Winner,
			Step: "import"})
	}
	if i, ok := r.byTicket[t.ID]; ok {
		r.cases[i] = plan
		return
	}
	r.byTicket[t.ID] = len(r.cases)
	r.cases = append(r.cases, plan)
}

// comments reads the comment events from start, as the pass's fetch activities do (authors not mirrored yet
// included), and counts the comments not mirrored yet.
func (r *run) comments(ctx context.Context, start int64) error {
	for {
		page, err := r.imp.PreviewCommentPage(ctx, r.d.Client, r.in, start)
		if err != nil {
			return fmt.Errorf("integration %q: %w", r.in.Name, err)
		}
		r.failures += page.Bad
		if err := r.d.Store.ReadOnlyTx(ctx, r.in.ID, func(ptx *store.PageTx) error {
			if err := r.pp.upsert(ptx, page.Authors); err != nil {
				return err
			}
			ids := make([]int64, len(page.Comments))
			for i, c := range page.Comments {
				ids[i] = c.ZendeskID
			}
			known, err := ptx.KnownComments(ids)
			for _, id := range ids {
				if !known[id] {
					r.newComments++
				}
			}
			return err
		}); err != nil {
			return err
		}
		if page.EndOfStream {
			return nil
		}
		start = page.Next
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
