package mapping

import (
	"slices"
	"strconv"
)

// TicketFacts are the ticket values a case is derived from. Subject and
// Priority are pointers because Zendesk sends null for both and the rules
// for null differ from OroCRM's (see DeriveCase).
type TicketFacts struct {
	Subject     *string
	Description string
	Status      string
	Priority    *string
}

// CaseValues are the case fields the integration owns. Ids are 0 for "none".
// StatusOK and PriorityOK are false when the ticket's value could not be
// mapped; the case's field must then be left as it is.
type CaseValues struct {
	Subject, Description, Status, Priority string
	OwnerID, AssignedToID, ContactID       int64
	StatusOK, PriorityOK                   bool
	// Attributes are the case attributes (cases.attributes), each value as canonical JSON text (see
	// CanonicalJSON), so comparing two values is comparing two strings. A name missing from a derived value
	// means the mapping says nothing about it; "null" means the ticket has no value for it. Merges treat each
	// attribute as one more field, named AttributeField(name). Absent from merge bases stored before attributes
	// existed, which then count as "nothing synced yet" for them.
	Attributes map[string]string `json:",omitempty"`
}

// DeriveCase computes D(ticket), the case values a ticket stands for
// (spec §4.6), with DESIGN's decisions:
//   - a null subject gives "" (OroCRM wrote "N\A" into the ticket itself and
//     could push it back to Zendesk, §10.7);
//   - a null priority gives normal;
//   - an unmatched agent counts as the integration owner in the owner and
//     assignee chains, as OroCRM's sticky default-owner link did, so the
//     chain stops there instead of moving on to the next person;
//   - contact 0 means "none found": merging leaves the case's contact alone.
//
// A deleted ticket has no case status: StatusOK is false with no warning, so
// its case keeps its status (DESIGN). Other unmappable values give a warning
// in OroCRM's wording and leave the field untouched.
func DeriveCase(t TicketFacts, requester, submitter, assignee *Party, integrationOwnerID int64) (CaseValues, []string) {
	var warnings []string
	v := CaseValues{Description: t.Description}
	if t.Subject != nil {
		v.Subject = *t.Subject
	}

	switch s, err := CaseStatus(t.Status); {
	case err == nil:
		v.Status, v.StatusOK = s, true
	case t.Status == TicketStatusDeleted:
	case t.Status == "":
		warnings = append(warnings, "Zendesk status is empty.")
	default:
		warnings = append(warnings, err.Error())
	}
	if p, err := CasePriority(t.Priority); err == nil {
		v.Priority, v.PriorityOK = p, true
	} else {
		warnings = append(warnings, err.Error())
	}

	v.OwnerID = firstUser(integrationOwnerID, submitter, requester, assignee)
	v.AssignedToID = firstUser(integrationOwnerID, assignee, submitter, requester)
	for _, p := range []*Party{requester, submitter, assignee} {
		if p != nil && p.ContactID != 0 {
			v.ContactID = p.ContactID
			break
		}
	}
	return v, warnings
}

func firstUser(integrationOwnerID int64, chain ...*Party) int64 {
	for _, p := range chain {
		if id, ok := effectiveUser(p, integrationOwnerID); ok {
			return id
		}
	}
	return integrationOwnerID
}

// Priority is an integration's sync priority: which side wins a field both
// sides changed. Anything other than Local behaves as Remote, DESIGN's
// default, in both directions (OroCRM's defaults differed, spec §6).
type Priority string

const (
	Remote Priority = "remote"
	Local  Priority = "local"
)

// The sides a Decision or a FieldConflict names as Winner (the values of conflict logs).
const (
	WinnerLocal  = string(Local)
	WinnerRemote = string(Remote)
)

// Field names a case field the integration manages; the values double as
// the names recorded in conflict logs.
type Field string

const (
	FieldSubject     Field = "subject"
	FieldDescription Field = "description"
	FieldStatus      Field = "status"
	FieldPriority    Field = "priority"
	FieldOwner       Field = "owner"
	FieldAssignedTo  Field = "assigned_to"
	FieldContact     Field = "contact"
)

// Fields lists the managed case fields in the order changes are reported.
var Fields = []Field{FieldSubject, FieldDescription, FieldStatus, FieldPriority, FieldOwner, FieldAssignedTo, FieldContact}

