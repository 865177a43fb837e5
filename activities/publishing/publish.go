package publishing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// Error types of publishing that retrying cannot fix.
const (
	errNotTwoWay      = contract.ErrNotTwoWay
	errPublishRefused = contract.ErrPublishRefused
)

// ExternalID is the external_id a published case's ticket carries: the key that makes publishing exactly-once.
func ExternalID(caseID int64) string { return "zendesk-sync-case-" + strconv.FormatInt(caseID, 10) }

// PublishCase creates the Zendesk ticket of a CRM case exactly once, however often it is retried: it returns the
// ticket already linked to the case, else the ticket Zendesk already has with the case's external_id (a retry after
// a create whose answer was lost), else it creates the ticket (with an Idempotency-Key) and links it at once.
func (a *Activities) PublishCase(ctx context.Context, ref contract.CaseRef) (contract.PublishResult, error) {
	caseID := ref.CaseID
	cs, err := a.Store.CaseForPublish(ctx, caseID)
	if err != nil {
		return contract.PublishResult{}, temporal.NewNonRetryableApplicationError(err.Error(), errPublishRefused, nil)
	}
	if cs.IntegrationID == nil {
		return contract.PublishResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("case %d belongs to no integration", caseID), errNotTwoWay, nil)
	}
	in, err := a.Store.Integration(ctx, *cs.IntegrationID)
	if err != nil {
		return contract.PublishResult{}, err
	}
	res := contract.PublishResult{IntegrationID: in.ID}
	if id, ok, err := a.Store.CaseTicket(ctx, caseID); err != nil || ok {
		res.TicketID, res.Already = id, ok
		return res, err
	}
	if !in.TwoWay {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"integration %q does not have two-way sync on: cases are published to Zendesk by two-way integrations only", in.Name),
			errNotTwoWay, nil)
	}
	c, err := a.Client(in)
	if err != nil {
		return res, err
	}
	ext := ExternalID(caseID)
	existing, err := c.TicketsByExternalID(ctx, ext)
	if err != nil {
		return res, a.Classify(ctx, in, "look for the published ticket", err)
	}
	var t *zendesk.Ticket
	var first *zendesk.Comment
	if len(existing) > 0 {
		t = &existing[0]
	} else {
		nt, err := a.newTicket(ctx, in, cs)
		if err != nil {
			return res, err
		}
		created, err := c.CreateTicket(ctx, nt)
		var invalid *zendesk.InvalidRecordError
		if errors.As(err, &invalid) {
			return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("Zendesk refused the ticket of case %d: %s",
				caseID, invalid.Error()), errPublishRefused, nil)
		}
		if err != nil {
			return res, a.Classify(ctx, in, fmt.Sprintf("create the ticket of case %d", caseID), err)
		}
		t, first = &created.Ticket, created.FirstComment
	}
	if err := a.mirrorPeople(ctx, c, in, t); err != nil {
		return res, err
	}
	dir, err := a.Directory(ctx)
	if err != nil {
		return res, err
	}
	st, err := a.Store.SyncState(ctx, in.ID)
	if err != nil {
		return res, err
	}
	row, err := a.mirrorOf(ctx, in, dir, st.Generation, t)
	if err != nil {
		return res, err
	}
	row.CaseID = &caseID
	var firstRow *store.CommentRow
	if first != nil {
		firstRow = activities.AnsweredComment(*first, t.ID)
	}
	if err := a.Store.Published(ctx, in.ID, row, firstRow, in.OwnerUserID); err != nil {
		return res, err
	}
	res.TicketID, res.URL = t.ID, t.URL
	return res, nil
}

