package zendesk

import (
	"encoding/json"
	"errors"
	"time"

	fastjson "github.com/segmentio/encoding/json"
)

// decodeRecord decodes b into v (a record type without its own UnmarshalJSON), rejects a record without a
// positive id, and returns a copy of b for the record's Raw field.
func decodeRecord[T any](b []byte, v *T, id func(*T) int64) (json.RawMessage, error) {
	if err := fastjson.Unmarshal(b, v); err != nil {
		return nil, err
	}
	if id(v) <= 0 {
		return nil, errMissingID
	}
	return append(json.RawMessage(nil), b...), nil
}

// errMissingID rejects a record without a usable id: it cannot be upserted or linked, so it is a bad record.
var errMissingID = errors.New("missing or invalid id")

// CustomField is one value of a ticket's custom fields: Zendesk sends every field of the account's ticket form,
// null when unset; the value's type follows the field's (text, number, checkbox as boolean, multi-select as array).
type CustomField struct {
	ID    int64           `json:"id"`
	Value json.RawMessage `json:"value"`
}

// Ticket is a Zendesk ticket. Nullable fields are pointers; Raw keeps the exact bytes Zendesk sent, for storage
// and for fields this struct does not model (custom fields, via, ...).
type Ticket struct {
	ID                 int64           `json:"id"`
	URL                string          `json:"url"`
	ExternalID         *string         `json:"external_id"`
	Subject            *string         `json:"subject"`
	RawSubject         *string         `json:"raw_subject"`
	Description        string          `json:"description"`
	Status             string          `json:"status"` // new, open, pending, hold, solved, closed; exports add "deleted"
	Priority           *string         `json:"priority"`
	Type               *string         `json:"type"`
	Recipient          *string         `json:"recipient"`
	RequesterID        *int64          `json:"requester_id"`
	SubmitterID        *int64          `json:"submitter_id"`
	AssigneeID         *int64          `json:"assignee_id"`
	OrganizationID     *int64          `json:"organization_id"`
	GroupID            *int64          `json:"group_id"`
	CollaboratorIDs    []int64         `json:"collaborator_ids"`
	ProblemID          *int64          `json:"problem_id"`
	HasIncidents       bool            `json:"has_incidents"`
	DueAt              *time.Time      `json:"due_at"`
	Tags               []string        `json:"tags"`
	CustomFields       []CustomField   `json:"custom_fields"`
	CreatedAt          time.Time       `json:"created_at"`
	UpdatedAt          time.Time       `json:"updated_at"`
	GeneratedTimestamp int64           `json:"generated_timestamp"`
	Raw                json.RawMessage `json:"-"` // exact bytes of this ticket object
}

// UnmarshalJSON decodes a ticket, keeps its bytes in Raw and rejects one without an id.
func (t *Ticket) UnmarshalJSON(b []byte) error {
	type plain Ticket
	var v plain
	raw, err := decodeRecord(b, &v, func(p *plain) int64 { return p.ID })
	if err != nil {
		return err
	}
	v.Raw = raw
	*t = Ticket(v)
	return nil
}

