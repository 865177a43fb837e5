package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// case list pages by id with --limit and --after, streams JSON as one array indented like every other JSON output,
// and says on stderr where the next page starts.
func TestCaseListPages(t *testing.T) {
	c := newCLI(t)
	c.setup()
	var ids []string
	for i := 0; i < 7; i++ {
		var created map[string]interface{}
		require.NoError(t, json.Unmarshal([]byte(c.ok("case", "create", "--integration", "acme", "--subject",
			fmt.Sprintf("case %d", i), "-o", "json")), &created))
		ids = append(ids, jsonID(t, created))
	}
	page := func(args ...string) ([]string, result) {
		r := c.run(append([]string{"case", "list", "-o", "json"}, args...)...)
		require.Equal(t, 0, r.code, r.errOut)
		var list []map[string]interface{}
		require.NoError(t, json.Unmarshal([]byte(r.out), &list), r.out)
		var got []string
		for _, m := range list {
			got = append(got, jsonID(t, m))
		}
		return got, r
	}
	all, r := page()
	assert.Equal(t, ids, all)
	assert.Empty(t, r.errOut)
	assert.True(t, strings.HasPrefix(r.out, "[\n  {\n    \"id\": "), "two-space indent like every JSON output:\n%s", r.out)
	assert.True(t, strings.HasSuffix(r.out, "\n  }\n]\n"), r.out)

	first, r := page("--limit", "3")
	assert.Equal(t, ids[:3], first)
	assert.Contains(t, r.errOut, "more cases follow: add --after "+ids[2])
	next, _ := page("--limit", "3", "--after", ids[2])
	assert.Equal(t, ids[3:6], next)
	last, r := page("--limit", "3", "--after", ids[5])
	assert.Equal(t, ids[6:], last)
	assert.Empty(t, r.errOut, "the last page says nothing follows")
	_, r = page("--after", ids[6])
	assert.Equal(t, "[]\n", r.out)

	table := c.ok("case", "list", "--limit", "2")
	assert.Equal(t, 3, strings.Count(table, "\n"), "a header and two rows:\n%s", table)
	c.fails(2, "--limit and --after must not be negative", "case", "list", "--limit", "-1")
	c.fails(2, "invalid argument", "case", "list", "--after", "x")

	// One style: case show -o json is indented the same way.
	shown := c.ok("case", "show", ids[0], "-o", "json")
	assert.True(t, strings.HasPrefix(shown, "{\n  \"id\": "), shown)
}

func TestUserList(t *testing.T) {
	c := newCLI(t)
	assert.Equal(t, "[]\n", c.ok("user", "list", "-o", "json"))
	c.setup()
	var users []map[string]interface{}
	require.NoError(t, json.Unmarshal([]byte(c.ok("user", "list", "-o", "json")), &users))
	require.Len(t, users, 2)
	assert.Equal(t, "admin@example.com", users[0]["email"])
	assert.Equal(t, "Ann Agent", users[1]["name"])
	assert.Equal(t, []interface{}{}, users[1]["secondary_emails"])
	table := c.ok("user", "list")
	assert.Regexp(t, `ID\s+EMAIL\s+NAME\s+OTHER EMAILS`, table)
	assert.Regexp(t, `\d+\s+agent@example.com\s+Ann Agent`, table)
}
