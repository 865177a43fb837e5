package pushing

import (
	"fmt"
	"strconv"
	"time"

	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// sentUpdate describes one ticket update a push sent, for the case's history: each field with Zendesk's value
// before and the value sent, and Zendesk's answer.
func sentUpdate(ticket *zendesk.Ticket, upd zendesk.TicketUpdate, answer string) store.SentUpdate {
	fields := map[string]store.FieldChange{}
	set := func(name string, old any, sent any) {
		fields["ticket."+name] = store.FieldChange{Old: old, New: sent}
	}
	if upd.Subject != nil {
		set("subject", deref(ticket.Subject), *upd.Subject)
	}
	if upd.Status != nil {
		set("status", ticket.Status, *upd.Status)
	}
	if upd.Priority != nil {
		set("priority", deref(ticket.Priority), *upd.Priority)
	}
	if upd.AssigneeID != nil {
		var old any
		if ticket.AssigneeID != nil {
			old = *ticket.AssigneeID
		}
		set("assignee_id", old, *upd.AssigneeID)
	}
	for _, cf := range upd.CustomFields {
		var old any
		for _, have := range ticket.CustomFields {
			if have.ID == cf.ID {
				old = have.Value
			}
		}
		set("custom_fields."+strconv.FormatInt(cf.ID, 10), old, cf.Value)
	}
	if len(upd.AdditionalTags) > 0 || len(upd.RemoveTags) > 0 {
		set("tags", ticket.Tags, map[string][]string{"add": upd.AdditionalTags, "remove": upd.RemoveTags})
	}
	return store.SentUpdate{Request: "PUT /api/v2/tickets/" + strconv.FormatInt(ticket.ID, 10) + ".json",
		Answer: answer, Fields: fields}
}

// acceptedAnswer is how the history words Zendesk's acceptance of an update.
func acceptedAnswer(u *zendesk.UpdatedTicket) string {
	return fmt.Sprintf("200 OK, ticket updated_at %s", u.Ticket.UpdatedAt.UTC().Format(time.RFC3339))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
