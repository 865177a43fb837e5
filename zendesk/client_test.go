package zendesk

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const emptyExport = `{"tickets":[],"users":[],"after_cursor":"c1","after_url":null,"end_of_stream":true}`

func TestAuthAndCommonHeaders(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { reply(w, 200, emptyExport) })
	_, err := c.TicketExportPage(context.Background(), "", time.Unix(1, 0), 0)
	require.NoError(t, err)
	h := f.requests()[0].Header
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(testEmail+"/token:"+testToken))
	assert.Equal(t, want, h.Get("Authorization"))
	assert.Equal(t, "zendesk-sync/0.1.0 (+https://github.com/zendesk-sync/zendesk-sync)", h.Get("User-Agent"))
	assert.Equal(t, "application/json", h.Get("Accept"))
	assert.Empty(t, h.Get("Content-Type"), "no body, no content type")

	f2, c2 := newFakeWith(t, Config{OAuthToken: "oauth-xyz"}, func(w http.ResponseWriter, r *http.Request, n int) {
		reply(w, 201, string(recordedFile(t, "nukosuke_POST_users.json")))
	})
	_, err = c2.CreateUser(context.Background(), NewUser{Name: "n", Email: "e@x.y"})
	require.NoError(t, err)
	h = f2.requests()[0].Header
	assert.Equal(t, "Bearer oauth-xyz", h.Get("Authorization"))
	assert.Equal(t, "application/json", h.Get("Content-Type"))
}

func TestTicketExportParams(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { reply(w, 200, emptyExport) })
	ctx := context.Background()
	start := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

	_, err := c.TicketExportPage(ctx, "", start, 0)
	require.NoError(t, err)
	_, err = c.TicketExportPage(ctx, "CUR+/=", start, 250)
	require.NoError(t, err)
	_, err = c.TicketExportPage(ctx, "", time.Now().Add(time.Hour), 5000)
	require.NoError(t, err)

	reqs := f.requests()
	require.Len(t, reqs, 3)
	for _, r := range reqs {
		assert.Equal(t, "GET", r.Method)
		assert.Equal(t, "/api/v2/incremental/tickets/cursor.json", r.Path)
		assert.Equal(t, "users", r.Query.Get("include"))
	}
	assert.Equal(t, fmt.Sprint(start.Unix()), reqs[0].Query.Get("start_time"))
	assert.False(t, reqs[0].Query.Has("cursor"))
	assert.Equal(t, "1000", reqs[0].Query.Get("per_page"))

	assert.Equal(t, "CUR+/=", reqs[1].Query.Get("cursor"), "cursor is query-escaped and round-trips")
	assert.False(t, reqs[1].Query.Has("start_time"), "never both cursor and start_time")
	assert.Equal(t, "250", reqs[1].Query.Get("per_page"))

	assert.Equal(t, "1000", reqs[2].Query.Get("per_page"), "capped at 1000")
	var st int64
	_, _ = fmt.Sscan(reqs[2].Query.Get("start_time"), &st)
	assert.LessOrEqual(t, st, time.Now().Add(-59*time.Second).Unix(), "a future start is clamped to now-60s")
}

func TestTicketExportDeletedAndBadRecords(t *testing.T) {
	body := `{"tickets":[
		{"id":1,"status":"open","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z","generated_timestamp":1704067200},
		{"id":"two","status":"open"},
		{"status":"open","subject":"no id"},
		{"id":3,"status":"deleted","subject":null,"tags":[],"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-02T00:00:00Z"},
		{"id":4,"created_at":"not a date"}
	],
	"users":[{"id":10,"name":"Req","email":"req@example.com","role":"end-user"},{"id":11,"name":5}],
	"after_cursor":"abc","after_url":"https://x/api/v2/incremental/tickets/cursor.json?cursor=abc","end_of_stream":false,
	"before_cursor":null,"extra":{"nested":[1,2,{"a":null}]}}`
	_, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { reply(w, 200, body) })
	p, err := c.TicketExportPage(context.Background(), "", time.Unix(0, 0), 0)
	require.NoError(t, err)
	require.Len(t, p.Tickets, 2)
	assert.Equal(t, int64(1), p.Tickets[0].ID)
	assert.Equal(t, "deleted", p.Tickets[1].Status)
	assert.Nil(t, p.Tickets[1].Subject)
	require.Len(t, p.Users, 1)
	assert.Equal(t, "req@example.com", *p.Users[0].Email)
	require.Len(t, p.Bad, 4)
	kinds := map[string]int{}
	for _, b := range p.Bad {
		kinds[b.Kind]++
		assert.Error(t, b.Err)
		assert.True(t, json.Valid(b.Raw))
	}
	assert.Equal(t, map[string]int{"ticket": 3, "user": 1}, kinds)
	assert.Equal(t, int64(0), p.Bad[0].ID, "id of the wrong type is unknown")
	assert.ErrorIs(t, p.Bad[1].Err, errMissingID)
	assert.Equal(t, int64(4), p.Bad[2].ID)
	assert.Equal(t, int64(11), p.Bad[3].ID)
	assert.Equal(t, "abc", p.AfterCursor)
	assert.False(t, p.EndOfStream)
	assert.JSONEq(t, `{"id":1,"status":"open","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z","generated_timestamp":1704067200}`,
		string(p.Tickets[0].Raw))
}

