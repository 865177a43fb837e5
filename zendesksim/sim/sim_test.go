package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type env struct {
	t   *testing.T
	s   *Server
	srv *httptest.Server
}

func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	if o.Tickets == 0 {
		o.Tickets = 600
	}
	s := New(o)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.SetBaseURL(srv.URL)
	return &env{t: t, s: s, srv: srv}
}

func (e *env) do(method, path string, body any, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(e.t, err)
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.srv.URL + path
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(e.t, err)
	req.SetBasicAuth("agent@example.com/token", "secret")
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, b
}

func (e *env) getJSON(path string, v any) *http.Response {
	e.t.Helper()
	resp, b := e.do("GET", path, nil)
	require.Equal(e.t, 200, resp.StatusCode, string(b))
	require.NoError(e.t, json.Unmarshal(b, v), string(b))
	return resp
}

type exportPage struct {
	Tickets     []map[string]any `json:"tickets"`
	Users       []map[string]any `json:"users"`
	AfterURL    string           `json:"after_url"`
	AfterCursor string           `json:"after_cursor"`
	BeforeURL   *string          `json:"before_url"`
	EndOfStream bool             `json:"end_of_stream"`
}

func idOf(m map[string]any) int64 {
	n, _ := m["id"].(json.Number)
	v, _ := n.Int64()
	return v
}

