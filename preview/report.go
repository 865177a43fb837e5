// Package preview shows what a sync would do without doing it: the dry-run of the next pass (`starter sync N
// --dry-run`) and the preview of the first sync (`starter integration preview N`). Both read Zendesk with the
// requests a pass makes, no more, and PostgreSQL in read-only transactions; they write nothing anywhere. The
// decisions are the sync's own: importing.TranslateTicket for each ticket, pushing.PlanFields (mapping.PlanPush)
// for each pending local change, so a preview cannot drift from what a pass does.
package preview

import (
	"strconv"

	"github.com/zendesk-sync/zendesk-sync/mapping"
)

// Actions of a case or a push.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionNone   = "none"
)

// Change is one field's value before and after; null is "none" (no case yet, nobody).
type Change struct {
	Old *string `json:"old"`
	New *string `json:"new"`
}

// CasePlan is what the pass would do to one case (cases), or to one Zendesk ticket (pushes).
type CasePlan struct {
	CaseID   *int64            `json:"case_id"` // null for a case to create
	TicketID int64             `json:"ticket_id"`
	Action   string            `json:"action"`
	Changes  map[string]Change `json:"changes"`
	Comments int               `json:"comments,omitempty"` // pushes: local comments that would be posted
	Note     string            `json:"note,omitempty"`     // why nothing happens, when it is not "unchanged"
}

// Conflict is a field changed on both sides and how the integration's priority decides it.
type Conflict struct {
	CaseID   int64   `json:"case_id"`
	TicketID int64   `json:"ticket_id"`
	Field    string  `json:"field"`
	Local    *string `json:"local"`
	Remote   *string `json:"remote"`
	Winner   string  `json:"winner"` // local or remote
	Step     string  `json:"step"`   // import or push: where the pass decides it
}

// Totals are the dry-run's counts, shown first.
type Totals struct {
	Create            int `json:"create"`
	Update            int `json:"update"`
	None              int `json:"none"`
	Pushes            int `json:"pushes"`
	Conflicts         int `json:"conflicts"`
	ContactsToCreate  int `json:"contacts_to_create"`
	AgentsFallingBack int `json:"agents_falling_back"`
	CommentsToAdd     int `json:"comments_to_add"`
	Failures          int `json:"failures"`
}

// DryRun is `starter sync N --dry-run -o json`.
type DryRun struct {
	Integration string `json:"integration"`
	TicketsRead int    `json:"tickets_read"`
	// Requests are the Zendesk requests the dry-run made: those of a pass, no more.
	Requests          int        `json:"requests"`
	Totals            Totals     `json:"totals"`
	Cases             []CasePlan `json:"cases"`
	Pushes            []CasePlan `json:"pushes"`
	Conflicts         []Conflict `json:"conflicts"`
	ContactsToCreate  []Contact  `json:"contacts_to_create"`
	AgentsFallingBack []Agent    `json:"agents_falling_back"`
}

// FirstSync is `starter integration preview N -o json`: what the first sync would create.
type FirstSync struct {
	Integration string `json:"integration"`
	Limit       int    `json:"limit"`
	TicketsRead int    `json:"tickets_read"`
	// Complete says the whole export was read; false: the preview stopped at the limit.
	Complete           bool           `json:"complete"`
	Requests           int            `json:"requests"`
	CasesToCreate      int            `json:"cases_to_create"`
	TicketsWithoutCase int            `json:"tickets_without_case"` // deleted before the first sync
	Failures           int            `json:"failures"`             // records that would be skipped with a reason
	ContactsMatched    int            `json:"contacts_matched"`
	ContactsToCreate   int            `json:"contacts_to_create"`
	AgentsMatched      []Agent        `json:"agents_matched"`
	AgentsUnmatched    []Agent        `json:"agents_unmatched"` // the integration owner stands in for them
	Status             map[string]int `json:"status"`           // cases to create by CRM status
	Priority           map[string]int `json:"priority"`         // cases to create by CRM priority
}

// display renders case values for people: CRM users and contacts by email.
type display struct {
	users    map[int64]string // CRM user id → email
	contacts map[int64]string // contact id (stand-ins included) → email
}

// value is field f of v as shown: people by email, "none" as null.
func (d display) value(f mapping.Field, v mapping.CaseValues) *string {
	return d.str(f, mapping.FieldValue(f, v))
}

// str renders a field value as mapping.FieldValue gives it (people as ids).
func (d display) str(f mapping.Field, s string) *string {
	switch f {
	case mapping.FieldOwner, mapping.FieldAssignedTo, mapping.FieldContact:
		if s == "" {
			return nil
		}
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return &s
		}
		names := d.users
		if f == mapping.FieldContact {
			names = d.contacts
		}
		if e, ok := names[id]; ok && e != "" {
			return &e
		}
		s = "#" + s
	}
	return &s
}

// changes are the fields that differ between old (nil: no case yet) and next.
func (d display) changes(old *mapping.CaseValues, next mapping.CaseValues) map[string]Change {
	out := map[string]Change{}
	for _, f := range mapping.Fields {
		nv := d.value(f, next)
		if old == nil {
			if nv != nil {
				out[string(f)] = Change{New: nv}
			}
			continue
		}
		if ov := d.value(f, *old); !sameStr(ov, nv) {
			out[string(f)] = Change{Old: ov, New: nv}
		}
	}
	return out
}

func sameStr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