func TestExportIteratorStopAndResume(t *testing.T) {
	pages := map[string]string{
		"":   `{"tickets":[{"id":1}],"after_cursor":"c1","end_of_stream":false}`,
		"c1": `{"tickets":[{"id":2}],"after_cursor":"c2","end_of_stream":false}`,
		"c2": `{"tickets":[{"id":3}],"after_cursor":"c3","end_of_stream":true}`,
		"c3": `{"tickets":[],"after_cursor":"c3","end_of_stream":true}`,
	}
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		reply(w, 200, pages[r.URL.Query().Get("cursor")])
	})
	ctx := context.Background()
	it := c.ExportTickets("", time.Unix(100, 0), 10)
	assert.Equal(t, "", it.Cursor())
	p, err := it.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), p.Tickets[0].ID)
	saved := it.Cursor()
	assert.Equal(t, "c1", saved)

	// A new worker resumes from the saved cursor.
	it = c.ExportTickets(saved, time.Time{}, 10)
	var ids []int64
	for {
		p, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		for _, tk := range p.Tickets {
			ids = append(ids, tk.ID)
		}
	}
	assert.Equal(t, []int64{2, 3}, ids)
	assert.Equal(t, "c3", it.Cursor(), "the cursor to poll with later")
	_, err = it.Next(ctx)
	assert.ErrorIs(t, err, io.EOF)

	reqs := f.requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, "100", reqs[0].Query.Get("start_time"))
	assert.Equal(t, "c1", reqs[1].Query.Get("cursor"))
	assert.Equal(t, "c2", reqs[2].Query.Get("cursor"))
}

func TestExportIteratorErrorKeepsPosition(t *testing.T) {
	_, c := newFakeWith(t, Config{MaxRetries: -1}, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			reply(w, 200, `{"tickets":[`) // truncated JSON: the page fails
			return
		}
		reply(w, 200, fmt.Sprintf(`{"tickets":[{"id":%d}],"after_cursor":"c%d","end_of_stream":false}`, n, n))
	})
	ctx := context.Background()
	it := c.ExportTickets("", time.Unix(0, 0), 0)
	_, err := it.Next(ctx)
	require.NoError(t, err)
	_, err = it.Next(ctx)
	var mr *MalformedResponseError
	require.ErrorAs(t, err, &mr)
	assert.Equal(t, "c0", it.Cursor(), "a failed page does not move the cursor")
	p, err := it.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, "c2", p.AfterCursor)
}

func TestExportWithoutCursorIsMalformed(t *testing.T) {
	_, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		reply(w, 200, `{"tickets":[],"after_cursor":null,"end_of_stream":false}`)
	})
	_, err := c.TicketExportPage(context.Background(), "", time.Unix(0, 0), 0)
	var mr *MalformedResponseError
	require.ErrorAs(t, err, &mr)
}

func TestCommentEventsPage(t *testing.T) {
	body := `{"ticket_events":[
	  {"id":1,"ticket_id":100,"timestamp":1700000000,"created_at":"2023-11-14T22:13:20Z","updater_id":7,"via":"web","event_type":"Audit",
	   "child_events":[
	     {"id":11,"event_type":"Change","field_name":"status","value":"open","previous_value":"new"},
	     {"id":12,"event_type":"Comment","type":"Comment","author_id":7,"body":"hello","html_body":"<p>hello</p>","plain_body":"hello","public":false,"attachments":[],"audit_id":1,"via":{"channel":"web","source":{"rel":null}}},
	     {"id":13,"event_type":"Comment","body":{"not":"a string"}}
	   ]},
	  {"id":2,"ticket_id":101,"timestamp":1700000001,"via":{"channel":"api"},"event_type":"Audit",
	   "child_events":[{"id":21,"event_type":"Comment","type":"VoiceComment","author_id":8,"body":"voice","public":true,"created_at":"2023-11-14T22:13:21Z"}]},
	  {"id":3,"ticket_id":"x","child_events":[]},
	  {"id":4,"ticket_id":102,"timestamp":1700000002,"via":"mail","event_type":"Audit","child_events":[{"event_type":"Comment","body":"no id"}]}
	],"next_page":"https://acme.zendesk.com/api/v2/incremental/ticket_events.json?start_time=1700000002","count":4,"end_time":1700000002,"end_of_stream":false}`
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { reply(w, 200, body) })
	p, err := c.CommentEventsPage(context.Background(), 1699999999)
	require.NoError(t, err)

	r := f.requests()[0]
	assert.Equal(t, "/api/v2/incremental/ticket_events.json", r.Path)
	assert.Equal(t, "1699999999", r.Query.Get("start_time"))
	assert.Equal(t, "comment_events", r.Query.Get("include"))

	require.Len(t, p.Comments, 2)
	assert.Equal(t, int64(12), p.Comments[0].ID)
	assert.Equal(t, int64(100), p.Comments[0].TicketID)
	assert.Equal(t, int64(7), p.Comments[0].AuthorID)
	assert.Equal(t, "<p>hello</p>", p.Comments[0].HTMLBody)
	assert.False(t, p.Comments[0].Public)
	assert.Equal(t, ts("2023-11-14T22:13:20Z"), p.Comments[0].CreatedAt)
	assert.Equal(t, int64(21), p.Comments[1].ID)
	assert.Equal(t, int64(101), p.Comments[1].TicketID)
	assert.Equal(t, "VoiceComment", p.Comments[1].Type)
	assert.Equal(t, ts("2023-11-14T22:13:21Z"), p.Comments[1].CreatedAt)

	require.Len(t, p.Bad, 3)
	assert.Equal(t, "comment", p.Bad[0].Kind)
	assert.Equal(t, int64(13), p.Bad[0].ID)
	assert.Equal(t, "ticket_event", p.Bad[1].Kind)
	assert.Equal(t, int64(3), p.Bad[1].ID)
	assert.Equal(t, "comment", p.Bad[2].Kind)

	assert.Equal(t, int64(1700000002), p.EndTime)
	assert.Equal(t, 4, p.Count)
	assert.False(t, p.EndOfStream)
	assert.Contains(t, p.NextPage, "start_time=1700000002")
}

