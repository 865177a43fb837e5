package preview

import (
	"sort"
	"strings"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// Contact is an end-user the sync would create a contact for.
type Contact struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// Agent is a Zendesk agent (or admin) the tickets read refer to, and how many of those tickets do.
type Agent struct {
	ZendeskID int64  `json:"zendesk_id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	Tickets   int    `json:"tickets"`
}

// people resolves Zendesk users to CRM people as activities.People does, without writing: a contact the import
// would create gets a stand-in id (negative) and is listed instead. Unlike a page's People it lasts the whole
// preview, as the mirror would carry users from one page to the next.
type people struct {
	in      *store.Integration
	dir     *mapping.Directory
	parties map[int64]*mapping.Party
	names   map[int64]string
	// planned are the contacts to create, by normalised email, with their stand-in ids (planIDs).
	planned  map[string]Contact
	planIDs  map[string]int64
	emailOf  map[int64]string // contact id (stand-ins included) → email, for display
	matched  map[int64]bool   // end-users matched to an existing contact
	agentsOK map[int64]*Agent // agents matched to a CRM user
	fallback map[int64]*Agent // agents nobody matches: the integration owner stands in
}

func newPeople(in *store.Integration, dir *mapping.Directory) *people {
	return &people{in: in, dir: dir, parties: map[int64]*mapping.Party{}, names: map[int64]string{},
		planned: map[string]Contact{}, planIDs: map[string]int64{}, emailOf: map[int64]string{},
		matched: map[int64]bool{}, agentsOK: map[int64]*Agent{}, fallback: map[int64]*Agent{}}
}

// upsert resolves side-loaded users as People.Upsert would: end-users to the contact their email matches, or to
// a contact planned for them.
func (p *people) upsert(ptx *store.PageTx, users []zendesk.User) error {
	var emails []string
	for _, u := range users {
		if !mapping.IsAgent(u.Role) && u.Email != nil {
			if e := mapping.NormalizeEmail(*u.Email); e != "" {
				emails = append(emails, e)
			}
		}
	}
	contacts, err := ptx.ContactsByEmail(emails)
	if err != nil {
		return err
	}
	for e, id := range contacts {
		p.emailOf[id] = e
	}
	for _, u := range users {
		email := activities.Deref(u.Email)
		var contactID int64
		if u.Role == mapping.RoleEndUser {
			contactID = p.contactFor(u, contacts)
		}
		party := mapping.ResolveParty(u.ID, u.Role, email, contactID, p.dir)
		p.parties[u.ID] = &party
		p.names[u.ID] = u.Name
	}
	return nil
}

// contactFor is the end-user's existing contact, or the stand-in of the one the import would create (0: none).
func (p *people) contactFor(u zendesk.User, contacts map[string]int64) int64 {
	e := mapping.NormalizeEmail(activities.Deref(u.Email))
	if e == "" {
		return 0
	}
	if id := contacts[e]; id != 0 {
		return id
	}
	if id, ok := p.planIDs[e]; ok {
		return id
	}
	phone := activities.Deref(u.Phone)
	nc, ok := mapping.ContactFor(u.Name, *u.Email, phone)
	if !ok {
		return 0
	}
	id := -int64(len(p.planIDs) + 1)
	p.planIDs[e] = id
	p.planned[e] = Contact{Email: nc.Email, FirstName: nc.Name.First, LastName: nc.Name.Last}
	p.emailOf[id] = nc.Email
	return id
}

// load resolves users mirrored already that no page side-loaded, as People.Load does.
func (p *people) load(ptx *store.PageTx, ids []int64) error {
	var need []int64
	for _, id := range ids {
		if _, ok := p.parties[id]; !ok {
			need = append(need, id)
		}
	}
	known, err := ptx.Users(need)
	if err != nil {
		return err
	}
	var contactIDs []int64
	for id, u := range known {
		contactID := activities.ZeroIfNil(u.ContactID)
		party := mapping.ResolveParty(id, activities.Deref(u.Role), activities.Deref(u.Email), contactID, p.dir)
		p.parties[id] = &party
		p.names[id] = u.Name
		if party.ContactID > 0 {
			contactIDs = append(contactIDs, party.ContactID)
		}
	}
	emails, err := ptx.ContactEmails(contactIDs)
	for id, e := range emails {
		p.emailOf[id] = e
	}
	return err
}

// caseValues derives a ticket's case values as People.CaseValues does, and notes who its people resolved to.
func (p *people) caseValues(t *zendesk.Ticket) (mapping.CaseValues, []string) {
	seen := map[int64]bool{}
	for _, id := range activities.RoleIDs(t) {
		if !seen[id] { // an agent who is both submitter and assignee counts once for the ticket
			seen[id] = true
			p.note(id)
		}
	}
	return mapping.DeriveCase(mapping.TicketFacts{Subject: t.Subject, Description: t.Description, Status: t.Status,
		Priority: t.Priority}, p.party(t.RequesterID), p.party(t.SubmitterID), p.party(t.AssigneeID), p.in.OwnerUserID)
}

// derive is caseValues without the notes: for a ticket read to plan a push, not imported.
func (p *people) derive(t *zendesk.Ticket) mapping.CaseValues {
	v, _ := mapping.DeriveCase(mapping.TicketFacts{Subject: t.Subject, Description: t.Description, Status: t.Status,
		Priority: t.Priority}, p.party(t.RequesterID), p.party(t.SubmitterID), p.party(t.AssigneeID), p.in.OwnerUserID)
	return v
}

func (p *people) note(id int64) {
	party := p.parties[id]
	switch {
	case party == nil:
	case mapping.IsAgent(party.Role):
		into := p.agentsOK
		if party.CRMUserID == 0 {
			into = p.fallback
		}
		a := into[id]
		if a == nil {
			a = &Agent{ZendeskID: id, Email: party.Email, Name: p.names[id]}
			into[id] = a
		}
		a.Tickets++
	case party.ContactID > 0:
		p.matched[party.ContactID] = true
	}
}

func (p *people) party(id *int64) *mapping.Party {
	if id == nil {
		return nil
	}
	return p.parties[*id]
}

// contactsToCreate lists the planned contacts, by email.
func (p *people) contactsToCreate() []Contact {
	out := make([]Contact, 0, len(p.planned))
	for _, c := range p.planned {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Email) < strings.ToLower(out[j].Email) })
	return out
}

// agents lists agents by the tickets that name them, most first.
func agents(m map[int64]*Agent) []Agent {
	out := make([]Agent, 0, len(m))
	for _, a := range m {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tickets != out[j].Tickets {
			return out[i].Tickets > out[j].Tickets
		}
		return out[i].ZendeskID < out[j].ZendeskID
	})
	return out
}
