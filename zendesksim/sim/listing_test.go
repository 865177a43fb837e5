package sim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type cursorPage struct {
	Users    []map[string]any `json:"users"`
	Tickets  []map[string]any `json:"tickets"`
	Comments []map[string]any `json:"comments"`
	Meta     struct {
		HasMore      bool    `json:"has_more"`
		AfterCursor  *string `json:"after_cursor"`
		BeforeCursor *string `json:"before_cursor"`
	} `json:"meta"`
	Links struct {
		Next *string `json:"next"`
		Prev *string `json:"prev"`
	} `json:"links"`
}

func keysOf(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// walk follows links.next from first until meta.has_more is false and returns every page.
func (e *env) walk(first string) []cursorPage {
	e.t.Helper()
	var pages []cursorPage
	next := first
	for i := 0; i < 1000; i++ {
		var p cursorPage
		e.getJSON(next, &p)
		pages = append(pages, p)
		if !p.Meta.HasMore {
			return pages
		}
		require.NotNil(e.t, p.Links.Next)
		next = *p.Links.Next
	}
	e.t.Fatal("has_more never became false")
	return nil
}

func TestCursorPaginationOfUsersTicketsAndComments(t *testing.T) {
	e := newEnv(t, Options{Tickets: 300})
	// The envelope of a cursor page (Zendesk's pagination guide): the list, meta and links, no offset fields.
	resp, raw := e.do("GET", "/api/v2/users.json?page[size]=7", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"links", "meta", "users"}, keysOf(t, raw))

	seen := map[float64]bool{}
	for _, p := range e.walk("/api/v2/users.json?page[size]=7") {
		assert.LessOrEqual(t, len(p.Users), 7)
		for _, u := range p.Users {
			assert.False(t, seen[u["id"].(float64)], "a user on two pages")
			seen[u["id"].(float64)] = true
		}
	}
	assert.Len(t, seen, e.s.Stats().Users)

	live := 0
	for _, p := range e.walk("/api/v2/tickets.json?page[size]=100") {
		live += len(p.Tickets)
	}
	assert.Equal(t, e.s.Stats().LiveTickets, live)

	// Comments, oldest first, and newest first with sort=-created_at.
	id := e.s.Special().PrivateComments
	path := "/api/v2/tickets/" + itoa(id) + "/comments.json"
	var asc, desc []string
	for _, p := range e.walk(path + "?page[size]=1") {
		for _, c := range p.Comments {
			asc = append(asc, c["created_at"].(string)+c["body"].(string))
		}
	}
	for _, p := range e.walk(path + "?page[size]=2&sort=-created_at") {
		for _, c := range p.Comments {
			desc = append(desc, c["created_at"].(string)+c["body"].(string))
		}
	}
	require.GreaterOrEqual(t, len(asc), 2)
	reverse(desc)
	assert.Equal(t, asc, desc)

	// page[before] goes back; a foreign cursor and an oversized page are refused.
	var first cursorPage
	e.getJSON("/api/v2/users.json?page[size]=5", &first)
	var second cursorPage
	e.getJSON(*first.Links.Next, &second)
	var back cursorPage
	e.getJSON(*second.Links.Prev, &back)
	assert.Equal(t, first.Users, back.Users)
	resp, _ = e.do("GET", "/api/v2/users.json?page[size]=101", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, body := e.do("GET", "/api/v2/users.json?page[after]=bm9wZQ", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), "InvalidPaginationParameter")
	// Without page[...] the offset envelope stays.
	_, raw = e.do("GET", "/api/v2/users.json?per_page=5", nil)
	assert.Equal(t, []string{"count", "next_page", "previous_page", "users"}, keysOf(t, raw))
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestSearchTicketsByExternalIDAndUsersByEmail(t *testing.T) {
	e := newEnv(t, Options{})
	sp := e.s.Special()
	q := func(query string) string { return "/api/v2/search.json?query=" + url.QueryEscape(query) }
	// The envelope of the recorded answer (nukosuke/go-zendesk fixture/GET/search_ticket.json).
	resp, raw := e.do("GET", q("type:ticket external_id:"+sp.ExternalIDShared), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	assert.Equal(t, []string{"count", "facets", "next_page", "previous_page", "results"}, keysOf(t, raw))
	var res struct {
		Results []map[string]any `json:"results"`
		Count   int              `json:"count"`
	}
	require.NoError(t, json.Unmarshal(raw, &res))
	assert.Equal(t, 2, res.Count, "external_id is not unique: both tickets")
	for _, r := range res.Results {
		assert.Equal(t, "ticket", r["result_type"])
		assert.Equal(t, sp.ExternalIDShared, r["external_id"])
	}
	e.getJSON(q("type:user email:"+strings.ToUpper(sp.AgentOneEmail)), &res)
	require.Equal(t, 1, res.Count)
	assert.Equal(t, "user", res.Results[0]["result_type"])
	assert.Equal(t, float64(sp.AgentOneUserID), res.Results[0]["id"])
	e.getJSON(q(`type:user email:"nobody@example.com"`), &res)
	assert.Equal(t, 0, res.Count)
	resp, body := e.do("GET", q("status:open"), nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), "type:ticket external_id")
}

func TestTimeBasedTicketExport(t *testing.T) {
	e := newEnv(t, Options{Tickets: 2500})
	type page struct {
		Tickets     []map[string]any `json:"tickets"`
		NextPage    string           `json:"next_page"`
		Count       int              `json:"count"`
		EndTime     int64            `json:"end_time"`
		EndOfStream bool             `json:"end_of_stream"`
	}
	resp, raw := e.do("GET", "/api/v2/incremental/tickets.json?start_time=0", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"count", "end_of_stream", "end_time", "next_page", "tickets"}, keysOf(t, raw))
	var whole page
	require.NoError(t, json.Unmarshal(raw, &whole))
	assert.Equal(t, 1000, whole.Count, "1000 per page, deleted tickets included")
	assert.False(t, whole.EndOfStream)

	// Following next_page (start_time = end_time) repeats the boundary second, never skips.
	seen := map[float64]int{}
	next := "/api/v2/incremental/tickets.json?start_time=0"
	pages := 0
	for ; pages < 100; pages++ {
		var p page
		e.getJSON(next, &p)
		assert.LessOrEqual(t, p.Count, 1000)
		for _, tk := range p.Tickets {
			seen[tk["id"].(float64)]++
			assert.GreaterOrEqual(t, tk["generated_timestamp"].(float64), float64(0))
		}
		if len(p.Tickets) > 0 {
			assert.Equal(t, p.EndTime, int64(p.Tickets[len(p.Tickets)-1]["generated_timestamp"].(float64)))
		}
		assert.Contains(t, p.NextPage, "start_time="+itoa(p.EndTime))
		if p.EndOfStream {
			break
		}
		next = p.NextPage
	}
	assert.Len(t, seen, 2500)
	assert.Greater(t, pages, 1)
	resp, _ = e.do("GET", "/api/v2/incremental/tickets.json", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestDroppedKeysWarnWithZendesksHeader(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.s.Special().Open
	resp, body := e.do("PUT", "/api/v2/tickets/"+itoa(id)+".json",
		map[string]any{"ticket": map[string]any{"id": id, "priority": "high"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, `{:allowed_parameters=>{:controller=>"tickets", :action=>"update", :unpermitted_keys=>["ticket.id"], :invalid_values=>[]}}`,
		resp.Header.Get("X-Zendesk-API-Warn"))
}