func decodeNum(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

func (e *env) exportPage(url string) exportPage {
	e.t.Helper()
	resp, b := e.do("GET", url, nil)
	require.Equal(e.t, 200, resp.StatusCode, string(b))
	var p exportPage
	require.NoError(e.t, decodeNum(b, &p))
	return p
}

func TestCursorExportEachLiveTicketOnce(t *testing.T) {
	e := newEnv(t, Options{Seed: 7})
	seen := map[int64]int{}
	url := "/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=37&include=users&exclude_deleted=true"
	pages := 0
	for {
		p := e.exportPage(url)
		pages++
		users := map[int64]bool{}
		for _, u := range p.Users {
			users[idOf(u)] = true
		}
		for _, tk := range p.Tickets {
			seen[idOf(tk)]++
			assert.NotEqual(t, "deleted", tk["status"])
			for _, k := range []string{"requester_id", "submitter_id", "assignee_id"} {
				if n, ok := tk[k].(json.Number); ok {
					id, _ := n.Int64()
					assert.True(t, users[id], "%s %d side-loaded", k, id)
				}
			}
		}
		if p.EndOfStream {
			break
		}
		require.NotEmpty(t, p.AfterCursor)
		url = p.AfterURL
	}
	live := 0
	for _, id := range e.s.TicketIDs() {
		if !e.s.IsDeleted(id) {
			live++
			assert.Equal(t, 1, seen[id], "ticket %d", id)
		}
	}
	assert.Equal(t, live, len(seen))
	assert.Greater(t, pages, 10)

	// Without exclude_deleted the deleted ones come with status "deleted".
	sp := e.s.Special()
	found := false
	url = "/api/v2/incremental/tickets/cursor.json?start_time=0"
	for {
		p := e.exportPage(url)
		for _, tk := range p.Tickets {
			if idOf(tk) == sp.Deleted {
				found = true
				assert.Equal(t, "deleted", tk["status"])
			}
		}
		if p.EndOfStream {
			break
		}
		url = p.AfterURL
	}
	assert.True(t, found)
}

func TestCursorExportChangedTicketReappearsLater(t *testing.T) {
	e := newEnv(t, Options{Seed: 3})
	p1 := e.exportPage("/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=50")
	first := idOf(p1.Tickets[0])
	sub := "changed mid-stream"
	require.NoError(t, e.s.ChangeTicket(first, TicketChange{Subject: &sub}))
	count := map[int64]int{}
	for _, tk := range p1.Tickets {
		count[idOf(tk)]++
	}
	url, last := p1.AfterURL, ""
	for {
		p := e.exportPage(url)
		for _, tk := range p.Tickets {
			count[idOf(tk)]++
			if idOf(tk) == first {
				last = tk["subject"].(string)
			}
		}
		if p.EndOfStream {
			// The saved cursor picks up later changes, and only those.
			require.NoError(t, e.s.ChangeTicket(first, TicketChange{Subject: &sub, Status: ptr("solved")}))
			p2 := e.exportPage(p.AfterURL)
			require.Len(t, p2.Tickets, 1)
			assert.Equal(t, first, idOf(p2.Tickets[0]))
			assert.True(t, p2.EndOfStream)
			break
		}
		url = p.AfterURL
	}
	assert.Equal(t, 2, count[first])
	assert.Equal(t, sub, last)
	for id, n := range count {
		if id != first {
			assert.Equal(t, 1, n, "ticket %d", id)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestCursorExportParams(t *testing.T) {
	e := newEnv(t, Options{})
	resp, b := e.do("GET", "/api/v2/incremental/tickets/cursor.json?start_time=0&cursor=abc", nil)
	assert.Equal(t, 400, resp.StatusCode, string(b))
	resp, _ = e.do("GET", "/api/v2/incremental/tickets/cursor.json?start_time=-5", nil)
	assert.Equal(t, 400, resp.StatusCode)
	future := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	resp, _ = e.do("GET", "/api/v2/incremental/tickets/cursor.json?start_time="+future, nil)
	assert.Equal(t, 422, resp.StatusCode)
	resp, _ = e.do("GET", "/api/v2/incremental/tickets/cursor.json?cursor=%21%21", nil)
	assert.Equal(t, 400, resp.StatusCode)
	resp, b = e.do("GET", "/api/v2/incremental/tickets/cursor?start_time=0&per_page=5000", nil)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("zendesk-ratelimit-incremental-exports"), "total=")
	var p exportPage
	require.NoError(t, decodeNum(b, &p))
	assert.Len(t, p.Tickets, 600)
	assert.True(t, p.EndOfStream)
	assert.Nil(t, p.Users)
}

func TestAuth(t *testing.T) {
	e := newEnv(t, Options{})
	for _, h := range []string{"", "Basic " + "Zm9vOmJhcg==", "Bearer wrong"} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/v2/users/me.json", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, 401, resp.StatusCode)
		if strings.HasPrefix(h, "Bearer ") {
			// A bad OAuth token gets OAuth's answer (spec §1, fprimex/zdesk #58).
			assert.JSONEq(t, `{"error":"invalid_token","error_description":"`+descInvalidToken+`"}`, string(b))
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `Bearer realm=`)
			continue
		}
		assert.JSONEq(t, `{"error":"Couldn't authenticate you"}`, string(b))
		assert.Equal(t, `Basic realm="Web Password"`, resp.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v2/users/me.json", nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	// Email in another letter case is the same account.
	req, _ = http.NewRequest("GET", e.srv.URL+"/api/v2/users/me", nil)
	req.SetBasicAuth("Agent@Example.com/token", "secret")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, 3, e.s.Counters()["401"])
}

func TestUpdateClosedTicketAndValidation(t *testing.T) {
	e := newEnv(t, Options{})
	sp := e.s.Special()
	resp, b := e.do("PUT", fmt.Sprintf("/api/v2/tickets/%d.json", sp.Closed), map[string]any{"ticket": map[string]any{"status": "open"}})
	assert.Equal(t, 422, resp.StatusCode)
	assert.JSONEq(t, `{"error":"RecordInvalid","description":"Record validation errors","details":{"status":[{"description":"Status closed prevents ticket update"}]}}`, string(b))

	resp, b = e.do("PUT", fmt.Sprintf("/api/v2/tickets/%d.json", sp.Open), map[string]any{"ticket": map[string]any{"description": "x"}})
	assert.Equal(t, 422, resp.StatusCode)
	assert.Contains(t, string(b), "The description key on the ticket object is read-only")
	resp, b = e.do("PUT", fmt.Sprintf("/api/v2/tickets/%d.json", sp.Open), map[string]any{"ticket": map[string]any{"status": "bogus"}})
	assert.Equal(t, 422, resp.StatusCode, string(b))
	resp, b = e.do("GET", fmt.Sprintf("/api/v2/tickets/%d.json", sp.Deleted), nil)
	assert.Equal(t, 404, resp.StatusCode)
	assert.JSONEq(t, `{"error":"RecordNotFound","description":"Not found"}`, string(b))

	// Partial update with a comment: only sent keys change, audit carries the comment.
	before, _ := e.s.Ticket(sp.Open)
	var tb map[string]any
	require.NoError(t, json.Unmarshal(before, &tb))
	resp, b = e.do("PUT", fmt.Sprintf("/api/v2/tickets/%d.json", sp.Open), map[string]any{"ticket": map[string]any{
		"priority": "urgent", "comment": map[string]any{"body": "private note", "public": false, "author_id": sp.AgentOneUserID}}})
	require.Equal(t, 200, resp.StatusCode, string(b))
	var out struct {
		Ticket map[string]any `json:"ticket"`
		Audit  struct {
			Events []map[string]any `json:"events"`
		} `json:"audit"`
	}
	require.NoError(t, decodeNum(b, &out))
	assert.Equal(t, "urgent", out.Ticket["priority"])
	assert.Equal(t, tb["subject"], out.Ticket["subject"])
	assert.Equal(t, tb["status"], out.Ticket["status"])
	assert.NotEqual(t, tb["updated_at"], out.Ticket["updated_at"])
	require.NotEmpty(t, out.Audit.Events)
	assert.Equal(t, "Comment", out.Audit.Events[0]["type"])
	assert.Equal(t, "private note", out.Audit.Events[0]["body"])
	assert.Equal(t, false, out.Audit.Events[0]["public"])
	assert.Equal(t, json.Number(strconv.FormatInt(sp.AgentOneUserID, 10)), out.Audit.Events[0]["author_id"])

	// The comment is listed.
	var cl struct {
		Comments []map[string]any `json:"comments"`
		NextPage *string          `json:"next_page"`
	}
	e.getJSON(fmt.Sprintf("/api/v2/tickets/%d/comments.json", sp.Open), &cl)
	assert.Equal(t, "private note", cl.Comments[len(cl.Comments)-1]["body"])
	assert.Nil(t, cl.NextPage)
}

func TestPerTicketUpdateLimit(t *testing.T) {
	e := newEnv(t, Options{TicketUpdateLimit: 3})
	id := e.s.Special().Open
	for i := range 3 {
		resp, b := e.do("PUT", fmt.Sprintf("/api/v2/tickets/%d", id), map[string]any{"ticket": map[string]any{"subject": fmt.Sprint("s", i)}})
		require.Equal(t, 200, resp.StatusCode, string(b))
	}
	resp, _ := e.do("PUT", fmt.Sprintf("/api/v2/tickets/%d", id), map[string]any{"ticket": map[string]any{"subject": "x"}})
	assert.Equal(t, 429, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
}

type eventsPage struct {
	TicketEvents []struct {
		ID          int64            `json:"id"`
		TicketID    int64            `json:"ticket_id"`
		Timestamp   int64            `json:"timestamp"`
		Via         string           `json:"via"`
		EventType   string           `json:"event_type"`
		ChildEvents []map[string]any `json:"child_events"`
	} `json:"ticket_events"`
	NextPage    string `json:"next_page"`
	EndTime     int64  `json:"end_time"`
	Count       int    `json:"count"`
	EndOfStream bool   `json:"end_of_stream"`
}

func TestTicketEventsCoverEveryCommentOnce(t *testing.T) {
	e := newEnv(t, Options{Tickets: 900, CommentsPerTicket: 4})
	sp := e.s.Special()
	_, err := e.s.AddComment(sp.Open, "added later", true, sp.AgentOneUserID)
	require.NoError(t, err)
	resp, b := e.do("POST", "/api/v2/tickets.json", map[string]any{"ticket": map[string]any{
		"subject": "new", "comment": map[string]any{"body": "first message"}, "requester": map[string]any{"name": "Jane Doe", "email": "jane@example.net"}}})
	require.Equal(t, 201, resp.StatusCode, string(b))

	comments := map[int64]int64{} // comment id → ticket id
	url := "/api/v2/incremental/ticket_events.json?start_time=0&include=comment_events"
	pages := 0
	for {
		var p eventsPage
		e.getJSON(url, &p)
		pages++
		for _, ev := range p.TicketEvents {
			assert.Equal(t, "Audit", ev.EventType)
			assert.NotEmpty(t, ev.Via)
			for _, c := range ev.ChildEvents {
				if c["event_type"] == "Comment" {
					id := int64(c["id"].(float64))
					if prev, ok := comments[id]; ok {
						assert.Equal(t, prev, ev.TicketID)
					}
					comments[id] = ev.TicketID
					_, isObj := c["via"].(map[string]any)
					assert.True(t, isObj)
				}
			}
		}
		if p.EndOfStream {
			break
		}
		require.Less(t, pages, 100)
		url = p.NextPage
	}
	want := 0
	perTicket := map[int64]int{}
	for _, id := range e.s.TicketIDs() {
		var cl struct {
			Comments []map[string]any `json:"comments"`
			Count    int              `json:"count"`
		}
		if e.s.IsDeleted(id) {
			want += e.commentCount(id)
			continue
		}
		e.getJSON(fmt.Sprintf("/api/v2/tickets/%d/comments.json", id), &cl)
		want += cl.Count
		for _, c := range cl.Comments {
			cid := int64(c["id"].(float64))
			assert.Equal(t, id, comments[cid], "comment %d", cid)
			perTicket[id]++
		}
	}
	assert.Equal(t, want, len(comments))
	assert.Greater(t, pages, 3)
}

func (e *env) commentCount(id int64) int {
	e.s.mu.RLock()
	defer e.s.mu.RUnlock()
	i, _ := e.s.ticketIndex(id)
	return len(e.s.comments(i))
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, Options{RateLimit: 5, ExportRateLimit: 2, RateWindow: 500 * time.Millisecond})
	for i := range 2 {
		resp, _ := e.do("GET", "/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=1", nil)
		require.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, "5", resp.Header.Get("X-Rate-Limit"))
		assert.Equal(t, strconv.Itoa(4-i), resp.Header.Get("X-Rate-Limit-Remaining"))
		assert.Contains(t, resp.Header.Get("zendesk-ratelimit-incremental-exports"), fmt.Sprintf("total=2; remaining=%d; resets=1", 1-i))
	}
	resp, b := e.do("GET", "/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=1", nil)
	assert.Equal(t, 429, resp.StatusCode)
	assert.JSONEq(t, `{"error":"APIRateLimitExceeded","description":"Number of allowed incremental export API requests per minute exceeded"}`, string(b))
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	for range 3 {
		resp, _ = e.do("GET", "/api/v2/users/me.json", nil)
		assert.Equal(t, 200, resp.StatusCode)
	}
	resp, _ = e.do("GET", "/api/v2/users/me.json", nil)
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, "0", resp.Header.Get("ratelimit-remaining"))
	assert.Equal(t, 2, e.s.Counters()["429"])
	time.Sleep(550 * time.Millisecond)
	resp, _ = e.do("GET", "/api/v2/users/me.json", nil)
	assert.Equal(t, 200, resp.StatusCode)
}

