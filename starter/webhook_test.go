package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The command line of `integration webhook`: one of --url and --remove, a URL Zendesk can reach safely. (Turning
// webhooks on against the simulator is covered end to end in e2e/webhook_test.go.)
func TestIntegrationWebhookCommandLine(t *testing.T) {
	c := newCLI(t)
	c.setup()
	c.fails(2, "give either --url URL or --remove", "integration", "webhook", "acme")
	c.fails(2, "give either --url URL or --remove", "integration", "webhook", "acme", "--url", "https://x.example.com",
		"--remove")
	c.fails(2, "plain http is only accepted for loopback hosts", "integration", "webhook", "acme", "--url",
		"http://sync.example.com")
	c.fails(2, "must not contain a user, a query or a fragment", "integration", "webhook", "acme", "--url",
		"https://sync.example.com/?a=1")
	c.fails(1, "not found", "integration", "webhook", "nosuch", "--url", "https://sync.example.com")
	// Nothing registered: removing is a no-op that says webhooks are off.
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(c.ok("integration", "webhook", "acme", "--remove", "-o", "json")), &v))
	assert.Equal(t, false, v["webhook"])
	assert.Contains(t, c.ok("integration", "show", "acme"), "webhook")
}