type fieldRule struct {
	field   Field
	defined func(CaseValues) bool // false: the derived value says "leave the case alone"
	equal   func(a, b CaseValues) bool
	take    func(dst *CaseValues, src CaseValues)
}

var fieldRules = []fieldRule{
	{FieldSubject, always,
		func(a, b CaseValues) bool { return a.Subject == b.Subject },
		func(d *CaseValues, s CaseValues) { d.Subject = s.Subject }},
	{FieldDescription, always,
		func(a, b CaseValues) bool { return a.Description == b.Description },
		func(d *CaseValues, s CaseValues) { d.Description = s.Description }},
	{FieldStatus, func(v CaseValues) bool { return v.StatusOK },
		func(a, b CaseValues) bool { return a.Status == b.Status },
		func(d *CaseValues, s CaseValues) { d.Status, d.StatusOK = s.Status, true }},
	{FieldPriority, func(v CaseValues) bool { return v.PriorityOK },
		func(a, b CaseValues) bool { return a.Priority == b.Priority },
		func(d *CaseValues, s CaseValues) { d.Priority, d.PriorityOK = s.Priority, true }},
	{FieldOwner, func(v CaseValues) bool { return v.OwnerID != 0 },
		func(a, b CaseValues) bool { return a.OwnerID == b.OwnerID },
		func(d *CaseValues, s CaseValues) { d.OwnerID = s.OwnerID }},
	{FieldAssignedTo, func(v CaseValues) bool { return v.AssignedToID != 0 },
		func(a, b CaseValues) bool { return a.AssignedToID == b.AssignedToID },
		func(d *CaseValues, s CaseValues) { d.AssignedToID = s.AssignedToID }},
	{FieldContact, func(v CaseValues) bool { return v.ContactID != 0 },
		func(a, b CaseValues) bool { return a.ContactID == b.ContactID },
		func(d *CaseValues, s CaseValues) { d.ContactID = s.ContactID }},
}

func always(CaseValues) bool { return true }

// MergeImport applies a ticket's new derived values to its case with
// OroCRM's import rule (spec §6.1), the stored ticket acting as the common
// ancestor: L = fields where current differs from D(base), R = fields where
// current differs from D(next). Remote applies all of R, so local edits not
// yet pushed are overwritten even where Zendesk did not change the field;
// Local applies R \ L. A nil base (new case, or no ancestor) takes next
// entirely.
//
// A field next leaves undefined (unmappable status or priority, no contact,
// no user) is never in R; one base leaves undefined is never in L, as in
// OroCRM where such fields were missing from the derived change set.
//
// changed lists the fields that differ from current; when it is empty the
// caller writes nothing, so a sync that changes nothing moves no updated_at.
func MergeImport(current CaseValues, base *CaseValues, next CaseValues, p Priority) (merged CaseValues, changed []Field) {
	merged = current
	for _, r := range rulesFor(next) {
		if !r.defined(next) || r.equal(current, next) {
			continue // not a remote change
		}
		if p == Local && base != nil && r.defined(*base) && !r.equal(current, *base) {
			continue // a local change, and local wins
		}
		r.take(&merged, next)
		changed = append(changed, r.field)
	}
	return merged, changed
}

// Decision is the outcome of a three-way merge of one field. Winner names the
// side whose value was taken when only one side changed or on a conflict,
// and is "" when neither changed or both made the same change.
type Decision struct {
	Value                       string
	Conflict                    bool
	Winner                      string // WinnerLocal, WinnerRemote or ""
	LocalChanged, RemoteChanged bool
}

// Merge3 merges one field for two-way sync against the value last synced
// (base): a side that did not change the field takes the other side's value,
// and only a field changed on both sides to different values is a conflict,
// settled by the priority. This is what fixes OroCRM's full-object PUT, which
// reverted concurrent Zendesk edits (spec §6.2, §10.5).
func Merge3(base, local, remote string, p Priority) Decision {
	d := Decision{LocalChanged: local != base, RemoteChanged: remote != base}
	switch {
	case !d.LocalChanged && !d.RemoteChanged:
		d.Value = base
	case d.LocalChanged && !d.RemoteChanged:
		d.Value, d.Winner = local, WinnerLocal
	case !d.LocalChanged && d.RemoteChanged:
		d.Value, d.Winner = remote, WinnerRemote
	case local == remote:
		d.Value = local
	case p == Local:
		d.Value, d.Winner, d.Conflict = local, WinnerLocal, true
	default:
		d.Value, d.Winner, d.Conflict = remote, WinnerRemote, true
	}
	return d
}