func TestFaults(t *testing.T) {
	e := newEnv(t, Options{Seed: 1})
	e.s.SetFaults(Faults{FailRate: 1})
	codes := map[int]int{}
	for range 20 {
		resp, _ := e.do("GET", "/api/v2/users/me.json", nil)
		codes[resp.StatusCode]++
		if resp.StatusCode == 503 {
			assert.Equal(t, "1", resp.Header.Get("Retry-After"))
		}
	}
	assert.Positive(t, codes[500])
	assert.Positive(t, codes[503])
	assert.Equal(t, 20, e.s.Counters()["5xx"])

	e.s.SetFaults(Faults{DropRate: 1})
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v2/users/me.json", nil)
	req.SetBasicAuth("agent@example.com/token", "secret")
	_, err := http.DefaultClient.Do(req)
	assert.Error(t, err)

	e.s.SetFaults(Faults{Slow: 150 * time.Millisecond})
	start := time.Now()
	resp, _ := e.do("GET", "/api/v2/users/me.json", nil)
	assert.Equal(t, 200, resp.StatusCode)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
}

func TestCreateTicketIdempotencyAndExternalID(t *testing.T) {
	e := newEnv(t, Options{})
	body := map[string]any{"ticket": map[string]any{
		"subject": "From CRM", "external_id": "crm-case-42", "priority": "high", "type": "question",
		"requester": map[string]any{"name": "Mr. Bob Miller Jr.", "email": "BOB.MILLER@example.org"},
		"comment":   map[string]any{"body": "first message", "public": true}}}
	resp, b := e.do("POST", "/api/v2/tickets.json", body, "Idempotency-Key", "case-42")
	require.Equal(t, 201, resp.StatusCode, string(b))
	var out struct {
		Ticket map[string]any `json:"ticket"`
		Audit  struct {
			Events []map[string]any `json:"events"`
		} `json:"audit"`
	}
	require.NoError(t, decodeNum(b, &out))
	id := idOf(out.Ticket)
	assert.Equal(t, fmt.Sprintf("%s/api/v2/tickets/%d.json", e.srv.URL, id), resp.Header.Get("Location"))
	assert.Equal(t, "first message", out.Ticket["description"])
	assert.Equal(t, json.Number(strconv.FormatInt(e.s.Special().BobMillerUserID, 10)), out.Ticket["requester_id"], "matched by email ignoring case")
	assert.Equal(t, "Comment", out.Audit.Events[0]["type"])

	resp, b2 := e.do("POST", "/api/v2/tickets.json", body, "Idempotency-Key", "case-42")
	require.Equal(t, 201, resp.StatusCode)
	assert.Equal(t, string(b), string(b2))
	resp, _ = e.do("POST", "/api/v2/tickets.json", map[string]any{"ticket": map[string]any{"comment": map[string]any{"body": "other"}}}, "Idempotency-Key", "case-42")
	assert.Equal(t, 400, resp.StatusCode)

	// Commit then drop: the retry with the same key gets the same ticket.
	e.s.FailNextCreateAfterCommit()
	body2 := map[string]any{"ticket": map[string]any{"subject": "dropped", "external_id": "crm-case-43", "comment": map[string]any{"body": "x"},
		"requester": map[string]any{"name": "New Person", "email": "new.person@example.net"}}}
	bb, _ := json.Marshal(body2)
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v2/tickets.json", bytes.NewReader(bb))
	req.SetBasicAuth("agent@example.com/token", "secret")
	req.Header.Set("Idempotency-Key", "case-43")
	// net/http itself retries a request carrying Idempotency-Key once after
	// a dropped connection, so this may succeed; either way it was dropped.
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	assert.Eventually(t, func() bool { return e.s.Counters()["dropped"] == 1 }, 2*time.Second, 10*time.Millisecond)
	resp, _ = e.do("POST", "/api/v2/tickets.json", body2, "Idempotency-Key", "case-43")
	require.Equal(t, 201, resp.StatusCode)

	var list struct {
		Tickets []map[string]any `json:"tickets"`
		Count   int              `json:"count"`
	}
	e.getJSON("/api/v2/tickets.json?external_id=crm-case-43", &list)
	assert.Equal(t, 1, list.Count)
	e.getJSON("/api/v2/tickets.json?external_id=crm-case-42", &list)
	require.Equal(t, 1, list.Count)
	e.getJSON("/api/v2/tickets.json?external_id="+e.s.Special().ExternalIDShared, &list)
	assert.Equal(t, 2, list.Count)
	e.getJSON("/api/v2/tickets.json?external_id=nope", &list)
	assert.Equal(t, 0, list.Count)
	assert.NotNil(t, list.Tickets)

	// The requester created on the way can be searched.
	var us struct {
		Users []map[string]any `json:"users"`
	}
	e.getJSON("/api/v2/users/search.json?query=NEW.PERSON@example.net", &us)
	require.Len(t, us.Users, 1)
	assert.Equal(t, "New Person", us.Users[0]["name"])
}

