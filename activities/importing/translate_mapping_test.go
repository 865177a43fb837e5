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

func TestTranslateTicketAppliesTheMapping(t *testing.T) {
	m, err := mapping.ParseFile([]byte(`custom_fields:
  - {id: 1, attribute: product, direction: both, values: {prod_a: A}}
tags:
  - {tag: vip, attribute: vip}
  - {attribute: tier, direction: push, values: {tier_gold: gold}}
status:
  import: {hold: in_progress}
`))
	require.NoError(t, err)
	str := func(s string) *string { return &s }
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ticket := func(product string, tags ...string) *zendesk.Ticket {
		raw := json.RawMessage(`{"id":100,"product":"` + product + `"}`)
		return &zendesk.Ticket{ID: 100, Subject: str("s"), Status: "hold", Priority: str("normal"), Tags: tags,
			CustomFields: []zendesk.CustomField{{ID: 1, Value: json.RawMessage(`"` + product + `"`)}},
			CreatedAt:    at, UpdatedAt: at, Raw: raw}
	}
	derive := func(tk *zendesk.Ticket) (mapping.CaseValues, []string) { return deriveCase(tk, nil, 1) }
	rules := importRules{Priority: mapping.Remote, Generation: 1, Mapping: m}

	// A new ticket: the attributes of the import directions, the overridden status; push-only tier is not imported.
	got, err := translateTicket(ticket("prod_a", "vip", "tier_gold"), nil, derive, rules)
	require.NoError(t, err)
	require.NotNil(t, got.NewCase)
	assert.JSONEq(t, `{"product": "A", "vip": true}`, string(got.NewCase.Attributes))
	assert.Equal(t, mapping.CaseStatusInProgress, got.NewCase.Status)
	var synced mapping.CaseValues
	require.NoError(t, json.Unmarshal(got.Ticket.Synced, &synced))
	assert.Equal(t, map[string]string{"product": `"A"`, "vip": "true"}, synced.Attributes, "the merge base keeps them")

	// A changed ticket: the mapped attributes change, the CRM's own attribute stays.
	c := &store.CaseRow{ID: 500, Subject: "s", Status: mapping.CaseStatusInProgress, Priority: "normal",
		OwnerUserID: ptrTo(int64(1)), AssignedToUserID: ptrTo(int64(1)),
		Attributes: json.RawMessage(`{"product": "A", "vip": true, "crm_own": 3}`)}
	ex := &store.ExistingTicket{ZendeskID: 100, SyncGeneration: 1, Synced: got.Ticket.Synced, Case: c, CaseID: &c.ID}
	got, err = translateTicket(ticket("prod_b"), ex, derive, rules)
	require.NoError(t, err)
	require.NotNil(t, got.ChangedCase)
	assert.JSONEq(t, `{"product": "prod_b", "vip": false, "crm_own": 3}`, string(got.ChangedCase.Attributes),
		"a value the map does not list passes as it is; the CRM's own attribute stays")

	// Two-way, local priority: an attribute changed on both sides is a conflict the CRM wins.
	c.Attributes = json.RawMessage(`{"product": "Local", "vip": true}`)
	rules.TwoWay, rules.Priority = true, mapping.Local
	got, err = translateTicket(ticket("prod_b", "vip"), ex, derive, rules)
	require.NoError(t, err)
	require.Len(t, got.Conflicts, 1)
	assert.Equal(t, "attributes.product", got.Conflicts[0].Field)
	assert.Equal(t, mapping.WinnerLocal, got.Conflicts[0].Winner)
	assert.Nil(t, got.ChangedCase, "nothing else changed")
}

func ptrTo[T any](v T) *T { return &v }
