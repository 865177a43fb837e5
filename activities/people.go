package activities

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// Directory is the CRM users as mapping resolves Zendesk people against them.
func (a *Activities) Directory(ctx context.Context) (*mapping.Directory, error) {
	users, err := a.Store.CRMUsers(ctx)
	if err != nil {
		return nil, err
	}
	mu := make([]mapping.CRMUser, len(users))
	for i, u := range users {
		mu[i] = mapping.CRMUser{ID: u.ID, Email: u.Email, Secondary: u.Secondary}
	}
	return mapping.NewDirectory(mu), nil
}

// People resolves Zendesk users to CRM people for one page: agents to CRM users by email, end-users to contacts
// (matched by email or created). Resolution is redone on every sync, so a CRM user added later is picked up.
type People struct {
	ptx     *store.PageTx
	in      *store.Integration
	dir     *mapping.Directory
	parties map[int64]*mapping.Party
}

// Upsert mirrors the given users, creating contacts for end-users nobody matches.
// NewPeople starts resolving people inside the page transaction ptx.
func NewPeople(ptx *store.PageTx, in *store.Integration, dir *mapping.Directory) *People {
	return &People{ptx: ptx, in: in, dir: dir, parties: map[int64]*mapping.Party{}}
}

// Upsert mirrors the users a page side-loaded and resolves each to its CRM person. A user mirrored already and
// unchanged since (the same fields and Zendesk updated_at, resolving to the same CRM user and contact) is resolved
// from its mirror row and not written again: on a first sync most of a ticket page's users were side-loaded by
// earlier pages, and looking up their contacts and upserting their rows again was a third of the page's time at
// 100,000 tickets. The others are written as before, the new ones straight into the mirror.
func (p *People) Upsert(users []zendesk.User) error {
	ids := make([]int64, len(users))
	for i := range users {
		ids[i] = users[i].ID
	}
	known, err := p.ptx.Users(ids)
	if err != nil {
		return err
	}
	changed := make([]zendesk.User, 0, len(users))
	for _, u := range users {
		if k, ok := known[u.ID]; ok && p.resolveUnchanged(u, k) {
			continue
		}
		changed = append(changed, u)
	}
	return p.write(changed, known)
}

// resolveUnchanged resolves u from its mirror row k when nothing the mirror holds of it would change, and says so.
func (p *People) resolveUnchanged(u zendesk.User, k store.ZUser) bool {
	if u.Name != k.Name || !sameString(u.Email, k.Email) || !sameString(nullable(u.Role), k.Role) ||
		!sameString(u.Phone, k.Phone) || u.Active != k.Active || !sameTime(TimePtr(u.UpdatedAt), k.OriginUpdatedAt) {
		return false
	}
	email := Deref(u.Email)
	var contactID int64
	if u.Role == mapping.RoleEndUser {
		if k.ContactID == nil && mapping.NormalizeEmail(email) != "" {
			return false // its contact is still to be found or made
		}
		contactID = ZeroIfNil(k.ContactID)
	}
	party := mapping.ResolveParty(u.ID, u.Role, email, contactID, p.dir)
	if ZeroIfNil(k.CRMUserID) != party.CRMUserID || ZeroIfNil(k.ContactID) != party.ContactID {
		return false // e.g. a CRM user with its email was added since
	}
	p.parties[u.ID] = &party
	return true
}

// write finds or makes the contacts of users (end-users with an email), resolves them and writes their mirror rows:
// those known holds are updated, the others inserted.
func (p *People) write(users []zendesk.User, known map[int64]store.ZUser) error {
	var emails []string
	for _, u := range users {
		if !mapping.IsAgent(u.Role) && u.Email != nil {
			if e := mapping.NormalizeEmail(*u.Email); e != "" {
				emails = append(emails, e)
			}
		}
	}
	contacts, err := p.ptx.ContactsByEmail(emails)
	if err != nil {
		return err
	}
	var create []store.NewContact
	planned := map[string]bool{}
	for _, u := range users {
		if u.Role != mapping.RoleEndUser || u.Email == nil {
			continue
		}
		e := mapping.NormalizeEmail(*u.Email)
		if e == "" || contacts[e] != 0 || planned[e] {
			continue
		}
		phone := ""
		if u.Phone != nil {
			phone = *u.Phone
		}
		nc, ok := mapping.ContactFor(u.Name, *u.Email, phone)
		if !ok {
			continue
		}
		planned[e] = true
		create = append(create, store.NewContact{Email: nc.Email, NamePrefix: nullable(nc.Name.Prefix),
			FirstName: nullable(nc.Name.First), MiddleName: nullable(nc.Name.Middle), LastName: nullable(nc.Name.Last),
			NameSuffix: nullable(nc.Name.Suffix), Phone: nullable(nc.Phone), OwnerUserID: p.in.OwnerUserID})
	}
	created, err := p.ptx.CreateContacts(create)
	if err != nil {
		return err
	}
	for e, id := range created {
		contacts[e] = id
	}
	rows := make([]store.ZUser, 0, len(users))
	for _, u := range users {
		email := ""
		if u.Email != nil {
			email = *u.Email
		}
		var contactID int64
		if u.Role == mapping.RoleEndUser {
			contactID = contacts[mapping.NormalizeEmail(email)]
		}
		party := mapping.ResolveParty(u.ID, u.Role, email, contactID, p.dir)
		pp := party
		p.parties[u.ID] = &pp
		created, updated := u.CreatedAt, u.UpdatedAt
		rows = append(rows, store.ZUser{ZendeskID: u.ID, Name: u.Name, Email: u.Email, Role: nullable(u.Role),
			Phone: u.Phone, Active: u.Active, CRMUserID: NonZero(party.CRMUserID), ContactID: NonZero(party.ContactID),
			OriginCreatedAt: TimePtr(created), OriginUpdatedAt: TimePtr(updated), Raw: u.Raw})
	}
	var fresh, update []store.ZUser
	for _, r := range dedupeUsers(rows) {
		if _, ok := known[r.ZendeskID]; ok {
			update = append(update, r)
		} else {
			fresh = append(fresh, r)
		}
	}
	if err := p.ptx.InsertNewUsers(fresh); err != nil {
		return err
	}
	return p.ptx.UpsertUsers(update)
}