func TestUsers(t *testing.T) {
	e := newEnv(t, Options{})
	resp, b := e.do("POST", "/api/v2/users.json", map[string]any{"user": map[string]any{"name": "X", "email": "agent.one@example.com"}})
	assert.Equal(t, 422, resp.StatusCode)
	var errBody struct {
		Error   string                       `json:"error"`
		Details map[string][]json.RawMessage `json:"details"`
	}
	require.NoError(t, json.Unmarshal(b, &errBody))
	assert.Equal(t, "RecordInvalid", errBody.Error)
	assert.Contains(t, errBody.Details, "email")
	resp, b = e.do("POST", "/api/v2/users.json", map[string]any{"user": map[string]any{"name": "Y Z", "email": "yz@example.net", "role": "end-user"}})
	require.Equal(t, 201, resp.StatusCode, string(b))
	var u struct {
		User map[string]any `json:"user"`
	}
	require.NoError(t, decodeNum(b, &u))
	id := idOf(u.User)
	var many struct {
		Users []map[string]any `json:"users"`
	}
	sp := e.s.Special()
	e.getJSON(fmt.Sprintf("/api/v2/users/show_many.json?ids=%d,%d,%d", id, sp.NoEmailUserID, sp.AgentOneUserID), &many)
	require.Len(t, many.Users, 3)
	assert.Nil(t, many.Users[1]["email"])
	assert.Equal(t, "Agent.One@Example.com", many.Users[2]["email"])
	assert.Equal(t, "agent", many.Users[2]["role"])
	raw, ok := e.s.UserJSON(sp.TabsNameUserID)
	require.True(t, ok)
	assert.Contains(t, string(raw), `Mr\tAlex\tM.\tSmith\tJr`)
	assert.Contains(t, e.s.AgentEmails(), "Agent.One@Example.com")
	assert.Contains(t, e.s.AgentEmails(), "agent@example.com")
	resp, _ = e.do("GET", "/api/v2/users/1.json", nil)
	assert.Equal(t, 404, resp.StatusCode)
}

