package activities

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// countingClient is the HTTP client of an integration's Zendesk client: a.HTTPClient (or a default one) whose
// requests are counted in the integration's running sync pass (`starter integration history`).
func (a *Activities) countingClient(integrationID int64) *http.Client {
	var c http.Client
	if a.HTTPClient != nil {
		c = *a.HTTPClient
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = &requestCounter{base: base, store: a.Store, integrationID: integrationID, a: a}
	return &c
}

// requestCounter counts every request sent to Zendesk, answered or not, retries and 429s included.
type requestCounter struct {
	base          http.RoundTripper
	store         *store.Store
	integrationID int64
	a             *Activities
}

func (r *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if r.store != nil {
		// The count is bookkeeping: it must not fail or hold up the request it counts, nor die with its context.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), 5*time.Second)
		if cerr := r.store.CountRequests(ctx, r.integrationID, 1); cerr != nil {
			r.a.logger().Debug("could not count a Zendesk request", "error", cerr)
		}
		cancel()
	}
	return resp, err
}

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
	return store.SentUpdate{Request: "PUT /api/v2/tickets/" + strconv.FormatInt(ticket.ID, 10) + ".json",
		Answer: answer, Fields: fields}
}

// acceptedAnswer is how the history words Zendesk's acceptance of an update.
func acceptedAnswer(u *zendesk.UpdatedTicket) string {
	return fmt.Sprintf("200 OK, ticket updated_at %s", u.Ticket.UpdatedAt.UTC().Format(time.RFC3339))
}
