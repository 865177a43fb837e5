package importing

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// The import's translation of one ticket, case by case, without PostgreSQL.
func TestTranslateTicket(t *testing.T) {
	const owner, agentUser, contact = int64(1), int64(7), int64(30)
	created := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	updated := created.Add(time.Hour)
	str := func(s string) *string { return &s }
	id := func(v int64) *int64 { return &v }
	ticket := func(status, subject string, mod func(*zendesk.Ticket)) *zendesk.Ticket {
		tk := &zendesk.Ticket{ID: 100, URL: "https://x.zendesk.com/api/v2/tickets/100.json", Subject: str(subject),
			Description: "help", Status: status, Priority: str("high"), RequesterID: id(11), AssigneeID: id(12),
			CreatedAt: created, UpdatedAt: updated, GeneratedTimestamp: updated.Unix(),
			Raw: json.RawMessage(`{"id":100,"status":"` + status + `","subject":"` + subject + `"}`)}
		if mod != nil {
			mod(tk)
		}
		return tk
	}
	parties := map[int64]*mapping.Party{
		11: {ZendeskID: 11, Role: mapping.RoleEndUser, Email: "c@example.com", ContactID: contact},
		12: {ZendeskID: 12, Role: "agent", Email: "a@example.com", CRMUserID: agentUser},
	}
	synced := func(subject, status string) json.RawMessage {
		b, _ := json.Marshal(mapping.CaseValues{Subject: subject, Description: "help", Status: status, Priority: "high",
			OwnerID: agentUser, AssignedToID: agentUser, ContactID: contact, StatusOK: true, PriorityOK: true})
		return b
	}
	localCase := func(subject, status string) *store.CaseRow {
		return &store.CaseRow{ID: 500, Subject: subject, Description: "help", Status: status, Priority: "high",
			OwnerUserID: id(agentUser), AssignedToUserID: id(agentUser), ContactID: id(contact)}
	}
	mirrored := func(gen int, raw json.RawMessage, c *store.CaseRow, syncedAs json.RawMessage) *store.ExistingTicket {
		digest := store.RawDigestOf(raw)
		ex := &store.ExistingTicket{ZendeskID: 100, Status: "open", SyncGeneration: gen, Synced: syncedAs,
			RawDigest: &digest, Case: c}
		if c != nil {
			ex.CaseID = &c.ID
		}
		return ex
	}
	oneWay := importRules{Priority: mapping.Remote, Generation: 2}
	twoWay := oneWay
	twoWay.TwoWay = true

	tests := []struct {
		name string
		tk   *zendesk.Ticket
		ex   *store.ExistingTicket
		r    importRules
		want func(t *testing.T, got translated)
	}{
		{"a new ticket gets a new case from its people", ticket("open", "Printer", nil), nil, oneWay,
			func(t *testing.T, got translated) {
				require.NotNil(t, got.NewCase)
				assert.Nil(t, got.ChangedCase)
				c := got.NewCase
				assert.Equal(t, int64(100), c.TicketID)
				assert.Equal(t, "Printer", c.Subject)
				assert.Equal(t, mapping.CaseStatusOpen, c.Status)
				assert.Equal(t, "high", c.Priority)
				assert.Equal(t, id(agentUser), c.AssignedToUserID)
				assert.Equal(t, id(contact), c.ContactID)
				assert.Equal(t, &created, c.ReportedAt)
				assert.Nil(t, c.ClosedAt)
				assert.Equal(t, int64(100), got.Ticket.ZendeskID)
				assert.Equal(t, "Printer", got.Ticket.Subject)
				assert.Equal(t, 2, got.Ticket.SyncGeneration)
				assert.Equal(t, store.RawDigestOf(got.Ticket.Raw), got.Ticket.RawDigest)
				var s mapping.CaseValues
				require.NoError(t, json.Unmarshal(got.Ticket.Synced, &s))
				assert.Equal(t, "Printer", s.Subject)
			}},
		{"a new closed ticket's case is closed at its last update", ticket("closed", "Done", nil), nil, oneWay,
			func(t *testing.T, got translated) {
				require.NotNil(t, got.NewCase)
				assert.Equal(t, mapping.CaseStatusClosed, got.NewCase.Status)
				assert.Equal(t, &updated, got.NewCase.ClosedAt)
			}},
		{"a ticket deleted when first seen is mirrored without a case", ticket("deleted", "Gone", nil), nil, oneWay,
			func(t *testing.T, got translated) {
				assert.False(t, got.Skip)
				assert.Nil(t, got.NewCase)
				assert.Nil(t, got.ChangedCase)
				assert.Equal(t, "deleted", got.Ticket.Status)
			}},
		{"a case deleted in the CRM is not created again", ticket("open", "Printer", nil),
			func() *store.ExistingTicket {
				ex := mirrored(1, nil, nil, nil)
				ex.CaseDeletedAt = &updated
				return ex
			}(), oneWay,
			func(t *testing.T, got translated) {
				assert.Nil(t, got.NewCase)
				assert.Equal(t, int64(100), got.Ticket.ZendeskID)
			}},
		{"a ticket unchanged since this generation's sync is skipped", ticket("open", "Printer", nil),
			mirrored(2, ticket("open", "Printer", nil).Raw, localCase("Printer", "open"), synced("Printer", "open")),
			oneWay, func(t *testing.T, got translated) { assert.True(t, got.Skip) }},
		{"the same ticket after a reset is derived again", ticket("open", "Printer", nil),
			mirrored(1, ticket("open", "Printer", nil).Raw, localCase("Printer", "open"), synced("Printer", "open")),
			oneWay, func(t *testing.T, got translated) {
				assert.False(t, got.Skip)
				assert.Nil(t, got.ChangedCase, "nothing differs from the case")
			}},
		{"a subject changed in Zendesk changes the case", ticket("open", "Printer on fire", nil),
			mirrored(2, nil, localCase("Printer", "open"), synced("Printer", "open")), oneWay,
			func(t *testing.T, got translated) {
				require.NotNil(t, got.ChangedCase)
				assert.Equal(t, int64(500), got.ChangedCase.ID)
				assert.Equal(t, "Printer on fire", got.ChangedCase.Subject)
				assert.Nil(t, got.ChangedCase.ClosedAt)
				assert.Empty(t, got.Conflicts)
			}},
		{"a case closed by its ticket is closed at the ticket's update", ticket("closed", "Printer", nil),
			mirrored(2, nil, localCase("Printer", "open"), synced("Printer", "open")), oneWay,
			func(t *testing.T, got translated) {
				require.NotNil(t, got.ChangedCase)
				assert.Equal(t, mapping.CaseStatusClosed, got.ChangedCase.Status)
				assert.Equal(t, &updated, got.ChangedCase.ClosedAt)
			}},
		{"two-way: a local edit Zendesk did not touch is kept", ticket("open", "Printer", nil),
			mirrored(2, nil, localCase("Local subject", "open"), synced("Printer", "open")), twoWay,
			func(t *testing.T, got translated) {
				assert.Nil(t, got.ChangedCase)
				assert.Empty(t, got.Conflicts)
			}},
		{"two-way: both sides changed the subject, remote wins and the conflict is recorded",
			ticket("open", "Remote subject", nil),
			mirrored(2, nil, localCase("Local subject", "open"), synced("Printer", "open")), twoWay,
			func(t *testing.T, got translated) {
				require.NotNil(t, got.ChangedCase)
				assert.Equal(t, "Remote subject", got.ChangedCase.Subject)
				require.Len(t, got.Conflicts, 1)
				c := got.Conflicts[0]
				assert.Equal(t, id(500), c.CaseID)
				assert.Equal(t, int64(100), c.TicketID)
				assert.Equal(t, "subject", c.Field)
				assert.Equal(t, "Printer", *c.BaseValue)
				assert.Equal(t, "Local subject", *c.LocalValue)
				assert.Equal(t, "Remote subject", *c.RemoteValue)
				assert.Equal(t, "remote", c.Winner)
			}},
		{"two-way with local priority: the local subject stays", ticket("open", "Remote subject", nil),
			mirrored(2, nil, localCase("Local subject", "open"), synced("Printer", "open")),
			importRules{TwoWay: true, Priority: mapping.Local, Generation: 2},
			func(t *testing.T, got translated) {
				assert.Nil(t, got.ChangedCase)
				require.Len(t, got.Conflicts, 1)
				assert.Equal(t, "local", got.Conflicts[0].Winner)
			}},
		{"two-way: a field with a local change not pushed yet is left to the push, its merge base kept",
			ticket("open", "Remote subject", nil),
			func() *store.ExistingTicket {
				ex := mirrored(2, nil, localCase("Local subject", "open"), synced("Printer", "open"))
				ex.PendingFields = []string{"subject"}
				return ex
			}(), twoWay,
			func(t *testing.T, got translated) {
				assert.Nil(t, got.ChangedCase, "the local subject stays for the push to decide")
				assert.Empty(t, got.Conflicts)
				var s mapping.CaseValues
				require.NoError(t, json.Unmarshal(got.Ticket.Synced, &s))
				assert.Equal(t, "Printer", s.Subject, "the merge base keeps the deferred field's old value")
			}},
		{"an unmappable status warns and leaves the case's status", ticket("weird", "Printer", nil), nil, oneWay,
			func(t *testing.T, got translated) {
				require.NotNil(t, got.NewCase)
				assert.Equal(t, mapping.DefaultCaseStatus, got.NewCase.Status)
				assert.NotEmpty(t, got.Warnings)
			}},
		{"people the page did not resolve give the integration owner", ticket("open", "Printer",
			func(tk *zendesk.Ticket) { tk.RequesterID, tk.AssigneeID = id(98), id(99) }), nil, oneWay,
			func(t *testing.T, got translated) {
				require.NotNil(t, got.NewCase)
				assert.Equal(t, id(owner), got.NewCase.OwnerUserID)
				assert.Nil(t, got.NewCase.ContactID)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			derive := func(t *zendesk.Ticket) (mapping.CaseValues, []string) { return deriveCase(t, parties, owner) }
			got, err := translateTicket(tc.tk, tc.ex, derive, tc.r)
			require.NoError(t, err)
			tc.want(t, got)
		})
	}
}

// deriveCase derives the case values as activities.People.CaseValues does, from a fixed table of people.
func deriveCase(t *zendesk.Ticket, parties map[int64]*mapping.Party, ownerID int64) (mapping.CaseValues, []string) {
	party := func(id *int64) *mapping.Party {
		if id == nil {
			return nil
		}
		return parties[*id]
	}
	return mapping.DeriveCase(mapping.TicketFacts{Subject: t.Subject, Description: t.Description, Status: t.Status,
		Priority: t.Priority}, party(t.RequesterID), party(t.SubmitterID), party(t.AssigneeID), ownerID)
}