func TestTicketsShowManyAndSpecials(t *testing.T) {
	e := newEnv(t, Options{BadTickets: 4})
	sp := e.s.Special()
	ids := []string{}
	for _, id := range []int64{sp.Open, sp.Deleted, sp.Incident, sp.LargeDescription, sp.NullSubject, sp.WithCollaborators} {
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	var many struct {
		Tickets []map[string]any `json:"tickets"`
	}
	e.getJSON("/api/v2/tickets/show_many.json?ids="+strings.Join(ids, ","), &many)
	require.Len(t, many.Tickets, 5, "deleted omitted")
	assert.Equal(t, float64(sp.Problem), many.Tickets[1]["problem_id"])
	assert.Greater(t, len(many.Tickets[2]["description"].(string)), 190*1024)
	assert.Nil(t, many.Tickets[3]["subject"])
	assert.NotEmpty(t, many.Tickets[4]["collaborator_ids"])
	require.Len(t, sp.Bad, 4)
	raw, ok := e.s.Ticket(sp.Bad[0])
	require.True(t, ok)
	assert.Contains(t, string(raw), `"created_at":"not-a-date"`)
	raw, _ = e.s.Ticket(sp.Bad[1])
	assert.Contains(t, string(raw), `"requester_id":"abc"`)
	assert.GreaterOrEqual(t, len(sp.SharedUpdatedAt), 200)
	var p map[string]any
	e.getJSON(fmt.Sprintf("/api/v2/tickets/%d", sp.Problem), &p)
	assert.Equal(t, true, p["ticket"].(map[string]any)["has_incidents"])

	statuses := map[string]bool{}
	for _, id := range e.s.TicketIDs() {
		raw, ok := e.s.Ticket(id)
		if !ok {
			statuses["deleted"] = true
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		statuses[m["status"].(string)] = true
	}
	assert.Len(t, statuses, 7)
	tooMany := make([]string, 101)
	for i := range tooMany {
		tooMany[i] = "1"
	}
	resp, _ := e.do("GET", "/api/v2/tickets/show_many?ids="+strings.Join(tooMany, ","), nil)
	assert.Equal(t, 400, resp.StatusCode)
}

func TestDeterminism(t *testing.T) {
	render := func(seed int64) string {
		s := New(Options{Seed: seed, Tickets: 300})
		s.SetBaseURL("http://x")
		// Cursors name the simulator incarnation that issued them (a restarted simulator refuses older ones);
		// the data, not the incarnation, must be the same for the same seed.
		s.cursorEpoch = "pinned"
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/v2/incremental/tickets/cursor.json?start_time=0&include=users", nil)
		req.Header.Set("Authorization", "Bearer secret")
		s.ServeHTTP(rec, req)
		rec2 := httptest.NewRecorder()
		req = httptest.NewRequest("GET", "/api/v2/incremental/ticket_events.json?start_time=0&include=comment_events", nil)
		req.Header.Set("Authorization", "Bearer secret")
		s.ServeHTTP(rec2, req)
		return rec.Body.String() + rec2.Body.String()
	}
	a, b, c := render(5), render(5), render(6)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
	assert.Greater(t, len(a), 100000)
}

func TestExportLag(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, Options{ExportLag: time.Minute, Now: clock})
	var p exportPage
	url := "/api/v2/incremental/tickets/cursor.json?start_time=0"
	for {
		p = e.exportPage(url)
		if p.EndOfStream {
			break
		}
		url = p.AfterURL
	}
	id := e.s.Special().Open
	require.NoError(t, e.s.ChangeTicket(id, TicketChange{Priority: ptr("high")}))
	p = e.exportPage(p.AfterURL)
	assert.Empty(t, p.Tickets, "not visible yet")
	assert.True(t, p.EndOfStream)
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	p = e.exportPage(p.AfterURL)
	require.Len(t, p.Tickets, 1)
	assert.Equal(t, id, idOf(p.Tickets[0]))
}

func TestBlockExport(t *testing.T) {
	e := newEnv(t, Options{})
	release := e.s.BlockExport(1)
	p := e.exportPage("/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=100")
	done := make(chan exportPage)
	go func() {
		resp, b := e.do("GET", p.AfterURL, nil)
		var p2 exportPage
		_ = decodeNum(b, &p2)
		assert.Equal(t, 200, resp.StatusCode)
		done <- p2
	}()
	select {
	case <-done:
		t.Fatal("page 2 was not held")
	case <-time.After(200 * time.Millisecond):
	}
	release()
	p2 := <-done
	assert.Len(t, p2.Tickets, 100)
}

func TestControlEndpointsOverHTTP(t *testing.T) {
	e := newEnv(t, Options{})
	sp := e.s.Special()
	post := func(path string, body any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		resp, err := http.Post(e.srv.URL+path, "application/json", bytes.NewReader(b))
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, m := post(fmt.Sprintf("/_sim/tickets/%d/change", sp.Open), map[string]any{"status": "pending", "subject": "via control"})
	require.Equal(t, 200, code, m)
	assert.Equal(t, "pending", m["ticket"].(map[string]any)["status"])
	code, m = post(fmt.Sprintf("/_sim/tickets/%d/comments", sp.Open), map[string]any{"body": "hello", "public": false, "author_id": sp.AgentOneUserID})
	require.Equal(t, 200, code, m)
	assert.NotZero(t, m["comment_id"])
	code, _ = post(fmt.Sprintf("/_sim/tickets/%d/close", sp.Open), nil)
	require.Equal(t, 200, code)
	code, m = post(fmt.Sprintf("/_sim/tickets/%d/change", sp.Open), map[string]any{"status": "open"})
	assert.Equal(t, 422, code, m)
	code, _ = post(fmt.Sprintf("/_sim/tickets/%d/delete", sp.Pending), nil)
	require.Equal(t, 200, code)
	resp, _ := e.do("GET", fmt.Sprintf("/api/v2/tickets/%d.json", sp.Pending), nil)
	assert.Equal(t, 404, resp.StatusCode)

	code, m = post("/_sim/faults", map[string]any{"rate_limit": 1, "rate_window": "1h"})
	require.Equal(t, 200, code)
	assert.Equal(t, "1h0m0s", m["rate_window"])
	e.do("GET", "/api/v2/users/me", nil)
	resp, _ = e.do("GET", "/api/v2/users/me", nil)
	assert.Equal(t, 429, resp.StatusCode)
	code, _ = post("/_sim/faults", map[string]any{"rate_limit": 0})
	require.Equal(t, 200, code)

	var counters map[string]int
	r, err := http.Get(e.srv.URL + "/_sim/counters")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(r.Body).Decode(&counters))
	r.Body.Close()
	assert.Equal(t, 2, counters["GET /api/v2/users/me.json"])
	assert.Equal(t, 1, counters["GET /api/v2/tickets/{id}.json"])
	assert.Equal(t, 1, counters["429"])

	var reqs []RequestLog
	r, err = http.Get(e.srv.URL + "/_sim/requests")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(r.Body).Decode(&reqs))
	r.Body.Close()
	assert.Len(t, reqs, 3)

	code, _ = post("/_sim/counters/reset", nil)
	require.Equal(t, 200, code)
	assert.Empty(t, e.s.Counters())

	var st Stats
	r, err = http.Get(e.srv.URL + "/_sim/stats")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(r.Body).Decode(&st))
	r.Body.Close()
	assert.Equal(t, 600, st.Tickets)
	assert.Equal(t, 120, st.Users)
	assert.Greater(t, st.Comments, 600)

	code, _ = post("/_sim/credentials", map[string]any{"email": "agent@example.com", "token": "rotated"})
	require.Equal(t, 200, code)
	resp, _ = e.do("GET", "/api/v2/users/me", nil)
	assert.Equal(t, 401, resp.StatusCode)
}

