package mapping

import "strings"

// CRMUser is what matching needs of a CRM user: its id and every address it
// is known by.
type CRMUser struct {
	ID        int64
	Email     string
	Secondary []string
}

// Directory matches emails to CRM users. It exists so a page of tickets can
// resolve all its agents against one snapshot of the users table without a
// query per person.
type Directory struct {
	primary   map[string]int64
	secondary map[string]int64
}

// NewDirectory indexes users by normalised email. When several users share
// an address the first one in the slice wins, so callers get a stable answer
// by passing users ordered by id. Users with id 0 are ignored: 0 means "no
// user" throughout this package.
func NewDirectory(users []CRMUser) *Directory {
	d := &Directory{primary: map[string]int64{}, secondary: map[string]int64{}}
	for _, u := range users {
		if u.ID == 0 {
			continue
		}
		if e := NormalizeEmail(u.Email); e != "" {
			if _, dup := d.primary[e]; !dup {
				d.primary[e] = u.ID
			}
		}
		for _, s := range u.Secondary {
			if e := NormalizeEmail(s); e != "" {
				if _, dup := d.secondary[e]; !dup {
					d.secondary[e] = u.ID
				}
			}
		}
	}
	return d
}

// Match finds the CRM user for an email, ignoring case and surrounding
// whitespace (OroCRM compared exactly, spec §10.2). A primary address wins
// over another user's secondary one, as in OroCRM's two-step lookup. A nil
// directory matches nothing.
func (d *Directory) Match(email string) (id int64, ok bool) {
	e := NormalizeEmail(email)
	if d == nil || e == "" {
		return 0, false
	}
	if id, ok := d.primary[e]; ok {
		return id, true
	}
	id, ok = d.secondary[e]
	return id, ok
}

// NormalizeEmail returns the form emails are compared in: trimmed and
// lower-cased. Anything that cannot be an address (empty, no local part or
// domain, inner whitespace) gives "", so it never matches anyone, not even
// another malformed address.
func NormalizeEmail(e string) string {
	e = strings.ToLower(strings.TrimSpace(e))
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || strings.ContainsAny(e, " \t\r\n\v\f<>") {
		return ""
	}
	return e
}

// Party is one Zendesk person of a ticket (requester, submitter, assignee or
// comment author) as resolved for the current sync. It is rebuilt on every
// sync rather than stored, so an agent who gains a CRM account later is
// picked up (OroCRM's links were sticky, spec §4.3 and §10.2).
type Party struct {
	ZendeskID int64
	Role      string // RoleAdmin, RoleAgent, RoleEndUser or "" (unknown or none)
	Email     string
	CRMUserID int64 // the agent's CRM user; 0 when not an agent or unmatched
	ContactID int64 // the end-user's contact; 0 otherwise
}

// IsAgent reports whether a Zendesk role is staff, i.e. maps to a CRM user
// rather than a contact (spec §2.8).
func IsAgent(role string) bool { return role == RoleAdmin || role == RoleAgent }

// ResolveParty links a Zendesk person to the CRM. An unmatched agent keeps
// CRMUserID 0: the integration owner stands in for it only where a value is
// derived (DeriveCase, CommentOwner), so the fallback is never persisted as a
// link and a later match replaces it. Contacts are matched or created by the
// caller, who owns the database; a contact id given for a non-end-user is
// dropped, as OroCRM drops a contact link when the role becomes staff.
func ResolveParty(zendeskID int64, role, email string, contactID int64, dir *Directory) Party {
	p := Party{ZendeskID: zendeskID, Role: role, Email: strings.TrimSpace(email)}
	switch {
	case IsAgent(role):
		p.CRMUserID, _ = dir.Match(email)
	case role == RoleEndUser:
		p.ContactID = contactID
	}
	return p
}

// NewContact is the contact to create for an end-user no existing contact
// matches (spec §4.3 step 6). Owner and organisation are the caller's to set.
type NewContact struct {
	Email string
	Name  Name
	Phone string
}

// ContactFor describes the contact to create for an end-user. ok is false
// when the user has no usable email (nothing to match it by later) or a
// blank name (OroCRM creates no contact then, and the user stays unlinked).
// The email keeps its original case for display; matching normalises anyway.
func ContactFor(name, email, phone string) (NewContact, bool) {
	if NormalizeEmail(email) == "" {
		return NewContact{}, false
	}
	n := SplitName(name)
	if n.First == "" {
		return NewContact{}, false
	}
	return NewContact{Email: strings.TrimSpace(email), Name: n, Phone: strings.TrimSpace(phone)}, true
}

// effectiveUser is the CRM user a party stands for when deriving values: its
// matched user, or the integration owner for an unmatched agent (DESIGN:
// "else the integration owner"), or none for end-users and role-less people.
func effectiveUser(p *Party, integrationOwnerID int64) (int64, bool) {
	switch {
	case p == nil:
		return 0, false
	case p.CRMUserID != 0:
		return p.CRMUserID, true
	case IsAgent(p.Role) && integrationOwnerID != 0:
		return integrationOwnerID, true
	}
	return 0, false
}

// CommentOwner gives a case comment's owner and contact from its Zendesk
// author (spec §4.7 step 5): a comment always needs an owner, so anything
// that is not a matched agent falls back to the integration owner.
func CommentOwner(author *Party, integrationOwnerID int64) (ownerID, contactID int64) {
	ownerID = integrationOwnerID
	if id, ok := effectiveUser(author, integrationOwnerID); ok {
		ownerID = id
	}
	if author != nil {
		contactID = author.ContactID
	}
	return ownerID, contactID
}