func TestTicketCommentsPagination(t *testing.T) {
	var base string
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 0:
			reply(w, 200, fmt.Sprintf(`{"comments":[{"id":1,"author_id":5,"body":"a","public":true,"created_at":"2024-01-01T00:00:00Z"}],
				"meta":{"has_more":true,"after_cursor":"xyz"},"links":{"next":"%s/api/v2/tickets/9/comments.json?page%%5Bafter%%5D=xyz&page%%5Bsize%%5D=100"}}`, base))
		default:
			reply(w, 200, `{"comments":[{"id":2,"author_id":6,"body":"b","public":false}],"meta":{"has_more":false},"links":{"next":null}}`)
		}
	})
	base = f.srv.URL
	cs, err := c.TicketComments(context.Background(), 9)
	require.NoError(t, err)
	require.Len(t, cs, 2)
	assert.Equal(t, int64(9), cs[1].TicketID)
	assert.False(t, cs[1].Public)
	reqs := f.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/api/v2/tickets/9/comments.json", reqs[0].Path)
	assert.Equal(t, "100", reqs[0].Query.Get("page[size]"))
	assert.Equal(t, "xyz", reqs[1].Query.Get("page[after]"))
}

func TestNextPageOnOtherHostIsRefused(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		reply(w, 200, `{"tickets":[{"id":1}],"next_page":"https://evil.example.com/api/v2/tickets.json?page=2"}`)
	})
	_, err := c.TicketsByExternalID(context.Background(), "crm-1")
	var mr *MalformedResponseError
	require.ErrorAs(t, err, &mr)
	assert.Len(t, f.requests(), 1, "credentials are never sent to another host")
}

func TestTicketsByExternalID(t *testing.T) {
	var base string
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			reply(w, 200, fmt.Sprintf(`{"tickets":[{"id":1,"external_id":"crm 1&x"}],"next_page":"%s/api/v2/tickets.json?external_id=crm+1%%26x&page=2","count":2}`, base))
			return
		}
		reply(w, 200, `{"tickets":[{"id":2,"external_id":"crm 1&x"}],"next_page":null,"count":2}`)
	})
	base = f.srv.URL
	tks, err := c.TicketsByExternalID(context.Background(), "crm 1&x")
	require.NoError(t, err)
	require.Len(t, tks, 2)
	assert.Equal(t, "crm 1&x", *tks[1].ExternalID)
	reqs := f.requests()
	assert.Equal(t, "/api/v2/tickets.json", reqs[0].Path)
	assert.Equal(t, "crm 1&x", reqs[0].Query.Get("external_id"))
	assert.Equal(t, "2", reqs[1].Query.Get("page"))
}

func TestShowManyUsersBatching(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		var users []string
		for _, id := range strings.Split(r.URL.Query().Get("ids"), ",") {
			users = append(users, fmt.Sprintf(`{"id":%s,"name":"u%s","role":"end-user"}`, id, id))
		}
		reply(w, 200, `{"users":[`+strings.Join(users, ",")+`],"next_page":null}`)
	})
	ids := make([]int64, 0, 160)
	for i := int64(1); i <= 150; i++ {
		ids = append(ids, i)
	}
	ids = append(ids, 5, 7, 0, -1) // duplicates and junk are dropped
	us, err := c.ShowManyUsers(context.Background(), ids)
	require.NoError(t, err)
	assert.Len(t, us, 150)
	reqs := f.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/api/v2/users/show_many.json", reqs[0].Path)
	assert.Len(t, strings.Split(reqs[0].Query.Get("ids"), ","), 100)
	assert.Len(t, strings.Split(reqs[1].Query.Get("ids"), ","), 50)
	assert.True(t, strings.HasPrefix(reqs[1].Query.Get("ids"), "101,"))

	us, err = c.ShowManyUsers(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, us)
	assert.Len(t, f.requests(), 2, "no ids, no request")
}