func TestWritesAppearInBothExports(t *testing.T) {
	e := newEnv(t, Options{})
	start := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	sp := e.s.Special()
	resp, b := e.do("PUT", fmt.Sprintf("/api/v2/tickets/%d.json", sp.Hold), map[string]any{"ticket": map[string]any{"status": "solved", "assignee_id": sp.AgentOneUserID}})
	require.Equal(t, 200, resp.StatusCode, string(b))
	p := e.exportPage("/api/v2/incremental/tickets/cursor.json?start_time=" + start)
	require.Len(t, p.Tickets, 1)
	assert.Equal(t, "solved", p.Tickets[0]["status"])
	var ev eventsPage
	e.getJSON("/api/v2/incremental/ticket_events.json?start_time="+start, &ev)
	require.Len(t, ev.TicketEvents, 1)
	assert.Equal(t, sp.Hold, ev.TicketEvents[0].TicketID)
	changes := map[string]any{}
	for _, c := range ev.TicketEvents[0].ChildEvents {
		assert.Equal(t, "Change", c["event_type"])
		changes[c["field_name"].(string)] = c["previous_value"]
	}
	assert.Equal(t, "hold", changes["status"])
	assert.Contains(t, changes, "assignee_id")
	assert.True(t, ev.EndOfStream)
}

