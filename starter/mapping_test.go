package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestMappingFlagAndShow(t *testing.T) {
	c := newCLI(t)
	c.ok("user", "add", "--email", "admin@example.com", "--name", "Admin")
	good := writeFile(t, "fields.yaml", `# acme's ticket form
custom_fields:
  - id: 360001
    attribute: product
    direction: both
    values: {prod_widget: Widget}
tags:
  - tag: vip
    attribute: vip
`)
	c.ok("integration", "create", "--name", "acme", "--url", "https://acme.zendesk.com", "--email", "api@acme.com",
		"--token", testToken, "--owner", "admin@example.com", "--mapping", good, "--no-check")
	var view struct {
		Mapping map[string]any `json:"mapping"`
	}
	require.NoError(t, json.Unmarshal([]byte(c.ok("integration", "show", "acme", "-o", "json")), &view))
	assert.JSONEq(t, `{"custom_fields": [{"id": 360001, "attribute": "product", "direction": "both",
		"values": [{"zendesk": "prod_widget", "attribute": "Widget"}]}],
		"tags": [{"attribute": "vip", "direction": "import", "tag": "vip"}]}`, mustJSON(t, view.Mapping))
	text := c.ok("integration", "show", "acme")
	assert.Contains(t, text, "# acme's ticket form", "the file is shown as written")
	assert.Contains(t, text, "    attribute: product")

	// A bad file names the file and the line of each problem, exit 2; the stored mapping stays.
	bad := writeFile(t, "bad.yaml", "custom_fields:\n  - id: 1\n    attribute: a\n    direction: pull\ntags:\n  - tag: VIP\n    attribute: b\n")
	r := c.run("integration", "edit", "acme", "--mapping", bad)
	assert.Equal(t, 2, r.code, r.errOut)
	assert.Contains(t, r.errOut, bad+":4: direction must be import, push or both")
	assert.Contains(t, r.errOut, bad+`:6: tag "VIP" is not a Zendesk tag`)
	c.fails(2, "--mapping: open", "integration", "edit", "acme", "--mapping", filepath.Join(t.TempDir(), "none.yaml"))
	c.fails(2, "not valid YAML", "integration", "create", "--name", "beta", "--url", "https://beta.zendesk.com",
		"--email", "api@beta.com", "--token", testToken, "--owner", "admin@example.com", "--no-check",
		"--mapping", writeFile(t, "syntax.yaml", "tags: [\n"))
	c.fails(1, `integration "beta"`, "integration", "show", "beta")
	require.NoError(t, json.Unmarshal([]byte(c.ok("integration", "show", "acme", "-o", "json")), &view))
	assert.NotNil(t, view.Mapping)

	// Usage errors of remap: exit 2 before anything is dialled.
	c.fails(2, "", "integration", "remap")
	c.fails(2, "", "integration", "remap", "acme", "extra")
	c.fails(2, "unknown flag", "integration", "remap", "acme", "--bogus")
}

func TestMappingRemovedByAnEmptyFile(t *testing.T) {
	c := newCLI(t)
	c.ok("user", "add", "--email", "admin@example.com", "--name", "Admin")
	c.ok("integration", "create", "--name", "acme", "--url", "https://acme.zendesk.com", "--email", "api@acme.com",
		"--token", testToken, "--owner", "admin@example.com", "--no-check",
		"--mapping", writeFile(t, "m.yaml", "status:\n  import: {hold: in_progress}\n"))
	var view map[string]any
	require.NoError(t, json.Unmarshal([]byte(c.ok("integration", "show", "acme", "-o", "json")), &view))
	assert.Equal(t, map[string]any{"status": map[string]any{"import": []any{map[string]any{"from": "hold", "to": "in_progress"}}}},
		view["mapping"])
	// edit needs Temporal only for an active integration: this one is inactive.
	c.ok("integration", "edit", "acme", "--mapping", writeFile(t, "empty.yaml", "# nothing mapped any more\n"))
	require.NoError(t, json.Unmarshal([]byte(c.ok("integration", "show", "acme", "-o", "json")), &view))
	assert.Nil(t, view["mapping"])
	assert.Contains(t, c.ok("integration", "show", "acme"), "OroCRM's status and priority maps")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
