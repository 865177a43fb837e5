package main

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
	"github.com/zendesk-sync/zendesk-sync/secrets"
)

const (
	testKey   = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	testToken = "zd-token-that-must-never-be-printed"
)

type result struct {
	code        int
	out, errOut string
}

// cli runs starter commands in-process against one fresh database. Temporal points at a port nothing listens on,
// so a command that dials when it should not fails with a connection error instead of passing by luck.
type cli struct {
	t       *testing.T
	dbURL   string
	outputs []string // everything printed, to check the token never appears
}

func newCLI(t *testing.T) *cli {
	t.Setenv(secrets.EnvKey, testKey)
	t.Setenv(secrets.EnvKeyFile, "")
	return &cli{t: t, dbURL: testdb.New(t)}
}

func (c *cli) run(args ...string) result {
	c.t.Helper()
	var out, errOut bytes.Buffer
	full := append([]string{"--database-url", c.dbURL, "--temporal-address", "127.0.0.1:1"}, args...)
	code := run(context.Background(), full, &out, &errOut)
	c.outputs = append(c.outputs, out.String(), errOut.String())
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

// ok runs a command that must succeed.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	require.Equalf(c.t, 0, r.code, "starter %v: stderr %s", args, r.errOut)
	return r.out
}

// fails runs a command that must fail with the given exit code and a message containing want.
func (c *cli) fails(code int, want string, args ...string) {
	c.t.Helper()
	r := c.run(args...)
	assert.Equalf(c.t, code, r.code, "starter %v: stdout %s stderr %s", args, r.out, r.errOut)
	assert.Truef(c.t, strings.HasPrefix(r.errOut, "starter: "), "stderr %q", r.errOut)
	assert.Containsf(c.t, r.errOut, want, "starter %v", args)
}

func (c *cli) setup() {
	c.ok("user", "add", "--email", "admin@example.com", "--name", "Admin")
	c.ok("user", "add", "--email", "agent@example.com", "--name", "Ann Agent")
	c.ok("integration", "create", "--name", "acme", "--url", "https://acme.zendesk.com", "--email", "api@acme.com",
		"--token", testToken, "--owner", "admin@example.com", "--default-user-email", "bot@acme.com", "--no-check")
}