func TestControlChangeAnswersItsAuditAndAuditsListEveryWrite(t *testing.T) {
	e := newEnv(t, Options{})
	sp := e.s.Special()
	post := func(path string, body any) (int, map[string]json.RawMessage) {
		b, _ := json.Marshal(body)
		resp, err := http.Post(e.srv.URL+path, "application/json", bytes.NewReader(b))
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	type event struct {
		Type          string          `json:"type"`
		FieldName     string          `json:"field_name"`
		Value         json.RawMessage `json:"value"`
		PreviousValue json.RawMessage `json:"previous_value"`
		Body          string          `json:"body"`
	}
	type audit struct {
		ID     int64                    `json:"id"`
		Via    struct{ Channel string } `json:"via"`
		Events []event                  `json:"events"`
	}
	// A change made "by an agent" answers with its audit, whose previous values are what the ticket held.
	code, m := post(fmt.Sprintf("/_sim/tickets/%d/change", sp.Open), map[string]any{"status": "hold"})
	require.Equal(t, 200, code)
	var a1 audit
	require.NoError(t, json.Unmarshal(m["audit"], &a1))
	assert.Equal(t, "web", a1.Via.Channel)
	require.Len(t, a1.Events, 1)
	assert.Equal(t, "status", a1.Events[0].FieldName)
	assert.JSONEq(t, `"hold"`, string(a1.Events[0].Value))
	assert.JSONEq(t, `"open"`, string(a1.Events[0].PreviousValue))
	// Nothing changed: no audit, as Zendesk records none.
	code, m = post(fmt.Sprintf("/_sim/tickets/%d/change", sp.Open), map[string]any{"status": "hold"})
	require.Equal(t, 200, code)
	assert.Equal(t, "null", string(m["audit"]))
	// An API update and a comment are listed too, after the agent's change, with their channel.
	resp, b := e.do("PUT", fmt.Sprintf("/api/v2/tickets/%d.json", sp.Open), map[string]any{"ticket": map[string]any{"subject": "from the API"}})
	require.Equal(t, 200, resp.StatusCode, string(b))
	_, err := e.s.AddComment(sp.Open, "a note", false, 0)
	require.NoError(t, err)

	r, err := http.Get(fmt.Sprintf("%s/_sim/tickets/%d/audits", e.srv.URL, sp.Open))
	require.NoError(t, err)
	var list struct{ Audits []audit }
	require.NoError(t, json.NewDecoder(r.Body).Decode(&list))
	r.Body.Close()
	require.Len(t, list.Audits, 3)
	assert.Equal(t, a1.ID, list.Audits[0].ID)
	assert.Equal(t, "api", list.Audits[1].Via.Channel)
	assert.Equal(t, "subject", list.Audits[1].Events[0].FieldName)
	assert.Equal(t, "Comment", list.Audits[2].Events[0].Type)
	assert.Equal(t, "a note", list.Audits[2].Events[0].Body)

	r, err = http.Get(e.srv.URL + "/_sim/tickets/1/audits")
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, 404, r.StatusCode)
}