func TestSearchUsersByEmail(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		reply(w, 200, `{"users":[
			{"id":1,"name":"Jane","email":"Jane.Doe@Example.com","role":"end-user"},
			{"id":2,"name":"Jane Doe jr","email":"jane.doe@example.com.au","role":"end-user"},
			{"id":3,"name":"jane.doe@example.com","email":null,"role":"end-user"},
			{"id":4,"name":"Agent","email":"jane.doe@example.com","role":"agent"}
		],"next_page":null,"count":4}`)
	})
	us, err := c.SearchUsersByEmail(context.Background(), "jane.doe@example.com")
	require.NoError(t, err)
	require.Len(t, us, 2)
	assert.Equal(t, []int64{1, 4}, []int64{us[0].ID, us[1].ID})
	r := f.requests()[0]
	assert.Equal(t, "/api/v2/users/search.json", r.Path)
	assert.Equal(t, "jane.doe@example.com", r.Query.Get("query"))

	_, err = c.SearchUsersByEmail(context.Background(), " ")
	assert.Error(t, err)
}

func TestCreateUserBody(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			reply(w, 201, `{"user":{"id":5,"name":"Jane","email":"jane@example.com","role":"end-user"}}`)
			return
		}
		reply(w, 200, `{"user":{"id":5,"name":"Jane","email":"jane@example.com","role":"end-user"}}`)
	})
	u, err := c.CreateUser(context.Background(), NewUser{Name: "Jane", Email: "jane@example.com"})
	require.NoError(t, err)
	assert.Equal(t, int64(5), u.ID)
	r := f.requests()[0]
	assert.Equal(t, "POST", r.Method)
	assert.Equal(t, "/api/v2/users.json", r.Path)
	assert.JSONEq(t, `{"user":{"name":"Jane","email":"jane@example.com","role":"end-user"}}`, string(r.Body))

	_, err = c.CreateUser(context.Background(), NewUser{Name: "A", Email: "a@x.y", Role: "agent", Phone: "+1 555"})
	var mr *MalformedResponseError
	require.ErrorAs(t, err, &mr, "create must answer exactly 201")
	assert.JSONEq(t, `{"user":{"name":"A","email":"a@x.y","role":"agent","phone":"+1 555"}}`, string(f.requests()[1].Body))
}

func TestCreateTicketBody(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		reply(w, 201, `{"ticket":{"id":77,"status":"new"},"audit":{"id":1,"created_at":"2024-05-01T10:00:00Z","events":[
			{"id":900,"type":"Create","field_name":"status","value":"new"},
			{"id":901,"type":"Comment","author_id":3,"body":"first","public":true}]}}`)
	})
	author := int64(3)
	res, err := c.CreateTicket(context.Background(), NewTicket{
		Subject: "Printer", ExternalID: "crm-case-1", Requester: &Requester{Name: "Jane Doe", Email: "jane@example.com"},
		AssigneeID: ptr(int64(42)), Priority: "high", Type: "question",
		Comment:        NewComment{Body: "first", Public: true, AuthorID: &author},
		IdempotencyKey: "case-1-publish",
	})
	require.NoError(t, err)
	assert.Equal(t, int64(77), res.Ticket.ID)
	require.NotNil(t, res.FirstComment)
	assert.Equal(t, int64(901), res.FirstComment.ID)
	assert.Equal(t, int64(77), res.FirstComment.TicketID)
	assert.Equal(t, ts("2024-05-01T10:00:00Z"), res.FirstComment.CreatedAt)

	r := f.requests()[0]
	assert.Equal(t, "POST", r.Method)
	assert.Equal(t, "/api/v2/tickets.json", r.Path)
	assert.Equal(t, "case-1-publish", r.Header.Get("Idempotency-Key"))
	assert.JSONEq(t, `{"ticket":{"subject":"Printer","external_id":"crm-case-1",
		"requester":{"name":"Jane Doe","email":"jane@example.com"},"assignee_id":42,"priority":"high","type":"question",
		"comment":{"body":"first","public":true,"author_id":3}}}`, string(r.Body))
}

func TestUpdateTicketBody(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		reply(w, 200, `{"ticket":{"id":5,"status":"pending"},"audit":{"id":2,"created_at":"2024-05-01T10:00:00Z","events":[
			{"id":950,"type":"Comment","author_id":12345,"body":"text","public":false}]}}`)
	})
	res, err := c.UpdateTicket(context.Background(), 5, TicketUpdate{
		Status: ptr("pending"), Priority: ptr(""), AssigneeID: ptr(int64(0)),
		Comment: &NewComment{Body: "text", AuthorID: ptr(int64(12345))},
	})
	require.NoError(t, err)
	assert.Equal(t, "pending", res.Ticket.Status)
	require.NotNil(t, res.AddedComment)
	assert.Equal(t, int64(950), res.AddedComment.ID)
	assert.False(t, res.AddedComment.Public)
	r := f.requests()[0]
	assert.Equal(t, "PUT", r.Method)
	assert.Equal(t, "/api/v2/tickets/5.json", r.Path)
	assert.JSONEq(t, `{"ticket":{"status":"pending","priority":null,"assignee_id":null,
		"comment":{"body":"text","public":false,"author_id":12345}}}`, string(r.Body))

	_, err = c.UpdateTicket(context.Background(), 5, TicketUpdate{})
	assert.ErrorContains(t, err, "nothing to update")
	assert.Len(t, f.requests(), 1)

	// A safe update carries the updated_at it was decided from, in UTC to the second.
	stamp := time.Date(2024, 5, 1, 12, 0, 7, 0, time.FixedZone("CEST", 2*3600))
	_, err = c.UpdateTicket(context.Background(), 5, TicketUpdate{Subject: ptr("s"), SafeStamp: stamp})
	require.NoError(t, err)
	assert.JSONEq(t, `{"ticket":{"subject":"s","safe_update":true,"updated_stamp":"2024-05-01T10:00:07Z"}}`,
		string(f.requests()[1].Body))
}

