package sim

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTagsAndCustomFieldsLikeZendesk(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.s.Special().Open
	path := fmt.Sprintf("/api/v2/tickets/%d.json", id)
	type view struct {
		Ticket struct {
			Tags         []string          `json:"tags"`
			CustomFields []json.RawMessage `json:"custom_fields"`
			Fields       []json.RawMessage `json:"fields"`
		} `json:"ticket"`
		Audit struct {
			Events []map[string]any `json:"events"`
		} `json:"audit"`
	}
	var v view
	e.getJSON(path, &v)
	assert.Equal(t, []string{}, v.Ticket.Tags, "a generated ticket has no tags")
	assert.Empty(t, v.Ticket.CustomFields)

	// tags replaces (split at spaces, each once), custom_fields sets what it lists.
	resp, b := e.do("PUT", path, map[string]any{"ticket": map[string]any{"tags": []string{"vip", "a b", "vip"},
		"custom_fields": []map[string]any{{"id": 7, "value": "x"}, {"id": 8, "value": []string{"m", "n"}}}}})
	require.Equal(t, 200, resp.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, &v))
	assert.Equal(t, []string{"vip", "a", "b"}, v.Ticket.Tags)
	assert.Equal(t, []string{`{"id":7,"value":"x"}`, `{"id":8,"value":["m","n"]}`}, rawStrings(v.Ticket.CustomFields))
	assert.Equal(t, v.Ticket.CustomFields, v.Ticket.Fields, "fields duplicates custom_fields")
	assert.Len(t, v.Audit.Events, 3, "one change for the tags, one per custom field (named by its id)")
	assert.Equal(t, "tags", v.Audit.Events[0]["field_name"])
	assert.Equal(t, "7", v.Audit.Events[1]["field_name"])

	// additional_tags and remove_tags leave the other tags; a null value clears a field, which stays listed.
	resp, b = e.do("PUT", path, map[string]any{"ticket": map[string]any{"additional_tags": []string{"c", "vip"},
		"remove_tags": []string{"a"}, "custom_fields": []map[string]any{{"id": 7, "value": nil}}}})
	require.Equal(t, 200, resp.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, &v))
	assert.Equal(t, []string{"vip", "b", "c"}, v.Ticket.Tags)
	assert.Equal(t, []string{`{"id":7,"value":null}`, `{"id":8,"value":["m","n"]}`}, rawStrings(v.Ticket.CustomFields))

	// Bad input is refused as Zendesk does: 422 naming the field.
	resp, b = e.do("PUT", path, map[string]any{"ticket": map[string]any{"custom_fields": "x"}})
	assert.Equal(t, 422, resp.StatusCode)
	assert.Contains(t, string(b), "custom_fields")
	resp, _ = e.do("PUT", path, map[string]any{"ticket": map[string]any{"custom_fields": []map[string]any{{"value": 1}}}})
	assert.Equal(t, 422, resp.StatusCode)

	// The control API changes them as an agent would, and the export carries them.
	tags := []string{"from_agent"}
	require.NoError(t, e.s.ChangeTicket(id, TicketChange{Tags: &tags,
		CustomFields: []CustomFieldValue{{ID: 8, Value: json.RawMessage(`"single"`)}}}))
	raw, ok := e.s.Ticket(id)
	require.True(t, ok)
	var tk struct {
		Tags         []string          `json:"tags"`
		CustomFields []json.RawMessage `json:"custom_fields"`
	}
	require.NoError(t, json.Unmarshal(raw, &tk))
	assert.Equal(t, []string{"from_agent"}, tk.Tags)
	assert.Equal(t, []string{`{"id":7,"value":null}`, `{"id":8,"value":"single"}`}, rawStrings(tk.CustomFields))
}

func rawStrings(rs []json.RawMessage) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}