// newTicket maps a case to a new ticket: the contact is the requester (Zendesk matches or creates the end-user by
// email), else the owner's or the Default Zendesk User; the assignee is the agent with the assigned user's email,
// else the Default Zendesk User; the description is the first public comment.
func (a *Activities) newTicket(ctx context.Context, in *store.Integration, cs *store.CaseToPublish) (zendesk.NewTicket, error) {
	body := cs.Description
	if strings.TrimSpace(body) == "" {
		body = cs.Subject
	}
	nt := zendesk.NewTicket{Subject: cs.Subject, Comment: zendesk.NewComment{Body: body, Public: true},
		ExternalID: ExternalID(cs.ID), IdempotencyKey: ExternalID(cs.ID)}
	m, err := in.CustomMapping()
	if err != nil {
		return nt, err
	}
	if st, _, err := m.TicketStatusFor(cs.Status, ""); err == nil {
		nt.Status = st
	}
	if p, _, err := m.TicketPriorityFor(cs.Priority, nil); err == nil {
		nt.Priority = p
	}
	a.pushedAttributes(in, m, cs, &nt)
	lookup := func(email string, agents bool) (*int64, error) {
		if email == "" {
			return nil, nil
		}
		id, ok, err := a.Store.ZendeskUserIDByEmail(ctx, in.ID, email, agents)
		if err != nil || !ok {
			return nil, err
		}
		return &id, nil
	}
	switch {
	case cs.ContactEmail != nil && *cs.ContactEmail != "":
		name := strings.TrimSpace(activities.Deref(cs.ContactFirstName) + " " + activities.Deref(cs.ContactLastName))
		if name == "" {
			name = *cs.ContactEmail
		}
		nt.Requester = &zendesk.Requester{Name: name, Email: *cs.ContactEmail}
	default:
		if nt.RequesterID, err = lookup(activities.Deref(cs.OwnerEmail), false); err != nil {
			return nt, err
		}
		if nt.RequesterID == nil {
			if nt.RequesterID, err = lookup(in.DefaultUserEmail, false); err != nil {
				return nt, err
			}
		}
	}
	if nt.AssigneeID, err = lookup(activities.Deref(cs.AssignedToEmail), true); err != nil {
		return nt, err
	}
	if nt.AssigneeID == nil {
		if nt.AssigneeID, err = lookup(in.DefaultUserEmail, true); err != nil {
			return nt, err
		}
	}
	return nt, nil
}

// mirrorPeople mirrors the ticket's people Zendesk may have just created (the requester end-user), so the case's
// ticket record names them at once.
func (a *Activities) mirrorPeople(ctx context.Context, c *zendesk.Client, in *store.Integration, t *zendesk.Ticket) error {
	refs := activities.RoleIDs(t)
	known, err := a.Store.KnownUsers(ctx, in.ID, refs)
	if err != nil {
		return err
	}
	var missing []int64
	for _, id := range refs {
		if !known[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	users, err := c.ShowManyUsers(ctx, missing)
	if err != nil {
		return a.Classify(ctx, in, "read the ticket's people", err)
	}
	dir, err := a.Directory(ctx)
	if err != nil {
		return err
	}
	return a.Store.ReadTx(ctx, in.ID, func(ptx *store.PageTx) error {
		pp := activities.NewPeople(ptx, in, dir)
		return pp.Upsert(users)
	})
}

// mirrorOf is the ticket mirror row of a ticket this integration just created, with the values derived from it as
// the merge base: a new ticket is known whole, unlike an updated one (see pushCase).
func (a *Activities) mirrorOf(ctx context.Context, in *store.Integration, dir *mapping.Directory, gen int,
	t *zendesk.Ticket) (store.TicketRow, error) {
	v, err := a.DeriveCase(ctx, in, dir, t)
	if err != nil {
		return store.TicketRow{}, err
	}
	synced, err := json.Marshal(v)
	if err != nil {
		return store.TicketRow{}, err
	}
	return activities.TicketRow(*t, synced, gen), nil
}

// pushedAttributes gives a new ticket the case's attributes the mapping pushes (push or both): custom field values
// and tags. A value the mapping cannot express in Zendesk is left out, with a warning.
func (a *Activities) pushedAttributes(in *store.Integration, m *mapping.Mapping, cs *store.CaseToPublish,
	nt *zendesk.NewTicket) {
	local := mapping.CaseValues{Attributes: mapping.AttributesOf(cs.Attributes)}
	for _, f := range m.Pushed() {
		v := mapping.FieldValue(f, local)
		if v == mapping.NullJSON {
			continue
		}
		name, _ := mapping.AttributeName(f)
		ch, err := m.PushAttribute(name, v)
		if err != nil {
			a.Log().Warn("case attribute not published", "integration", in.Name, "case", cs.ID, "attribute", name,
				"error", err)
			continue
		}
		for _, cf := range ch.CustomFields {
			nt.CustomFields = append(nt.CustomFields, zendesk.CustomField{ID: cf.ID, Value: cf.Value})
		}
		nt.Tags = append(nt.Tags, ch.AddTags...)
	}
}