func TestErrorTypes(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		status int
		header map[string]string
		body   string
		call   func(c *Client) error
		check  func(t *testing.T, err error)
	}{
		{"401", 401, map[string]string{"WWW-Authenticate": `Basic realm="Web Password"`}, `{"error":"Couldn't authenticate you"}`,
			func(c *Client) error { _, err := c.ShowTicket(ctx, 1); return err },
			func(t *testing.T, err error) {
				var e *CredentialsError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, 401, e.StatusCode)
				assert.Equal(t, "Couldn't authenticate you", e.Message)
			}},
		{"401 oauth", 401, nil, `{"error":"invalid_token","error_description":"The access token provided is expired"}`,
			func(c *Client) error { _, err := c.ShowTicket(ctx, 1); return err },
			func(t *testing.T, err error) {
				var e *CredentialsError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "invalid_token: The access token provided is expired", e.Message)
			}},
		{"403 object", 403, nil, `{"error":{"title":"Forbidden","message":"You do not have access to this page."}}`,
			func(c *Client) error { _, err := c.TicketExportPage(ctx, "", time.Unix(0, 0), 0); return err },
			func(t *testing.T, err error) {
				var e *CredentialsError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, 403, e.StatusCode)
				assert.Equal(t, "Forbidden: You do not have access to this page.", e.Message)
			}},
		{"404", 404, nil, `{"error":"RecordNotFound","description":"Not found"}`,
			func(c *Client) error { _, err := c.TicketComments(ctx, 8); return err },
			func(t *testing.T, err error) {
				var e *NotFoundError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "/api/v2/tickets/8/comments.json", e.Path)
				assert.Equal(t, "RecordNotFound: Not found", e.Message)
			}},
		{"422 closed", 422, nil, `{"error":"RecordInvalid","description":"Record validation errors","details":{"status":[{"description":"Status: closed prevents ticket update"}]}}`,
			func(c *Client) error {
				_, err := c.UpdateTicket(ctx, 33, TicketUpdate{Comment: &NewComment{Body: "x"}})
				return err
			},
			func(t *testing.T, err error) {
				var e *ClosedTicketError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, int64(33), e.TicketID)
				assert.False(t, IsRetryable(err))
			}},
		{"422 details", 422, nil, `{"error":"RecordInvalid","description":"Record validation errors","details":{
			"base":[{"description":"Type:: is required when solving a ticket","error":null,"ticket_field_id":12345657}],
			"email":["is already taken"],"requester":[{"error":"InvalidValue"}]}}`,
			func(c *Client) error { _, err := c.CreateUser(ctx, NewUser{Name: "x", Email: "y@z"}); return err },
			func(t *testing.T, err error) {
				var e *InvalidRecordError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, 422, e.StatusCode)
				assert.Equal(t, "Record validation errors", e.Description)
				assert.Equal(t, []string{"Type:: is required when solving a ticket"}, e.Details["base"])
				assert.Equal(t, []string{"is already taken"}, e.Details["email"])
				assert.Equal(t, []string{`{"error":"InvalidValue"}`}, e.Details["requester"])
				assert.Contains(t, err.Error(), "Record validation errors\n[base] Type:: is required when solving a ticket\n[email] is already taken")
			}},
		{"400 invalid cursor", 400, nil, `{"error":"InvalidPaginationParameter","description":"Invalid cursor"}`,
			func(c *Client) error {
				_, err := c.TicketExportPage(ctx, "MTU4MDc1Mzc5OC4wfHw0MzJ8", time.Time{}, 0)
				return err
			},
			func(t *testing.T, err error) {
				var e *InvalidCursorError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "/api/v2/incremental/tickets/cursor.json", e.Endpoint)
				assert.Contains(t, err.Error(), "Invalid cursor")
				assert.False(t, IsRetryable(err), "the same cursor is refused again")
			}},
		{"400 from a start_time export is not a cursor error", 400, nil, `{"error":"InvalidPaginationParameter","description":"Invalid cursor"}`,
			func(c *Client) error { _, err := c.TicketExportPage(ctx, "", time.Unix(0, 0), 0); return err },
			func(t *testing.T, err error) {
				var e *InvalidCursorError
				require.False(t, errors.As(err, &e))
				var ir *InvalidRecordError
				require.ErrorAs(t, err, &ir)
			}},
		{"400 not json", 400, nil, `<html>Bad Request</html>`,
			func(c *Client) error { _, err := c.ShowTicket(ctx, 1); return err },
			func(t *testing.T, err error) {
				var e *InvalidRecordError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "<html>Bad Request</html>", e.Description)
			}},
		{"429 write, Retry-After", 429, map[string]string{"Retry-After": "7"}, `{"error":"APIRateLimitExceeded","description":"Number of allowed API requests per minute exceeded"}`,
			func(c *Client) error { _, err := c.CreateUser(ctx, NewUser{Name: "x", Email: "y@z"}); return err },
			func(t *testing.T, err error) {
				var e *RateLimitError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, 7*time.Second, e.RetryAfter)
				assert.Contains(t, e.Message, "APIRateLimitExceeded")
				assert.True(t, IsRetryable(err))
			}},
		{"429 write, no Retry-After", 429, nil, `{"error":"APIRateLimitExceeded"}`,
			func(c *Client) error { _, err := c.UpdateTicket(ctx, 1, TicketUpdate{Status: ptr("open")}); return err },
			func(t *testing.T, err error) {
				var e *RateLimitError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, 60*time.Second, e.RetryAfter)
			}},
		{"malformed", 200, nil, `{"ticket": {"id": 1,`,
			func(c *Client) error { _, err := c.ShowTicket(ctx, 1); return err },
			func(t *testing.T, err error) {
				var e *MalformedResponseError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "/api/v2/tickets/1.json", e.Endpoint)
				assert.False(t, IsRetryable(err))
			}},
		{"missing root key", 200, nil, `{"tickets":[]}`,
			func(c *Client) error { _, err := c.ShowTicket(ctx, 1); return err },
			func(t *testing.T, err error) {
				var e *MalformedResponseError
				require.ErrorAs(t, err, &e)
				assert.Contains(t, err.Error(), `missing root key "ticket"`)
			}},
		{"missing root key in export", 200, nil, `{"users":[],"end_of_stream":true}`,
			func(c *Client) error { _, err := c.TicketExportPage(ctx, "", time.Unix(0, 0), 0); return err },
			func(t *testing.T, err error) {
				var e *MalformedResponseError
				require.ErrorAs(t, err, &e)
			}},
		{"html 200", 200, nil, `<html>maintenance</html>`,
			func(c *Client) error { _, err := c.CommentEventsPage(ctx, 0); return err },
			func(t *testing.T, err error) {
				var e *MalformedResponseError
				require.ErrorAs(t, err, &e)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				reply(w, tc.status, tc.body)
			})
			err := tc.call(c)
			require.Error(t, err)
			tc.check(t, err)
			assert.Len(t, f.requests(), 1, "none of these is retried")
			assert.NotContains(t, err.Error(), testToken)
		})
	}
}