func sameString(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func sameTime(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }

// Load resolves users mirrored by earlier pages that this page references but did not side-load.
func (p *People) Load(ids []int64) error {
	var need []int64
	for _, id := range ids {
		if _, ok := p.parties[id]; !ok {
			need = append(need, id)
		}
	}
	known, err := p.ptx.Users(need)
	if err != nil {
		return err
	}
	for id, u := range known {
		email, role := Deref(u.Email), Deref(u.Role)
		var contactID int64
		if u.ContactID != nil {
			contactID = *u.ContactID
		}
		party := mapping.ResolveParty(id, role, email, contactID, p.dir)
		p.parties[id] = &party
	}
	return nil
}

// CaseValues derives the case values of a ticket whose people this page has resolved.
func (p *People) CaseValues(t *zendesk.Ticket) (mapping.CaseValues, []string) {
	return mapping.DeriveCase(Facts(t), p.party(t.RequesterID), p.party(t.SubmitterID), p.party(t.AssigneeID),
		p.in.OwnerUserID)
}

// Facts are the ticket values a case is derived from.
func Facts(t *zendesk.Ticket) mapping.TicketFacts {
	return mapping.TicketFacts{Subject: t.Subject, Description: t.Description, Status: t.Status, Priority: t.Priority}
}

// Extras are the ticket values an integration's mapping reads: custom fields and tags.
func Extras(t *zendesk.Ticket) mapping.TicketExtras {
	x := mapping.TicketExtras{Tags: t.Tags}
	for _, cf := range t.CustomFields {
		x.CustomFields = append(x.CustomFields, mapping.CustomFieldValue{ID: cf.ID, Value: cf.Value})
	}
	return x
}

// RoleIDs are the ids of a ticket's requester, submitter and assignee that are set.
func RoleIDs(t *zendesk.Ticket) []int64 {
	var out []int64
	for _, p := range []*int64{t.RequesterID, t.SubmitterID, t.AssigneeID} {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}

func (p *People) party(id *int64) *mapping.Party {
	if id == nil {
		return nil
	}
	return p.parties[*id]
}

// TicketRow is the mirror row of a ticket as Zendesk sent it; synced is what the case was derived from.
func TicketRow(t zendesk.Ticket, synced json.RawMessage, gen int) store.TicketRow {
	subject := ""
	if t.Subject != nil {
		subject = *t.Subject
	}
	return store.TicketRow{ZendeskID: t.ID, URL: t.URL, Subject: subject, Description: t.Description,
		ExternalID: t.ExternalID, ProblemID: t.ProblemID, Type: t.Type, Status: t.Status, Priority: t.Priority,
		Recipient: t.Recipient, RequesterID: t.RequesterID, SubmitterID: t.SubmitterID, AssigneeID: t.AssigneeID,
		CollaboratorIDs: t.CollaboratorIDs, HasIncidents: t.HasIncidents, DueAt: t.DueAt,
		OriginCreatedAt: TimePtr(t.CreatedAt), OriginUpdatedAt: TimePtr(t.UpdatedAt),
		GeneratedTimestamp: t.GeneratedTimestamp, Raw: t.Raw, Synced: synced, SyncGeneration: gen,
		RawDigest: store.RawDigestOf(t.Raw)}
}

func dedupeUsers(rows []store.ZUser) []store.ZUser {
	idx := map[int64]int{}
	out := rows[:0]
	for _, r := range rows {
		if i, ok := idx[r.ZendeskID]; ok {
			out[i] = r
			continue
		}
		idx[r.ZendeskID] = len(out)
		out = append(out, r)
	}
	return out
}

// TimePtr is t, or nil when it is zero (Zendesk sent no time).
func TimePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nullable(s string) *string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return &s
}

// NonZero is id, or nil for 0 (no such person).
func NonZero(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// ZeroIfNil is the inverse of NonZero.
func ZeroIfNil(id *int64) int64 {
	if id == nil {
		return 0
	}
	return *id
}

// Deref is *s, or "" for nil.
func Deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// DeriveCase computes the case values a ticket gives, resolving its people from the mirror.
func (a *Activities) DeriveCase(ctx context.Context, in *store.Integration, dir *mapping.Directory, t *zendesk.Ticket) (mapping.CaseValues, error) {
	var v mapping.CaseValues
	err := a.Store.ReadTx(ctx, in.ID, func(ptx *store.PageTx) error {
		pp := NewPeople(ptx, in, dir)
		if err := pp.Load(RoleIDs(t)); err != nil {
			return err
		}
		v, _ = pp.CaseValues(t)
		return nil
	})
	if err != nil {
		return v, err
	}
	// The push weighs every mapped attribute, whatever its direction (push-only ones included), against Zendesk.
	m, err := in.CustomMapping()
	if err != nil {
		return v, err
	}
	return m.Apply(v, Facts(t), Extras(t), func(mapping.Direction) bool { return true }), nil
}