func keys(m map[string]interface{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestIntegrationCommands(t *testing.T) {
	c := newCLI(t)
	c.setup()

	var view map[string]interface{}
	require.NoError(t, json.Unmarshal([]byte(c.ok("integration", "show", "acme", "-o", "json")), &view))
	assert.Equal(t, []string{"active", "auth", "default_user_email", "email", "id", "interval", "mapping", "name", "owner",
		"priority", "two_way", "url", "webhook", "workflow_id"}, keys(view), "exactly the fields of DESIGN.md, never the token")
	assert.Nil(t, view["mapping"], "no mapping unless --mapping is given")
	assert.Equal(t, "acme", view["name"])
	assert.Equal(t, false, view["webhook"], "webhooks are off until `integration webhook`")
	assert.Equal(t, "admin@example.com", view["owner"])
	assert.Equal(t, "remote", view["priority"], "--priority defaults to remote")
	assert.Equal(t, "5m0s", view["interval"], "--interval defaults to 5m")
	assert.Equal(t, false, view["active"], "created inactive")
	assert.Equal(t, false, view["two_way"])

	text := c.ok("integration", "show", "acme")
	assert.Contains(t, text, "https://acme.zendesk.com")
	assert.Contains(t, text, "bot@acme.com")

	c.ok("integration", "create", "--name", "beta", "--url", "http://127.0.0.1:8090", "--email", "api@beta.com",
		"--token", testToken, "--owner", "agent@example.com", "--two-way", "--priority", "local", "--interval", "30s",
		"--sync-from", "2024-01-02", "--no-check")
	list := c.ok("integration", "list")
	assert.Regexp(t, `NAME\s+URL\s+ACTIVE\s+TWO-WAY\s+PRIORITY\s+INTERVAL`, list)
	assert.Regexp(t, `acme\s+https://acme.zendesk.com\s+no\s+no\s+remote\s+5m0s`, list)
	assert.Regexp(t, `beta\s+http://127.0.0.1:8090\s+no\s+yes\s+local\s+30s`, list)
	var views []map[string]interface{}
	require.NoError(t, json.Unmarshal([]byte(c.ok("integration", "list", "-o", "json")), &views))
	require.Len(t, views, 2)
	assert.Equal(t, "beta", views[1]["name"])

	// edit changes only what is given: the priority moves, two-way and the interval stay.
	c.ok("integration", "edit", "beta", "--priority", "remote")
	require.NoError(t, json.Unmarshal([]byte(c.ok("integration", "show", "beta", "-o", "json")), &view))
	assert.Equal(t, "remote", view["priority"])
	assert.Equal(t, true, view["two_way"])
	assert.Equal(t, "30s", view["interval"])
	c.ok("integration", "edit", "beta", "--two-way=false", "--interval", "1m")
	require.NoError(t, json.Unmarshal([]byte(c.ok("integration", "show", "beta", "-o", "json")), &view))
	assert.Equal(t, false, view["two_way"])
	assert.Equal(t, "1m0s", view["interval"])
	c.fails(2, `--priority must be remote or local`, "integration", "edit", "beta", "--priority", "both")
	c.fails(1, `integration "nope"`, "integration", "edit", "nope", "--priority", "local")
	c.fails(2, "--interval 0s is too short", "integration", "edit", "beta", "--interval", "0")
	c.fails(2, "is in the future", "integration", "edit", "beta", "--sync-from", "2999-01-01")

	// Failures of a fresh integration: an empty array, not null.
	assert.JSONEq(t, "[]", c.ok("failures", "acme", "-o", "json"))
	assert.Regexp(t, `ID\s+KIND\s+ZENDESK_ID\s+CREATED\s+REASON`, c.ok("failures", "acme"))

	for _, o := range c.outputs {
		assert.NotContains(t, o, testToken, "the token is never printed")
	}
}

func TestIntegrationCreateErrors(t *testing.T) {
	c := newCLI(t)
	c.ok("user", "add", "--email", "admin@example.com", "--name", "Admin")
	create := func(extra ...string) []string {
		args := map[string]string{"--name": "acme", "--url": "https://acme.zendesk.com", "--email": "api@acme.com",
			"--token": testToken, "--owner": "admin@example.com"}
		for i := 0; i+1 < len(extra); i += 2 {
			args[extra[i]] = extra[i+1]
		}
		out := []string{"integration", "create", "--no-check"}
		for k, v := range args {
			out = append(out, k+"="+v)
		}
		return out
	}
	c.fails(1, "--owner nobody@example.com is not a CRM user", create("--owner", "nobody@example.com")...)
	c.fails(2, `--url: zendesk: invalid URL "ftp://x"`, create("--url", "ftp://x")...)
	c.fails(2, "plain http is only allowed for loopback hosts", create("--url", "http://acme.zendesk.com")...)
	c.fails(2, "--priority must be remote or local", create("--priority", "sometimes")...)
	c.fails(2, "is not an email address", create("--email", "not-an-email")...)
	c.fails(2, `--sync-from "yesterday" is not a date`, create("--sync-from", "yesterday")...)
	c.fails(2, `required flag(s) "owner" not set`, "integration", "create", "--name", "x", "--url", "https://x.zendesk.com",
		"--email", "a@x.com", "--token", "t")
	c.fails(2, `-o/--output must be text or json`, "integration", "list", "-o", "yaml")
	// An interval is checked alike on create and edit: 0 is refused by both (exit 2), never taken as the default.
	c.fails(2, "--interval 0s is too short", create("--interval", "0")...)
	c.fails(2, "--interval 500ms is too short", create("--interval", "500ms")...)
	c.fails(2, "--sync-from 2999-01-01T00:00:00Z is in the future", create("--sync-from", "2999-01-01")...)

	t.Setenv(secrets.EnvKey, "")
	c.fails(1, secrets.ErrNoKey.Error(), create()...)
	t.Setenv(secrets.EnvKey, "abcd")
	c.fails(1, "secret key must be 64 hex characters", create()...)
	t.Setenv(secrets.EnvKey, testKey)

	// Nothing was created by the failed attempts; a good one still works, and its name is then taken.
	assert.JSONEq(t, "[]", c.ok("integration", "list", "-o", "json"))
	c.ok(create()...)
	r := c.run(create()...)
	assert.Equal(t, 1, r.code, r.errOut)
	c.fails(1, `integration "ACME": already exists`, create("--name", "ACME")...) // names are unique ignoring case
	for _, o := range c.outputs {
		assert.NotContains(t, o, testToken)
	}
}

func TestCaseCommands(t *testing.T) {
	c := newCLI(t)
	c.setup()

	var created map[string]interface{}
	require.NoError(t, json.Unmarshal([]byte(c.ok("case", "create", "--integration", "acme", "--subject", "Printer on fire",
		"--description", "smoke everywhere", "--priority", "high", "--assigned-to", "agent@example.com",
		"--contact-email", "jane@example.org", "--contact-name", "Jane Doe", "-o", "json")), &created))
	for _, k := range []string{"id", "integration", "subject", "description", "status", "priority", "assigned_to", "owner",
		"contact", "comments", "ticket", "updated_at"} {
		assert.Contains(t, created, k)
	}
	assert.Equal(t, "acme", created["integration"])
	assert.Equal(t, "open", created["status"], "status defaults to open")
	assert.Equal(t, "high", created["priority"])
	assert.Equal(t, "agent@example.com", created["assigned_to"])
	assert.Equal(t, "admin@example.com", created["owner"], "owner defaults to the integration's owner")
	assert.Nil(t, created["ticket"], "not published")
	contact, _ := created["contact"].(map[string]interface{})
	require.NotNil(t, contact)
	for _, k := range []string{"email", "first_name", "last_name", "name_prefix", "middle_name", "name_suffix"} {
		assert.Contains(t, contact, k)
	}
	assert.Equal(t, "jane@example.org", contact["email"])
	assert.Equal(t, "Jane", contact["first_name"])
	assert.Equal(t, "Doe", contact["last_name"])
	id := jsonID(t, created)

	// update changes only the flags given.
	var updated map[string]interface{}
	require.NoError(t, json.Unmarshal([]byte(c.ok("case", "update", id, "--status", "resolved", "-o", "json")), &updated))
	assert.Equal(t, "resolved", updated["status"])
	assert.Equal(t, "Printer on fire", updated["subject"])
	assert.Equal(t, "high", updated["priority"])
	assert.Equal(t, "agent@example.com", updated["assigned_to"])
	c.fails(2, "--status must be one of", "case", "update", id, "--status", "done")
	c.fails(1, "--assigned-to ghost@example.com is not a CRM user", "case", "update", id, "--assigned-to", "ghost@example.com")
	c.fails(2, "nothing to update", "case", "update", id)
	c.fails(2, "case ID must be a positive number", "case", "update", "abc", "--status", "open")

	c.ok("case", "comment", id, "--body", "Replaced the toner", "--author", "agent@example.com")
	c.ok("case", "comment", id, "--body", "internal note", "--private")
	c.fails(1, "--author ghost@example.com is not a CRM user", "case", "comment", id, "--body", "x", "--author", "ghost@example.com")
	c.fails(2, `required flag(s) "body" not set`, "case", "comment", id)

	c.ok("case", "create", "--integration", "acme", "--subject", "Second")
	c.fails(1, `integration "nope"`, "case", "create", "--integration", "nope", "--subject", "x")

	var list []map[string]interface{}
	require.NoError(t, json.Unmarshal([]byte(c.ok("case", "list", "-o", "json")), &list))
	require.Len(t, list, 2)
	first := list[0]
	assert.Equal(t, id, jsonID(t, first))
	comments, _ := first["comments"].([]interface{})
	require.Len(t, comments, 2, "oldest first")
	c0, c1 := comments[0].(map[string]interface{}), comments[1].(map[string]interface{})
	for _, k := range []string{"body", "public", "author_email", "created_at"} {
		assert.Contains(t, c0, k)
	}
	assert.Equal(t, "Replaced the toner", c0["body"])
	assert.Equal(t, true, c0["public"])
	assert.Equal(t, "agent@example.com", c0["author_email"])
	assert.Equal(t, false, c1["public"])
	assert.Nil(t, c1["author_email"], "no author given")
	assert.Nil(t, list[1]["contact"], "no contact: null")

	require.NoError(t, json.Unmarshal([]byte(c.ok("case", "list", "--integration", "acme", "-o", "json")), &list))
	assert.Len(t, list, 2)
	c.fails(1, `integration "nope"`, "case", "list", "--integration", "nope")

	table := c.ok("case", "list")
	assert.Regexp(t, `ID\s+INTEGRATION\s+STATUS\s+PRIORITY\s+TICKET\s+SUBJECT`, table)
	assert.Regexp(t, id+`\s+acme\s+resolved\s+high\s+-\s+Printer on fire`, table)

	var shown map[string]interface{}
	require.NoError(t, json.Unmarshal([]byte(c.ok("case", "show", id, "-o", "json")), &shown))
	assert.Equal(t, "Printer on fire", shown["subject"])
	text := c.ok("case", "show", id)
	assert.NotContains(t, text, `"subject"`, "text unless -o json")
	assert.Regexp(t, `subject:\s+Printer on fire`, text)
	assert.Regexp(t, `contact:\s+Jane Doe <jane@example.org>`, text)
	assert.Regexp(t, `assigned to:\s+agent@example.com`, text)
	assert.Regexp(t, `zendesk ticket:\s+- \(not in Zendesk\)`, text)
	assert.Regexp(t, `comments \(2\):\n.*agent@example.com  \(public\)\n    Replaced the toner\n.*unknown author  \(private\)`, text)
	c.fails(1, "not found", "case", "show", "999999")
}

func jsonID(t *testing.T, m map[string]interface{}) string {
	t.Helper()
	n, ok := m["id"].(float64)
	require.True(t, ok, "id is a number: %v", m["id"])
	return strconv.FormatInt(int64(n), 10)
}

// Commands that talk to Temporal refuse an inactive integration from the database alone, before any dial.
func TestTemporalCommandsOnInactiveIntegration(t *testing.T) {
	c := newCLI(t)
	c.setup()
	c.fails(1, `integration "acme" is not active (run `+"`starter integration activate acme`)", "sync", "acme")
	c.fails(1, `is not active`, "sync", "acme", "--wait")
	c.fails(1, `is not active`, "reset", "acme")
	c.fails(1, `integration "nope"`, "sync", "nope")
	c.fails(1, `is not active`, "progress", "acme", "--follow")

	var p map[string]interface{}
	require.NoError(t, json.Unmarshal([]byte(c.ok("progress", "acme", "-o", "json")), &p))
	for _, k := range []string{"integration", "active", "phase", "first_sync_done", "tickets_synced", "cases_created",
		"cases_updated", "comments_synced", "failures", "last_sync_at", "last_error"} {
		assert.Contains(t, p, k)
	}
	assert.Equal(t, "inactive", p["phase"])
	assert.Equal(t, false, p["active"])
	assert.Nil(t, p["last_sync_at"])
	assert.Nil(t, p["last_error"])
	text := c.ok("progress", "acme")
	assert.Regexp(t, `phase:\s+inactive`, text)
	assert.Regexp(t, `last sync at:\s+never`, text)
	for _, o := range c.outputs {
		assert.NotContains(t, o, "127.0.0.1:1", "nothing dialed Temporal")
	}
}

// Every command answers --help with exit code 0, a description and examples, without any connection.
func TestHelpForEveryCommand(t *testing.T) {
	t.Setenv(secrets.EnvKey, "")
	var walk func(cmd *cobra.Command, path []string)
	seen := 0
	walk = func(cmd *cobra.Command, path []string) {
		if cmd.Name() == "help" {
			return
		}
		seen++
		var out, errOut bytes.Buffer
		args := append(append([]string{}, path...), "--help")
		code := run(context.Background(), append([]string{"--database-url", "postgres://127.0.0.1:1/none"}, args...), &out, &errOut)
		assert.Equalf(t, 0, code, "%v: %s", args, errOut.String())
		assert.NotEmptyf(t, cmd.Short, "%v has a one-line description", args)
		assert.Containsf(t, out.String(), cmd.Short, "%v", args)
		assert.Containsf(t, out.String(), "Examples:", "%v", args)
		for _, sub := range cmd.Commands() {
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	root, _ := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
	walk(root, nil)
	assert.GreaterOrEqual(t, seen, 20)

	for _, bad := range [][]string{{}, {"bogus"}, {"integration"}, {"integration", "bogus"}, {"case", "show"},
		{"integration", "list", "--no-such-flag"}} {
		var out, errOut bytes.Buffer
		assert.Equalf(t, 2, run(context.Background(), bad, &out, &errOut), "%v is a usage error", bad)
		assert.Contains(t, errOut.String(), "starter: ")
	}
}

func TestParseDate(t *testing.T) {
	d, err := parseDate("2024-03-05")
	require.NoError(t, err)
	assert.Equal(t, "2024-03-05T00:00:00Z", d.Format("2006-01-02T15:04:05Z07:00"))
	d, err = parseDate("2024-03-05T10:00:00+02:00")
	require.NoError(t, err)
	assert.Equal(t, "2024-03-05T08:00:00Z", d.UTC().Format("2006-01-02T15:04:05Z07:00"))
	_, err = parseDate("05/03/2024")
	assert.Error(t, err)
	assert.Equal(t, "abcdefghi…", truncate("abcdefghijkl", 10))
	assert.Equal(t, "a b c", oneLine("a\tb\n c"))
}

// A step that keeps failing and is being retried shows in the text output, beside its error.
func TestProgressTextShowsAStepBeingRetried(t *testing.T) {
	var out bytes.Buffer
	a := &app{out: &out}
	msg, step := "fetch tickets from cursor \"\": Zendesk is unreachable: connection refused", "FetchTicketPage"
	require.NoError(t, a.printProgress(control.ProgressView{Integration: "acme", Active: true, Phase: "incremental",
		LastError: &msg, Attempts: 4, Retrying: &step}))
	assert.Regexp(t, `last error:\s+fetch tickets from cursor "": Zendesk is unreachable`, out.String())
	assert.Regexp(t, `retrying:\s+FetchTicketPage, attempt 4`, out.String())

	out.Reset()
	require.NoError(t, a.printProgress(control.ProgressView{Integration: "acme", Active: true, Phase: "waiting"}))
	assert.NotContains(t, out.String(), "retrying")
}