func TestReadRetriedOn429ThenSucceeds(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			w.Header().Set("Retry-After", "0.2")
			reply(w, 429, `{"error":"APIRateLimitExceeded"}`)
			return
		}
		reply(w, 200, emptyExport)
	})
	_, err := c.TicketExportPage(context.Background(), "", time.Unix(0, 0), 0)
	require.NoError(t, err)
	reqs := f.requests()
	require.Len(t, reqs, 2)
	assert.GreaterOrEqual(t, reqs[1].At.Sub(reqs[0].At), 190*time.Millisecond, "waited Retry-After")
}

func TestAfter429OtherGoroutinesWait(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			w.Header().Set("Retry-After", "0.3")
			reply(w, 429, `{"error":"APIRateLimitExceeded"}`)
			return
		}
		reply(w, 200, emptyExport)
	})
	_, err := c.UpdateTicket(context.Background(), 1, TicketUpdate{Status: ptr("open")})
	var rl *RateLimitError
	require.ErrorAs(t, err, &rl)

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			_, err := c.TicketExportPage(context.Background(), "", time.Unix(0, 0), 0)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	reqs := f.requests()
	require.Len(t, reqs, 4)
	for _, r := range reqs[1:] {
		assert.GreaterOrEqual(t, r.At.Sub(reqs[0].At), 290*time.Millisecond, "nothing is sent before Retry-After")
	}
}

func TestPauseLongerThanDeadlineFailsFast(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "30")
		reply(w, 429, `{"error":"APIRateLimitExceeded"}`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.TicketExportPage(ctx, "", time.Unix(0, 0), 0)
	var rl *RateLimitError
	require.ErrorAs(t, err, &rl)
	assert.Less(t, time.Since(start), 150*time.Millisecond)
	assert.Greater(t, rl.RetryAfter, 29*time.Second)
	assert.Len(t, f.requests(), 1)
}

func TestPacingOnRemainingZero(t *testing.T) {
	for _, hdr := range []map[string]string{
		{"ratelimit-remaining": "0", "ratelimit-reset": "0.3", "X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "12"},
		{"zendesk-ratelimit-tickets-index": "total=100; remaining=0; resets=0.3"},
	} {
		f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 0 {
				for k, v := range hdr {
					w.Header().Set(k, v)
				}
			}
			reply(w, 200, emptyExport)
		})
		ctx := context.Background()
		_, err := c.TicketExportPage(ctx, "", time.Unix(0, 0), 0)
		require.NoError(t, err)
		_, err = c.TicketExportPage(ctx, "c1", time.Time{}, 0)
		require.NoError(t, err)
		_, err = c.TicketExportPage(ctx, "c1", time.Time{}, 0)
		require.NoError(t, err)
		reqs := f.requests()
		require.Len(t, reqs, 3)
		assert.GreaterOrEqual(t, reqs[1].At.Sub(reqs[0].At), 290*time.Millisecond, "waited for the reset: %v", hdr)
		assert.Less(t, reqs[2].At.Sub(reqs[1].At), 250*time.Millisecond, "no pause once the limit has reset")
	}
}

