package sim

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Zendesk refuses an export cursor after an account restore; so does a restarted simulator, even with the same
// seed, and one whose cursors were invalidated.
func TestCursorNotIssuedByThisSimulatorIsRefused(t *testing.T) {
	e := newEnv(t, Options{Seed: 9, Tickets: 50})
	p := e.exportPage("/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=10")
	require.NotEmpty(t, p.AfterCursor)
	path := "/api/v2/incremental/tickets/cursor.json?cursor=" + url.QueryEscape(p.AfterCursor)
	e.exportPage(path) // accepted by the simulator that issued it

	again := newEnv(t, Options{Seed: 9, Tickets: 50})
	resp, b := again.do("GET", path, nil)
	assert.Equal(t, 400, resp.StatusCode)
	assert.JSONEq(t, `{"error":"InvalidPaginationParameter","description":"Invalid cursor"}`, string(b))

	resp, _ = e.do("POST", "/_sim/cursors/invalidate", nil)
	require.Equal(t, 200, resp.StatusCode)
	resp, _ = e.do("GET", path, nil)
	assert.Equal(t, 400, resp.StatusCode, "an invalidated cursor is refused")
	fresh := e.exportPage("/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=10")
	e.exportPage("/api/v2/incremental/tickets/cursor.json?cursor=" + url.QueryEscape(fresh.AfterCursor))
}

// With WritesPerSecond above a page of events, a bulk change fills one second: the event export then answers, as
// Zendesk does, a full page whose end_time is its start_time.
func TestFullSecondGivesAPageEndingWhereItStarts(t *testing.T) {
	sec := time.Now().Add(-time.Hour).Unix()
	e := newEnv(t, Options{Seed: 9, Tickets: 1500, WritesPerSecond: 5000, Now: func() time.Time { return time.Unix(sec, 0) }})
	ids := e.s.TicketIDs()
	n := 0
	for _, id := range ids {
		if _, err := e.s.AddComment(id, "bulk", true, 0); err == nil {
			n++
		}
	}
	require.Greater(t, n, 1000)
	var page struct {
		Count       int   `json:"count"`
		EndTime     int64 `json:"end_time"`
		EndOfStream bool  `json:"end_of_stream"`
	}
	e.getJSON("/api/v2/incremental/ticket_events.json?start_time="+strconv.FormatInt(sec, 10), &page)
	assert.Equal(t, 1000, page.Count)
	assert.Equal(t, sec, page.EndTime)
	assert.False(t, page.EndOfStream)

	// A user's profile can be changed to what Zendesk would send back as it is.
	name := "Nul\x00Name"
	uid := e.s.Special().BobMillerUserID
	resp, b := e.do("POST", "/_sim/users/"+strconv.FormatInt(uid, 10)+"/change", map[string]any{"name": name})
	require.Equal(t, 200, resp.StatusCode, string(b))
	raw, ok := e.s.UserJSON(uid)
	require.True(t, ok)
	assert.Contains(t, string(raw), `"name":"Nul\u0000Name"`)
}
