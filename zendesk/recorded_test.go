package zendesk

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestRecordedBodies serves every recorded Zendesk body (testdata/recorded, see SOURCES.md) from the endpoint it
// belongs to and checks the decoded values against the file.
func TestRecordedBodies(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		file   string
		status int
		call   func(c *Client) (any, error)
		check  func(t *testing.T, v any, err error)
	}{
		{
			file: "nukosuke_GET_ticket.json", status: 200,
			call: func(c *Client) (any, error) { return c.ShowTicket(ctx, 2) },
			check: func(t *testing.T, v any, err error) {
				require.NoError(t, err)
				tk := v.(*Ticket)
				assert.Equal(t, int64(2), tk.ID)
				assert.Equal(t, "https://d3v-terraform-provider.zendesk.com/api/v2/tickets/2.json", tk.URL)
				assert.Nil(t, tk.ExternalID)
				assert.Equal(t, "Mail to create fixture ticket for testing", *tk.Subject)
				assert.Equal(t, "Mail to create fixture ticket for testing\n\nnukosuke (●ↀ ω ↀ●)", tk.Description)
				assert.Equal(t, "solved", tk.Status)
				assert.Nil(t, tk.Priority)
				assert.Nil(t, tk.Type)
				assert.Equal(t, "support@d3v-terraform-provider.zendesk.com", *tk.Recipient)
				assert.Equal(t, int64(377922500012), *tk.RequesterID)
				assert.Equal(t, int64(377922500012), *tk.AssigneeID)
				assert.Equal(t, int64(360363695492), *tk.OrganizationID)
				assert.Equal(t, int64(360004077472), *tk.GroupID)
				assert.Empty(t, tk.CollaboratorIDs)
				assert.Nil(t, tk.ProblemID)
				assert.Nil(t, tk.DueAt)
				assert.Equal(t, ts("2019-06-03T02:23:47Z"), tk.CreatedAt)
				assert.Equal(t, ts("2019-06-03T02:25:28Z"), tk.UpdatedAt)
				var raw map[string]any
				require.NoError(t, json.Unmarshal(tk.Raw, &raw))
				assert.Equal(t, float64(360000389592), raw["ticket_form_id"], "Raw keeps fields the struct does not model")
			},
		},
		{
			file: "nukosuke_GET_ticket_comments.json", status: 200,
			call: func(c *Client) (any, error) { return c.TicketComments(ctx, 2) },
			check: func(t *testing.T, v any, err error) {
				require.NoError(t, err)
				cs := v.([]Comment)
				require.Len(t, cs, 2)
				assert.Equal(t, []int64{2, 3}, []int64{cs[0].ID, cs[1].ID})
				for _, c := range cs {
					assert.Equal(t, int64(2), c.TicketID)
					assert.Equal(t, "Comment", c.Type)
					assert.Equal(t, int64(377922500012), c.AuthorID)
					assert.Equal(t, "Mail to create fixture ticket for testing", c.Body)
					assert.True(t, c.Public)
				}
				assert.Equal(t, ts("2019-06-03T01:23:47Z"), cs[0].CreatedAt)
			},
		},
		{
			file: "nukosuke_GET_users.json", status: 200,
			call: func(c *Client) (any, error) { return c.ShowManyUsers(ctx, []int64{369531345753, 369537351454}) },
			check: func(t *testing.T, v any, err error) {
				require.NoError(t, err)
				us := v.([]User)
				require.Len(t, us, 2)
				assert.Equal(t, int64(369531345753), us[0].ID)
				assert.Equal(t, "Sample customer", us[0].Name)
				assert.Equal(t, "customer@example.com", *us[0].Email)
				assert.Equal(t, "end-user", us[0].Role)
				assert.False(t, us[0].Verified)
				assert.True(t, us[0].Active)
				assert.Nil(t, us[0].Phone)
				assert.Equal(t, "admin", us[1].Role)
				assert.Equal(t, "nukosuke@lavabit.com", *us[1].Email)
				assert.True(t, us[1].Verified)
				assert.Equal(t, ts("2018-11-30T19:12:34Z"), us[1].UpdatedAt)
			},
		},
		{
			file: "nukosuke_POST_ticket.json", status: 201,
			call: func(c *Client) (any, error) {
				return c.CreateTicket(ctx, NewTicket{Subject: "nyanyanyanya", Priority: "urgent",
					Comment: NewComment{Body: "(●ↀ ω ↀ )", Public: true}})
			},
			check: func(t *testing.T, v any, err error) {
				require.NoError(t, err)
				ct := v.(*CreatedTicket)
				assert.Equal(t, int64(4), ct.Ticket.ID)
				assert.Equal(t, "new", ct.Ticket.Status)
				assert.Equal(t, "urgent", *ct.Ticket.Priority)
				assert.Nil(t, ct.Ticket.AssigneeID)
				assert.Equal(t, []int64{377922500012}, ct.Ticket.CollaboratorIDs)
				require.NotNil(t, ct.FirstComment)
				fc := ct.FirstComment
				assert.Equal(t, int64(653915434312), fc.ID)
				assert.Equal(t, int64(4), fc.TicketID)
				assert.Equal(t, int64(377922500012), fc.AuthorID)
				assert.Equal(t, "(●ↀ ω ↀ )", fc.Body)
				assert.Equal(t, `<div class="zd-comment" dir="auto"><p dir="auto">(●ↀ ω ↀ )</p></div>`, fc.HTMLBody)
				assert.True(t, fc.Public)
				assert.Equal(t, ts("2019-06-06T10:02:04Z"), fc.CreatedAt, "taken from the audit")
			},
		},
		{
			file: "nukosuke_POST_users.json", status: 201,
			call: func(c *Client) (any, error) {
				return c.CreateUser(ctx, NewUser{Name: "testuser", Email: "test@example.com"})
			},
			check: func(t *testing.T, v any, err error) {
				require.NoError(t, err)
				u := v.(*User)
				assert.Equal(t, int64(369895320554), u.ID)
				assert.Equal(t, "testuser", u.Name)
				assert.Equal(t, "test@example.com", *u.Email)
				assert.Equal(t, "end-user", u.Role)
				assert.Equal(t, ts("2018-11-30T19:28:01Z"), u.CreatedAt)
			},
		},
		{
			file: "fairyhunter13_PUT_ticket.json", status: 200,
			call: func(c *Client) (any, error) { return c.UpdateTicket(ctx, 2, TicketUpdate{Status: ptr("solved")}) },
			check: func(t *testing.T, v any, err error) {
				require.NoError(t, err)
				ut := v.(*UpdatedTicket)
				assert.Equal(t, int64(2), ut.Ticket.ID)
				assert.Equal(t, "solved", ut.Ticket.Status)
				assert.Equal(t, ts("2019-06-05T01:13:24Z"), ut.Ticket.UpdatedAt)
				assert.Nil(t, ut.AddedComment, "no audit in this response")
			},
		},
		{
			file: "airbyte_tickets_cursor.json", status: 200,
			call: func(c *Client) (any, error) { return c.TicketExportPage(ctx, "", time.Unix(0, 0), 0) },
			check: func(t *testing.T, v any, err error) {
				require.NoError(t, err)
				p := v.(*TicketPage)
				require.Len(t, p.Tickets, 1)
				assert.Empty(t, p.Bad)
				tk := p.Tickets[0]
				assert.Equal(t, int64(35436), tk.ID)
				assert.Equal(t, "ahg35h3jh", *tk.ExternalID)
				assert.Equal(t, "Help, my printer is on fire!", *tk.Subject)
				assert.Equal(t, "{{dc.printer_on_fire}}", *tk.RawSubject)
				assert.Equal(t, "open", tk.Status)
				assert.Equal(t, "high", *tk.Priority)
				assert.Equal(t, "incident", *tk.Type)
				assert.Equal(t, int64(9873764), *tk.ProblemID)
				assert.Equal(t, int64(76872), *tk.SubmitterID)
				assert.Equal(t, []int64{35334, 234}, tk.CollaboratorIDs)
				assert.Equal(t, []string{"enterprise", "other_tag"}, tk.Tags)
				assert.Equal(t, int64(1723660897), tk.GeneratedTimestamp)
				assert.Equal(t, ts("2009-07-20T22:55:29Z"), tk.CreatedAt)
				assert.Equal(t, "MTU3NjYxMzUzOS4wfHw0Njd8", p.AfterCursor)
				assert.Equal(t, "https://d3v-airbyte.zendesk.com/api/v2/incremental/tickets/cursor.json?cursor=MTU3NjYxMzUzOS4wfHw0Njd8", p.AfterURL)
				assert.True(t, p.EndOfStream)
			},
		},
		{
			file: "airbyte_ticket_events.json", status: 200,
			call: func(c *Client) (any, error) { return c.CommentEventsPage(ctx, 1719792000) },
			check: func(t *testing.T, v any, err error) {
				require.NoError(t, err)
				p := v.(*CommentEventPage)
				require.Len(t, p.Comments, 1)
				cm := p.Comments[0]
				assert.Equal(t, int64(926256957614), cm.ID)
				assert.Equal(t, int64(123), cm.TicketID, "from the parent event")
				assert.Equal(t, "Test comment", cm.Body)
				assert.Equal(t, ts("2024-07-01T00:00:00Z"), cm.CreatedAt, "from the parent event")
				assert.Equal(t, int64(1719792000), p.EndTime)
				assert.Equal(t, 1, p.Count)
				assert.True(t, p.EndOfStream)
				assert.Empty(t, p.NextPage)
			},
		},
		{
			file: "airbyte_403.json", status: 403,
			call: func(c *Client) (any, error) { return c.ShowTicket(ctx, 1) },
			check: func(t *testing.T, _ any, err error) {
				var ce *CredentialsError
				require.True(t, errors.As(err, &ce), "%v", err)
				assert.Equal(t, 403, ce.StatusCode)
				assert.Equal(t, "the 403 error", ce.Message)
			},
		},
		{
			file: "airbyte_404.json", status: 404,
			call: func(c *Client) (any, error) { return c.ShowTicket(ctx, 1) },
			check: func(t *testing.T, _ any, err error) {
				var nf *NotFoundError
				require.True(t, errors.As(err, &nf), "%v", err)
				assert.Equal(t, "/api/v2/tickets/1.json", nf.Path)
				assert.Equal(t, "the 404 error", nf.Message)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			body := recordedFile(t, tc.file)
			_, c := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { reply(w, tc.status, string(body)) })
			v, err := tc.call(c)
			tc.check(t, v, err)
		})
	}
}