func TestRateLimitHeaderParsing(t *testing.T) {
	p := newPacer()
	h := http.Header{}
	h.Set("X-Rate-Limit", "700")
	h.Set("X-Rate-Limit-Remaining", "699")
	h.Set("Zendesk-Ratelimit-Tickets-Index", "total=100; remaining=99; resets=41")
	p.observe(context.Background(), discard(), h)
	assert.True(t, p.until().IsZero(), "nothing exhausted, no pause")

	h.Set("X-Rate-Limit-Remaining", "0")
	p.observe(context.Background(), discard(), h)
	assert.InDelta(t, 60, time.Until(p.until()).Seconds(), 1, "exhausted without a reset: one minute")

	total, rem, reset, known, ok := parseZendeskRateLimit("total=100; remaining=0; resets=41")
	assert.True(t, ok)
	assert.Equal(t, 100, total)
	assert.True(t, known)
	assert.Equal(t, 0, rem)
	assert.Equal(t, 41*time.Second, reset)
}

func TestServerErrorRetriedThenSuccess(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 0:
			reply(w, 500, `{"error":"InternalError"}`)
		case 1:
			w.Header().Set("Retry-After", "0.1")
			reply(w, 503, `Service Unavailable`)
		default:
			reply(w, 200, string(recordedFile(t, "nukosuke_GET_ticket.json")))
		}
	})
	tk, err := c.ShowTicket(context.Background(), 2)
	require.NoError(t, err)
	assert.Equal(t, int64(2), tk.ID)
	reqs := f.requests()
	require.Len(t, reqs, 3)
	assert.GreaterOrEqual(t, reqs[2].At.Sub(reqs[1].At), 90*time.Millisecond, "honoured Retry-After on 503")
}

func TestServerErrorExhausted(t *testing.T) {
	f, c := newFakeWith(t, Config{MaxRetries: 2}, func(w http.ResponseWriter, r *http.Request, n int) {
		reply(w, 502, `{"error":"BadGateway"}`)
	})
	_, err := c.ShowTicket(context.Background(), 2)
	var se *ServerError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 502, se.StatusCode)
	assert.True(t, IsRetryable(err))
	assert.Len(t, f.requests(), 3, "1 try + 2 retries")
}

func TestWritesAreNotRetried(t *testing.T) {
	for _, status := range []int{500, 503, 429} {
		f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Retry-After", "0")
			reply(w, status, `{"error":"x"}`)
		})
		ctx := context.Background()
		_, err := c.CreateTicket(ctx, NewTicket{Subject: "s", Comment: NewComment{Body: "b"}})
		require.Error(t, err)
		_, err = c.UpdateTicket(ctx, 1, TicketUpdate{Subject: ptr("s")})
		require.Error(t, err)
		_, err = c.CreateUser(ctx, NewUser{Name: "n", Email: "e@x"})
		require.Error(t, err)
		assert.True(t, IsRetryable(err))
		assert.Len(t, f.requests(), 3, "status %d: one request per write", status)
	}
}