func TestSafeUpdateRefusesAStaleStampWith409(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.s.Special().Open
	path := fmt.Sprintf("/api/v2/tickets/%d.json", id)
	stampOf := func(b []byte) string {
		var m struct {
			Ticket struct {
				UpdatedAt string `json:"updated_at"`
			} `json:"ticket"`
		}
		require.NoError(t, json.Unmarshal(b, &m), string(b))
		return m.Ticket.UpdatedAt
	}
	safe := func(subject, stamp string) map[string]any {
		tk := map[string]any{"subject": subject, "safe_update": true}
		if stamp != "" {
			tk["updated_stamp"] = stamp
		}
		return map[string]any{"ticket": tk}
	}
	resp, b := e.do("GET", path, nil)
	require.Equal(t, 200, resp.StatusCode, string(b))
	read := stampOf(b)

	resp, b = e.do("PUT", path, safe("first", read))
	require.Equal(t, 200, resp.StatusCode, "the stamp matches the ticket: %s", b)
	now := stampOf(b)
	require.NotEqual(t, read, now, "the update moved updated_at")

	resp, b = e.do("PUT", path, safe("second", read))
	require.Equal(t, 409, resp.StatusCode, string(b))
	assert.Contains(t, string(b), "UpdateConflict")
	resp, b = e.do("GET", path, nil)
	require.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, string(b), `"subject":"first"`, "a refused safe update changes nothing")

	resp, b = e.do("PUT", path, safe("third", ""))
	assert.Equal(t, 422, resp.StatusCode, "a safe update without its stamp is refused: %s", b)

	resp, b = e.do("PUT", path, safe("fourth", now))
	assert.Equal(t, 200, resp.StatusCode, string(b))
	resp, b = e.do("PUT", path, map[string]any{"ticket": map[string]any{"subject": "fifth", "updated_stamp": read}})
	assert.Equal(t, 200, resp.StatusCode, "without safe_update the stamp is ignored: %s", b)
}
