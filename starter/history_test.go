package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `case history` shows a case's changes with their sources, as text and as the JSON of DESIGN.md; the starter's
// own edits say so. `integration history` lists passes (none before any sync).
func TestHistoryCommands(t *testing.T) {
	c := newCLI(t)
	c.setup()
	var created map[string]interface{}
	require.NoError(t, json.Unmarshal([]byte(c.ok("case", "create", "--integration", "acme", "--subject", "Printer on fire",
		"-o", "json")), &created))
	id := jsonID(t, created)
	c.ok("case", "update", id, "--status", "resolved")

	var h []map[string]interface{}
	require.NoError(t, json.Unmarshal([]byte(c.ok("case", "history", id, "-o", "json")), &h))
	require.Len(t, h, 2)
	for _, e := range h {
		assert.ElementsMatch(t, []string{"at", "source", "ref", "changes"}, keys(e))
		assert.Equal(t, "local", e["source"])
		assert.Contains(t, e["ref"], "via starter")
	}
	changes := h[1]["changes"].(map[string]interface{})
	assert.Equal(t, map[string]interface{}{"old": "open", "new": "resolved"}, changes["status"])

	text := c.ok("case", "history", id)
	assert.Contains(t, text, `status: "open" → "resolved"`)
	assert.Contains(t, text, `subject: (none) → "Printer on fire"`)

	c.fails(1, "case 999999: not found", "case", "history", "999999")
	assert.Contains(t, c.ok("integration", "history", "acme"), "no sync pass in that time")
	assert.Equal(t, "[]\n", c.ok("integration", "history", "acme", "--since", "24h", "-o", "json"))
	c.fails(2, "--since must be a positive duration", "integration", "history", "acme", "--since", "0s")
}
