package main

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// `sync --dry-run` and `integration preview` against the simulator, without a worker or Temporal (the CLI's
// Temporal address is a dead port): their JSON keys, their text, and their usage errors (exit 2).
func TestDryRunAndPreviewCommands(t *testing.T) {
	c := newCLI(t)
	c.setup()
	s := sim.New(sim.Options{Seed: 5, Tickets: 60, Email: "api@sim.test", Token: testToken})
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	s.SetBaseURL(hs.URL)
	c.ok("integration", "create", "--name", "sim", "--url", hs.URL, "--email", "api@sim.test", "--token", testToken,
		"--owner", "admin@example.com", "--no-check")

	var dry map[string]interface{}
	require.NoError(t, json.Unmarshal([]byte(c.ok("sync", "sim", "--dry-run", "-o", "json")), &dry))
	assert.Equal(t, []string{"agents_falling_back", "cases", "conflicts", "contacts_to_create", "integration",
		"pushes", "requests", "tickets_read", "totals"}, keys(dry))
	assert.Equal(t, "sim", dry["integration"])
	cases := dry["cases"].([]interface{})
	require.NotEmpty(t, cases)
	first := cases[0].(map[string]interface{})
	assert.Equal(t, []string{"action", "case_id", "changes", "ticket_id"}, keys(first))
	assert.Nil(t, first["case_id"], "a case to create has no id yet")
	assert.Equal(t, "create", first["action"])
	assert.Contains(t, first["changes"], "subject")
	assert.Equal(t, []interface{}{}, dry["pushes"])
	assert.Equal(t, []interface{}{}, dry["conflicts"])

	text := c.ok("sync", "sim", "--dry-run")
	assert.Contains(t, text, "dry-run of the next pass of sim: nothing was written")
	assert.Regexp(t, `cases:\s+\d+ to create, 0 to update`, text)
	assert.Regexp(t, `(?m)^create  ticket \d+$`, text)
	assert.Contains(t, text, `subject: (none) → "`)

	var pv map[string]interface{}
	require.NoError(t, json.Unmarshal([]byte(c.ok("integration", "preview", "sim", "--limit", "20", "-o", "json")), &pv))
	assert.Equal(t, []string{"agents_matched", "agents_unmatched", "cases_to_create", "complete", "contacts_matched",
		"contacts_to_create", "failures", "integration", "limit", "priority", "requests", "status",
		"tickets_read", "tickets_without_case"}, keys(pv))
	assert.EqualValues(t, 20, pv["tickets_read"])
	assert.EqualValues(t, 1, pv["requests"])
	assert.Equal(t, false, pv["complete"])
	pvText := c.ok("integration", "preview", "sim", "--limit", "1000")
	assert.Contains(t, pvText, "first sync of sim, previewed: nothing was written")
	assert.Regexp(t, `tickets read:\s+60 \(the whole export\)`, pvText)

	c.fails(2, "--dry-run and --wait cannot be combined", "sync", "sim", "--dry-run", "--wait")
	c.fails(2, "--limit must be a positive number", "integration", "preview", "sim", "--limit", "0")
	c.fails(2, "invalid argument", "integration", "preview", "sim", "--limit", "many")
	c.fails(2, "takes 1 argument", "integration", "preview")
	c.fails(2, "unknown flag", "sync", "sim", "--dry-run", "--nope")
	c.fails(1, `integration "nope"`, "integration", "preview", "nope")
	c.fails(1, `integration "nope"`, "sync", "nope", "--dry-run")
	for _, o := range c.outputs {
		assert.NotContains(t, o, testToken, "the token is never printed")
	}
}