// User is a Zendesk user (end-user, agent or admin). A deleted user is still returned, with Active false.
type User struct {
	ID         int64           `json:"id"`
	URL        string          `json:"url"`
	Name       string          `json:"name"`
	Email      *string         `json:"email"`
	Role       string          `json:"role"`
	Active     bool            `json:"active"`
	Verified   bool            `json:"verified"`
	Suspended  bool            `json:"suspended"`
	Phone      *string         `json:"phone"`
	ExternalID *string         `json:"external_id"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	Raw        json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a user, keeps its bytes in Raw and rejects one without an id.
func (u *User) UnmarshalJSON(b []byte) error {
	type plain User
	var v plain
	raw, err := decodeRecord(b, &v, func(p *plain) int64 { return p.ID })
	if err != nil {
		return err
	}
	v.Raw = raw
	*u = User(v)
	return nil
}

// Comment is a ticket comment. Zendesk's comment objects do not carry their ticket id: TicketID is filled from the
// parent ticket event or from the request.
type Comment struct {
	ID        int64           `json:"id"`
	TicketID  int64           `json:"ticket_id"`
	Type      string          `json:"type"` // "Comment" or "VoiceComment"
	AuthorID  int64           `json:"author_id"`
	Body      string          `json:"body"`
	HTMLBody  string          `json:"html_body"`
	PlainBody string          `json:"plain_body"`
	Public    bool            `json:"public"` // false = internal note
	CreatedAt time.Time       `json:"created_at"`
	Raw       json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a comment, keeps its bytes in Raw and rejects one without an id.
func (c *Comment) UnmarshalJSON(b []byte) error {
	type plain Comment
	var v plain
	raw, err := decodeRecord(b, &v, func(p *plain) int64 { return p.ID })
	if err != nil {
		return err
	}
	v.Raw = raw
	*c = Comment(v)
	return nil
}

// BadRecord is a record of a page that could not be decoded (wrong types, missing id...). The rest of the page is
// still returned, so one odd record does not stall a sync. Kind is "ticket", "user" or "comment", or
// "ticket_event" for a ticket event whose comments could not be read.
type BadRecord struct {
	Kind string
	ID   int64 // 0 if unknown
	Raw  json.RawMessage
	Err  error
}

// Requester names the requester of a new ticket; Zendesk matches an existing user by email or creates one.
type Requester struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// NewComment is a comment to add. Public false makes it an internal note (Go's zero value, so set Public for a
// reply the requester should see). AuthorID attributes it to another user (the API user must be allowed to).
type NewComment struct {
	Body     string `json:"body"`
	Public   bool   `json:"public"`
	AuthorID *int64 `json:"author_id,omitempty"`
}

// NewUser is a user to create. Role defaults to "end-user"; Phone is omitted when empty.
type NewUser struct {
	Name  string
	Email string
	Role  string
	Phone string
}

// NewTicket is a ticket to create. Comment becomes the description (the first comment). Give either RequesterID or
// Requester. Empty strings and nil pointers are omitted. IdempotencyKey is sent as the Idempotency-Key header so a
// create repeated after a lost response does not make a second ticket.
type NewTicket struct {
	Subject        string
	Comment        NewComment
	ExternalID     string
	RequesterID    *int64
	Requester      *Requester
	SubmitterID    *int64
	AssigneeID     *int64
	Status         string
	Priority       string
	Type           string
	CustomFields   []CustomField
	Tags           []string
	IdempotencyKey string
}

// CreatedTicket is the result of CreateTicket. FirstComment is the Comment event of the creation audit, if present.
type CreatedTicket struct {
	Ticket       Ticket
	FirstComment *Comment
}

// TicketUpdate is a partial update: only non-nil fields are sent. A pointer to "" for Priority or Type, and a
// pointer to 0 for AssigneeID, clear the field (sent as null). Comment adds a comment.
type TicketUpdate struct {
	Subject     *string
	Status      *string
	Priority    *string
	Type        *string
	AssigneeID  *int64
	RequesterID *int64
	Comment     *NewComment
	// CustomFields sets these custom fields only (Zendesk leaves the others); a null Value clears one.
	CustomFields []CustomField
	// AdditionalTags and RemoveTags add and remove tags, leaving the ticket's other tags alone (Zendesk's
	// additional_tags and remove_tags), so two changes of tags never overwrite each other.
	AdditionalTags, RemoveTags []string
	// SafeStamp, when set, is the updated_at of the ticket the update was decided from. It is sent as Zendesk's
	// safe update (safe_update with updated_stamp): Zendesk refuses the update with a 409 (*ConflictError) when
	// the ticket changed since, so an edit made in Zendesk after it was read is never overwritten unseen.
	SafeStamp time.Time
}

// UpdatedTicket is the result of UpdateTicket. AddedComment is the audit's Comment event, if any.
type UpdatedTicket struct {
	Ticket       Ticket
	AddedComment *Comment
}
