package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// fieldsMapping is the mapping of these tests: a custom field both ways with a value map, an import-only custom
// field, a tag flag both ways, a push-only tag choice, and status overrides both ways.
const fieldsMapping = `custom_fields:
  - id: 360001
    attribute: product
    direction: both
    values:
      prod_widget: Widget
      prod_gadget: Gadget
  - id: 360002
    attribute: region
    direction: import
tags:
  - tag: vip
    attribute: vip
    direction: both
  - attribute: tier
    direction: push
    values:
      tier_gold: gold
      tier_silver: silver
status:
  import:
    hold: in_progress
  push:
    in_progress: hold
`

func mappingFile(t *testing.T, src string) *control.MappingFile {
	t.Helper()
	m, err := mapping.ParseFile([]byte(src))
	require.NoError(t, err)
	return &control.MappingFile{Mapping: m, Source: src}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// attributesOf reads a case's attributes column.
func (e *env) attributesOf(caseID int64) map[string]any {
	e.t.Helper()
	var b []byte
	require.NoError(e.t, e.store.DB.GetContext(e.ctx, &b, `SELECT attributes FROM cases WHERE id=$1`, caseID))
	var m map[string]any
	require.NoError(e.t, json.Unmarshal(b, &m))
	return m
}

// simExtras reads a ticket's tags and custom fields from the simulator.
func simExtras(t *testing.T, s *sim.Server, id int64) (tags []string, fields map[int64]any) {
	t.Helper()
	b, ok := s.Ticket(id)
	require.True(t, ok)
	var v struct {
		Tags         []string `json:"tags"`
		CustomFields []struct {
			ID    int64 `json:"id"`
			Value any   `json:"value"`
		} `json:"custom_fields"`
	}
	require.NoError(t, json.Unmarshal(b, &v))
	fields = map[int64]any{}
	for _, f := range v.CustomFields {
		fields[f.ID] = f.Value
	}
	return v.Tags, fields
}

func TestCustomFieldsAndTagsImportAndPush(t *testing.T) {
	e := newEnv(t)
	s, url := newSim(t, sim.Options{Seed: 21, Tickets: 200})
	ids := writable(t, s, 2)
	ticket, other := ids[0], ids[1]
	hold := s.Special().Hold
	tags := []string{"vip", "tier_gold", "unrelated"}
	require.NoError(t, s.ChangeTicket(ticket, sim.TicketChange{Tags: &tags, CustomFields: []sim.CustomFieldValue{
		{ID: 360001, Value: raw(`"prod_widget"`)}, {ID: 360002, Value: raw(`"emea"`)}, {ID: 999, Value: raw(`"x"`)}}}))
	e.integration("cf", url, func(sp *control.IntegrationSpec) {
		sp.TwoWay, sp.Mapping = true, mappingFile(t, fieldsMapping)
	})
	e.firstSyncDone("cf")

	// Import: custom field through its value map, import-only field as is, tag flag; the push-only tier is not
	// imported; a ticket without any is null / false.
	caseID := e.caseIDOf(ticket)
	assert.Equal(t, map[string]any{"product": "Widget", "region": "emea", "vip": true}, e.attributesOf(caseID))
	assert.Equal(t, map[string]any{"vip": false}, e.attributesOf(e.caseIDOf(other)))
	shown, err := e.ctl.Case(e.ctx, caseID)
	require.NoError(t, err)
	var cv struct {
		Attributes map[string]any `json:"attributes"`
	}
	require.NoError(t, json.Unmarshal(shown, &cv))
	assert.Equal(t, "Widget", cv.Attributes["product"], "case show -o json has the attributes")
	// The status override: a ticket on hold is an in-progress case (OroCRM's map says open).
	cases := e.cases("cf")
	assert.Equal(t, mapping.CaseStatusInProgress, cases[hold].Status)

	// Zendesk-side change, imported by the next sync.
	tags = []string{"tier_gold", "unrelated"}
	require.NoError(t, s.ChangeTicket(ticket, sim.TicketChange{Tags: &tags, CustomFields: []sim.CustomFieldValue{
		{ID: 360001, Value: raw(`"prod_gadget"`)}, {ID: 360002, Value: raw(`null`)}}}))
	e.syncWait("cf", time.Minute)
	assert.Equal(t, map[string]any{"product": "Gadget", "vip": false}, e.attributesOf(caseID))

	// CRM-side change (plain SQL, as the CRM would): product and vip go back (both), tier goes out (push),
	// region (import-only) does not.
	_, err = e.store.DB.ExecContext(e.ctx, `UPDATE cases SET attributes = attributes ||
		'{"product": "Widget", "vip": true, "tier": "silver", "region": "apac"}'::jsonb WHERE id=$1`, caseID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		tg, f := simExtras(t, s, ticket)
		return f[360001] == "prod_widget" && slices.Contains(tg, "vip") && slices.Contains(tg, "tier_silver")
	}, 30*time.Second, 100*time.Millisecond, "the attribute edits reach Zendesk")
	tg, f := simExtras(t, s, ticket)
	assert.ElementsMatch(t, []string{"unrelated", "vip", "tier_silver"}, tg, "tier_gold removed, other tags kept")
	assert.Nil(t, f[360002], "an import-only attribute is never pushed")
	puts := putBodies(s, ticket)
	require.NotEmpty(t, puts)
	body := withoutSafeUpdate(puts[len(puts)-1]["ticket"])
	assert.Equal(t, []any{map[string]any{"id": float64(360001), "value": "prod_widget"}}, body["custom_fields"])
	assert.ElementsMatch(t, []any{"vip", "tier_silver"}, body["additional_tags"])
	assert.Equal(t, []any{"tier_gold"}, body["remove_tags"])

	// No echo: the next import writes nothing back, and the CRM's values stay.
	res := e.syncWait("cf", time.Minute)
	assert.Zero(t, res.Counters.CasesUpdated)
	assert.Equal(t, map[string]any{"product": "Widget", "vip": true, "tier": "silver", "region": "apac"},
		e.attributesOf(caseID))

	// The case's history names each attribute change with its source.
	hist, err := e.store.CaseHistory(e.ctx, caseID)
	require.NoError(t, err)
	sources := map[string][]string{}
	for _, h := range hist {
		for f, ch := range h.Changes {
			if f == "attributes.product" {
				sources[h.Source] = append(sources[h.Source], fmtChange(ch.Old, ch.New))
			}
		}
	}
	assert.Equal(t, []string{"null→Widget", "Widget→Gadget"}, sources["import"])
	assert.Equal(t, []string{"Gadget→Widget"}, sources["local"])

	// The status override pushes too: in_progress goes out as hold.
	st := mapping.CaseStatusInProgress
	_, err = e.ctl.UpdateCase(e.ctx, caseID, control.CaseUpdate{Status: &st})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return simTicketOf(t, s, ticket).Status == "hold" },
		30*time.Second, 100*time.Millisecond, "in_progress is pushed as hold")

	// Publishing a CRM case sends its pushed attributes with the new ticket (not the import-only region), and its
	// status by the overridden map.
	created, err := e.ctl.CreateCase(e.ctx, control.CaseSpec{Integration: "cf", Subject: "From the CRM",
		Status: mapping.CaseStatusInProgress})
	require.NoError(t, err)
	var cs struct {
		ID int64 `json:"id"`
	}
	require.NoError(t, json.Unmarshal(created, &cs))
	_, err = e.store.DB.ExecContext(e.ctx, `UPDATE cases SET attributes = '{"product": "Gadget", "tier": "gold",
		"vip": false, "region": "emea"}' WHERE id=$1`, cs.ID)
	require.NoError(t, err)
	pub, err := e.ctl.Publish(e.ctx, cs.ID)
	require.NoError(t, err)
	tg, f = simExtras(t, s, pub.TicketID)
	assert.Equal(t, []string{"tier_gold"}, tg)
	assert.Equal(t, map[int64]any{360001: "prod_gadget"}, f)
	assert.Equal(t, "hold", simTicketOf(t, s, pub.TicketID).Status)
}