func TestNetworkErrors(t *testing.T) {
	// A listener that is closed at once: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err := New(Config{URL: "http://" + addr, Email: testEmail, Token: testToken, RetryBackoff: time.Millisecond, MaxRetries: 2})
	require.NoError(t, err)
	_, err = c.ShowTicket(context.Background(), 1)
	var ne *NetworkError
	require.ErrorAs(t, err, &ne)
	assert.True(t, IsRetryable(err))
	assert.NotContains(t, err.Error(), testToken)

	// A body cut short is a network error (retried), not bad JSON.
	f, c2 := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			w.Header().Set("Content-Length", "5000")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"tickets":[{"id":1},`)
			return
		}
		reply(w, 200, emptyExport)
	})
	p, err := c2.TicketExportPage(context.Background(), "", time.Unix(0, 0), 0)
	require.NoError(t, err)
	assert.Empty(t, p.Tickets)
	assert.Len(t, f.requests(), 2)

	// Per-request timeout.
	_, c3 := newFakeWith(t, Config{Timeout: 50 * time.Millisecond, MaxRetries: -1}, func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(300 * time.Millisecond)
		reply(w, 200, emptyExport)
	})
	_, err = c3.TicketExportPage(context.Background(), "", time.Unix(0, 0), 0)
	require.ErrorAs(t, err, &ne)
	assert.True(t, IsRetryable(err))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestContextCancelStopsRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f, c := newFakeWith(t, Config{RetryBackoff: time.Second}, func(w http.ResponseWriter, r *http.Request, n int) {
		cancel()
		reply(w, 500, `{}`)
	})
	_, err := c.ShowTicket(ctx, 1)
	require.Error(t, err)
	assert.Len(t, f.requests(), 1)
}

func TestTokenNeverLeaks(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte(testEmail + "/token:" + testToken))
	ctx := context.Background()
	var errs []error
	// The server echoes the credentials it got in every error body, the worst case.
	f, c := newFakeWith(t, Config{MaxRetries: 1}, func(w http.ResponseWriter, r *http.Request, n int) {
		echo := fmt.Sprintf("bad auth %q token %s", r.Header.Get("Authorization"), testToken)
		body, _ := json.Marshal(map[string]any{"error": echo, "description": echo,
			"details": map[string]any{"status": []any{map[string]string{"description": echo}}}})
		switch r.URL.Path {
		case "/api/v2/tickets/1.json":
			reply(w, 401, string(body))
		case "/api/v2/tickets/2.json":
			reply(w, 500, string(body))
		case "/api/v2/tickets/3.json":
			reply(w, 422, string(body))
		case "/api/v2/tickets/4.json":
			w.Header().Set("Retry-After", "0")
			reply(w, 429, string(body))
		default:
			reply(w, 200, `{"ticket":`+string(body))
		}
	})
	for id := int64(1); id <= 5; id++ {
		_, err := c.ShowTicket(ctx, id)
		errs = append(errs, err)
	}
	_, err := c.UpdateTicket(ctx, 3, TicketUpdate{Subject: ptr("x")})
	errs = append(errs, err)
	for _, err := range errs {
		require.Error(t, err)
		s := err.Error() + fmt.Sprintf(" %+v %#v", err, err)
		assert.NotContains(t, s, testToken)
		assert.NotContains(t, s, basic)
	}
	logs := f.logs.String()
	assert.NotEmpty(t, logs)
	assert.NotContains(t, logs, testToken)
	assert.NotContains(t, logs, basic)
	assert.NotContains(t, logs, "Authorization")
}

func TestIsRetryable(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&RateLimitError{}, true},
		{&ServerError{StatusCode: 503}, true},
		{&NetworkError{Err: io.ErrUnexpectedEOF}, true},
		{fmt.Errorf("wrapped: %w", &ServerError{StatusCode: 500}), true},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{&NetworkError{Err: context.Canceled}, false},
		{&CredentialsError{StatusCode: 401}, false},
		{&NotFoundError{}, false},
		{&ClosedTicketError{TicketID: 1}, false},
		{&InvalidRecordError{StatusCode: 422}, false},
		{&MalformedResponseError{Err: errors.New("x")}, false},
		{errors.New("other"), false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, IsRetryable(tc.err), "%T %v", tc.err, tc.err)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestShowManyTicketsBatchingAndBadRecords(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		var tickets []string
		for _, id := range strings.Split(r.URL.Query().Get("ids"), ",") {
			if id == "42" {
				tickets = append(tickets, `{"id":42,"created_at":"not-a-date"}`) // skipped, not fatal
				continue
			}
			tickets = append(tickets, fmt.Sprintf(`{"id":%s,"subject":"t%s","status":"open"}`, id, id))
		}
		reply(w, 200, `{"tickets":[`+strings.Join(tickets, ",")+`]}`)
	})
	ids := make([]int64, 0, 120)
	for i := int64(1); i <= 120; i++ {
		ids = append(ids, i)
	}
	ts, err := c.ShowManyTickets(context.Background(), ids)
	require.NoError(t, err)
	assert.Len(t, ts, 119)
	assert.Equal(t, "t1", *ts[0].Subject)
	reqs := f.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/api/v2/tickets/show_many.json", reqs[0].Path)
	assert.Len(t, strings.Split(reqs[1].Query.Get("ids"), ","), 20)
}

// A 409 on a ticket update is Zendesk's "changed at the same moment": a typed, retryable error, never an invalid
// record (which the push would record as refused and drop).
func TestConflictOnUpdateIsATransientTypedError(t *testing.T) {
	_, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		reply(w, 409, `{"error":"Conflict","description":"The ticket was updated at the same time"}`)
	})
	_, err := c.UpdateTicket(context.Background(), 7, TicketUpdate{Subject: ptr("x")})
	var ce *ConflictError
	require.ErrorAs(t, err, &ce)
	var inv *InvalidRecordError
	assert.False(t, errors.As(err, &inv))
	assert.True(t, IsRetryable(err))
	assert.Contains(t, err.Error(), "409")
}

func TestUpdateTicketBodyCustomFieldsAndTags(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		reply(w, 200, `{"ticket":{"id":5,"status":"open","tags":["vip"],"custom_fields":[{"id":7,"value":"x"}]}}`)
	})
	res, err := c.UpdateTicket(context.Background(), 5, TicketUpdate{
		CustomFields:   []CustomField{{ID: 7, Value: json.RawMessage(`"x"`)}, {ID: 8}},
		AdditionalTags: []string{"vip"}, RemoveTags: []string{"old"},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"vip"}, res.Ticket.Tags)
	require.Len(t, res.Ticket.CustomFields, 1)
	assert.Equal(t, CustomField{ID: 7, Value: json.RawMessage(`"x"`)}, res.Ticket.CustomFields[0])
	assert.JSONEq(t, `{"ticket":{"custom_fields":[{"id":7,"value":"x"},{"id":8,"value":null}],
		"additional_tags":["vip"],"remove_tags":["old"]}}`, string(f.requests()[0].Body))
}