// CaseForDeleted decides what a ticket deleted in Zendesk does to cases
// (DESIGN): one already deleted when first seen never becomes a case, and
// one deleted later keeps its case with the status it had, since deletion
// says nothing about whether the customer's issue was resolved. Neither ever
// creates a case or changes a case status; the parameter exists so callers
// state which situation they are in and the rule stays in one place.
func CaseForDeleted(isNewTicket bool) (createCase bool, updateCaseStatus bool) {
	_ = isNewTicket
	return false, false
}

// FieldValue renders a field of v as text, for conflict records and three-way comparison.
func FieldValue(f Field, v CaseValues) string {
	switch f {
	case FieldSubject:
		return v.Subject
	case FieldDescription:
		return v.Description
	case FieldStatus:
		return v.Status
	case FieldPriority:
		return v.Priority
	case FieldOwner:
		return idString(v.OwnerID)
	case FieldAssignedTo:
		return idString(v.AssignedToID)
	case FieldContact:
		return idString(v.ContactID)
	}
	if name, ok := AttributeName(f); ok {
		return attributeValue(v, name)
	}
	return ""
}

func idString(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// FieldConflict is a field both sides changed since the last sync, and which side won.
type FieldConflict struct {
	Field                      Field
	Base, Local, Remote, Value string
	Winner                     string
}

// MergeTwoWay is the import-side merge of a two-way integration: per field, three-way against the values last
// synced (base). A field only Zendesk changed takes Zendesk's value; one only the CRM changed keeps the CRM's
// (the push sends it); one both changed follows the priority and is reported as a conflict. Unlike MergeImport
// under remote priority, a local edit Zendesk did not touch is never overwritten. A nil base falls back to
// MergeImport (no ancestor: the ticket wins where it says something).
func MergeTwoWay(current CaseValues, base *CaseValues, next CaseValues, p Priority) (CaseValues, []Field, []FieldConflict) {
	if base == nil {
		m, ch := MergeImport(current, nil, next, p)
		return m, ch, nil
	}
	merged := current
	var changed []Field
	var conflicts []FieldConflict
	for _, r := range rulesFor(next) {
		if !r.defined(next) || r.equal(current, next) {
			continue
		}
		remoteChanged := !r.defined(*base) || !r.equal(next, *base)
		localChanged := r.defined(*base) && !r.equal(current, *base)
		switch {
		case !remoteChanged:
			continue // only the CRM changed it: keep the local value for the push
		case localChanged:
			c := FieldConflict{Field: r.field, Base: FieldValue(r.field, *base), Local: FieldValue(r.field, current),
				Remote: FieldValue(r.field, next)}
			if p == Local {
				c.Winner, c.Value = WinnerLocal, c.Local
				conflicts = append(conflicts, c)
				continue
			}
			c.Winner, c.Value = WinnerRemote, c.Remote
			conflicts = append(conflicts, c)
		}
		r.take(&merged, next)
		changed = append(changed, r.field)
	}
	return merged, changed, conflicts
}

// DeferToPush leaves to the push each field in pending (a local change waiting to be pushed) that Zendesk changed
// too: it returns next with those fields set back to base's value, and the fields. An import applies the ticket as
// the export saw it, possibly minutes ago; the push reads Zendesk's ticket as it is now and updates it only if it
// has not changed since (a safe update), so it, not the import, decides such a conflict. Without a base (no
// ancestor) nothing is deferred.
func DeferToPush(current CaseValues, base *CaseValues, next CaseValues, pending []Field) (CaseValues, []Field) {
	if base == nil || len(pending) == 0 {
		return next, nil
	}
	var deferred []Field
	for _, r := range rulesFor(next) {
		if !slices.Contains(pending, r.field) || !r.defined(*base) || !r.defined(next) {
			continue
		}
		if !r.equal(next, *base) && !r.equal(current, *base) && !r.equal(current, next) {
			r.take(&next, *base)
			deferred = append(deferred, r.field)
		}
	}
	return next, deferred
}

// CopyField sets field f of dst to src's value.
func CopyField(f Field, dst *CaseValues, src CaseValues) {
	if r, ok := ruleFor(f); ok {
		r.take(dst, src)
	}
}