func TestRemapDerivesTenThousandCasesFromTheMirror(t *testing.T) {
	e := newEnv(t)
	s, url := newSim(t, sim.Options{Seed: 22, Tickets: 10000})
	ids := writable(t, s, 50)
	for i, id := range ids {
		v := raw(`"prod_widget"`)
		if i%2 == 1 {
			v = raw(`"prod_gadget"`)
		}
		require.NoError(t, s.ChangeTicket(id, sim.TicketChange{CustomFields: []sim.CustomFieldValue{{ID: 360001, Value: v}}}))
	}
	e.integration("big", url, nil)
	e.firstSyncDone("big")
	withCase := e.count(`SELECT count(*) FROM zd_tickets WHERE case_id IS NOT NULL`)
	require.Greater(t, withCase, 9000)
	hold := e.count(`SELECT count(*) FROM zd_tickets WHERE case_id IS NOT NULL AND status='hold'`)
	require.Positive(t, hold)
	touched := e.count(`SELECT count(*) FROM zd_tickets WHERE case_id IS NOT NULL AND (status='hold'
		OR zendesk_id = ANY($1))`, pq.Int64Array(ids))
	before := e.caseStamps()
	// Inactive, so that no sync pass runs meanwhile: every request the simulator sees would be the remap's.
	_, err := e.ctl.Deactivate(e.ctx, "big")
	require.NoError(t, err)

	// A mapping added after the first sync: remap derives the attributes and the overridden status from the mirror.
	_, err = e.ctl.EditIntegration(e.ctx, "big", control.IntegrationEdit{Mapping: mappingFile(t, `custom_fields:
  - id: 360001
    attribute: product
    values: {prod_widget: Widget}
status:
  import: {hold: in_progress}
`)})
	require.NoError(t, err)
	requests := len(s.Requests())
	started := time.Now()
	res, err := e.ctl.Remap(e.ctx, "big")
	require.NoError(t, err)
	t.Logf("remap of %d cases took %s", res.Examined, time.Since(started))
	assert.Equal(t, int64(withCase), res.Examined)
	// Every case gets its product attribute (null for most: nothing to write), and the hold ones change status.
	assert.Equal(t, int64(touched), res.Changed, "only the cases whose values change are written")
	assert.Equal(t, requests, len(s.Requests()), "remap reads no Zendesk")
	assert.Equal(t, 25, e.count(`SELECT count(*) FROM cases WHERE attributes->>'product' = 'Widget'`))
	assert.Equal(t, 25, e.count(`SELECT count(*) FROM cases WHERE attributes->>'product' = 'prod_gadget'`))
	assert.Equal(t, hold, e.count(`SELECT count(*) FROM cases c JOIN zd_tickets t ON t.case_id = c.id
		WHERE t.status = 'hold' AND c.status = 'in_progress'`))
	after := e.caseStamps()
	moved := 0
	for id, at := range after {
		if before[id] != at {
			moved++
		}
	}
	assert.Equal(t, touched, moved, "no other case's updated_at moved")

	// A second remap finds nothing to change, and the next sync takes the mapping as the merge base.
	res, err = e.ctl.Remap(e.ctx, "big")
	require.NoError(t, err)
	assert.Equal(t, int64(withCase), res.Examined)
	assert.Zero(t, res.Changed)
	_, err = e.ctl.Activate(e.ctx, "big")
	require.NoError(t, err)
	sync := e.syncWait("big", time.Minute)
	assert.Zero(t, sync.Counters.CasesUpdated)
}

func fmtChange(old, new any) string {
	str := func(v any) string {
		if v == nil {
			return "null"
		}
		return fmt.Sprint(v)
	}
	return str(old) + "→" + str(new)
}
