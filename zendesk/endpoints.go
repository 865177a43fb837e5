package zendesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	maxExportPerPage = 1000
	showManyBatch    = 100
	// A list walk longer than this is a server bug (a next link pointing back); stop instead of spinning.
	maxListPages = 10000
	// Zendesk excludes the last minute from incremental exports and has rejected too recent start times.
	exportLag = 60 * time.Second
)

// clampStart keeps an export start_time within what Zendesk accepts: not negative, not within the last minute.
func clampStart(unix int64) int64 {
	latest := time.Now().Add(-exportLag).Unix()
	return max(0, min(unix, latest))
}

// TicketExportPage fetches one page of the cursor-based incremental ticket export with users side-loaded:
// GET /api/v2/incremental/tickets/cursor.json. With cursor == "" the page starts at startTime, otherwise at the
// cursor (startTime is then ignored, Zendesk rejects both). perPage 0 means 1000, the maximum. Deleted tickets
// come through with status "deleted". A cursor Zendesk refuses gives an *InvalidCursorError.
func (c *Client) TicketExportPage(ctx context.Context, cursor string, startTime time.Time, perPage int) (*TicketPage, error) {
	if perPage <= 0 || perPage > maxExportPerPage {
		perPage = maxExportPerPage
	}
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	} else {
		q.Set("start_time", strconv.FormatInt(clampStart(startTime.Unix()), 10))
	}
	q.Set("include", "users")
	q.Set("per_page", strconv.Itoa(perPage))
	var page *TicketPage
	err := c.do(ctx, &request{method: http.MethodGet, path: "/api/v2/incremental/tickets/cursor.json", query: q,
		cursor: cursor != ""},
		func(r io.Reader) error {
			var err error
			page, err = decodeTicketPage(r)
			return err
		})
	if err != nil {
		return nil, err
	}
	c.logBad(ctx, "/api/v2/incremental/tickets/cursor.json", page.Bad)
	return page, nil
}

// TicketExport iterates over the cursor-based ticket export. It is not safe for concurrent use.
type TicketExport struct {
	c       *Client
	cursor  string
	start   time.Time
	perPage int
	done    bool
}

// ExportTickets returns an iterator starting at cursor, or at startTime when cursor is "".
func (c *Client) ExportTickets(cursor string, startTime time.Time, perPage int) *TicketExport {
	return &TicketExport{c: c, cursor: cursor, start: startTime, perPage: perPage}
}

// Next returns the next page, or io.EOF after the page with EndOfStream. On error the position does not move, so
// calling Next again retries the same page.
func (e *TicketExport) Next(ctx context.Context) (*TicketPage, error) {
	if e.done {
		return nil, io.EOF
	}
	p, err := e.c.TicketExportPage(ctx, e.cursor, e.start, e.perPage)
	if err != nil {
		return nil, err
	}
	if p.AfterCursor != "" {
		e.cursor = p.AfterCursor
	}
	e.done = p.EndOfStream
	return p, nil
}

// Cursor is the cursor to resume from: the after_cursor of the last page returned ("" before the first page when
// started from a time). Persist it with the page's data; after EndOfStream it is the cursor to poll with later.
func (e *TicketExport) Cursor() string { return e.cursor }

// CommentEventsPage fetches one page of the incremental ticket-events export with comments side-loaded:
// GET /api/v2/incremental/ticket_events.json?start_time=<unix>&include=comment_events. It returns every child
// event with event_type "Comment", with TicketID from its parent event. The next call uses start_time = EndTime;
// events of the boundary second come again, so callers dedupe comments by id.
func (c *Client) CommentEventsPage(ctx context.Context, startTime int64) (*CommentEventPage, error) {
	q := url.Values{}
	q.Set("start_time", strconv.FormatInt(clampStart(startTime), 10))
	q.Set("include", "comment_events")
	var page *CommentEventPage
	err := c.do(ctx, &request{method: http.MethodGet, path: "/api/v2/incremental/ticket_events.json", query: q},
		func(r io.Reader) error {
			var err error
			page, err = decodeCommentEventPage(r)
			return err
		})
	if err != nil {
		return nil, err
	}
	c.logBad(ctx, "/api/v2/incremental/ticket_events.json", page.Bad)
	return page, nil
}

// TicketComments lists all comments of one ticket, oldest first: GET /api/v2/tickets/{id}/comments.json, following
// pagination. It costs one request per 100 comments; prefer CommentEventsPage for bulk. Comments that cannot be
// decoded are logged and skipped.
func (c *Client) TicketComments(ctx context.Context, ticketID int64) ([]Comment, error) {
	if ticketID <= 0 {
		return nil, fmt.Errorf("zendesk: ticket comments: invalid ticket id %d", ticketID)
	}
	q := url.Values{}
	q.Set("page[size]", "100")
	var out []Comment
	err := c.list(ctx, fmt.Sprintf("/api/v2/tickets/%d/comments.json", ticketID), q, "comments", "comment",
		func(raw json.RawMessage) error {
			var cm Comment
			if err := json.Unmarshal(raw, &cm); err != nil {
				return err
			}
			cm.TicketID = ticketID
			out = append(out, cm)
			return nil
		})
	return out, err
}

// ShowManyUsers fetches users by id: GET /api/v2/users/show_many.json?ids=..., 100 ids per request. Duplicate and
// non-positive ids are dropped; ids Zendesk does not know are simply absent from the result.
func (c *Client) ShowManyUsers(ctx context.Context, ids []int64) ([]User, error) {
	var out []User
	err := c.showMany(ctx, "/api/v2/users/show_many.json", "users", "user", ids, collect(&out))
	return out, err
}

// ShowManyTickets fetches tickets by id: GET /api/v2/tickets/show_many.json?ids=..., 100 ids per request, so a
// read-before-write check of many tickets costs one request per hundred. Deleted or unknown tickets are absent.
func (c *Client) ShowManyTickets(ctx context.Context, ids []int64) ([]Ticket, error) {
	var out []Ticket
	err := c.showMany(ctx, "/api/v2/tickets/show_many.json", "tickets", "ticket", ids, collect(&out))
	return out, err
}

// collect is an element callback that decodes each record into a T and appends it to out.
func collect[T any](out *[]T) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		*out = append(*out, v)
		return nil
	}
}

// showMany pages a show_many endpoint in batches of 100 unique positive ids.
func (c *Client) showMany(ctx context.Context, path, root, kind string, ids []int64, elem func(json.RawMessage) error) error {
	seen := make(map[int64]bool, len(ids))
	uniq := make([]int64, 0, len(ids))
	for _, id := range ids {
		if id > 0 && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	for start := 0; start < len(uniq); start += showManyBatch {
		batch := uniq[start:min(start+showManyBatch, len(uniq))]
		parts := make([]string, len(batch))
		for i, id := range batch {
			parts[i] = strconv.FormatInt(id, 10)
		}
		q := url.Values{}
		q.Set("ids", strings.Join(parts, ","))
		if err := c.list(ctx, path, q, root, kind, elem); err != nil {
			return err
		}
	}
	return nil
}

// SearchUsersByEmail finds the users whose email is exactly email, ignoring case: GET /api/v2/users/search.json.
// Zendesk's search also matches names, notes and partial addresses, so the results are filtered here.
func (c *Client) SearchUsersByEmail(ctx context.Context, email string) ([]User, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return nil, errors.New("zendesk: search users: empty email")
	}
	q := url.Values{}
	q.Set("query", email)
	var out []User
	err := c.list(ctx, "/api/v2/users/search.json", q, "users", "user", func(raw json.RawMessage) error {
		var u User
		if err := json.Unmarshal(raw, &u); err != nil {
			return err
		}
		if u.Email != nil && strings.EqualFold(strings.TrimSpace(*u.Email), email) {
			out = append(out, u)
		}
		return nil
	})
	return out, err
}

// CreateUser creates a user: POST /api/v2/users.json, which must answer 201. Zendesk answers 422 when the email is
// taken (an *InvalidRecordError). Never retried.
func (c *Client) CreateUser(ctx context.Context, u NewUser) (*User, error) {
	role := u.Role
	if role == "" {
		role = "end-user"
	}
	body := map[string]any{"name": u.Name, "email": u.Email, "role": role}
	if u.Phone != "" {
		body["phone"] = u.Phone
	}
	var user *User
	err := c.do(ctx, &request{method: http.MethodPost, path: "/api/v2/users.json", body: map[string]any{"user": body},
		want: http.StatusCreated}, func(r io.Reader) error {
		var err error
		user, err = decodeSingle[User](r, "user")
		return err
	})
	if err != nil {
		return nil, err
	}
	return user, nil
}

// ShowTicket fetches one ticket: GET /api/v2/tickets/{id}.json.
func (c *Client) ShowTicket(ctx context.Context, id int64) (*Ticket, error) {
	if id <= 0 {
		return nil, fmt.Errorf("zendesk: show ticket: invalid id %d", id)
	}
	var t *Ticket
	err := c.do(ctx, &request{method: http.MethodGet, path: fmt.Sprintf("/api/v2/tickets/%d.json", id)},
		func(r io.Reader) error {
			var err error
			t, err = decodeSingle[Ticket](r, "ticket")
			return err
		})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// TicketsByExternalID lists the tickets with the given external id: GET /api/v2/tickets.json?external_id=X.
// External ids are not unique in Zendesk, so there may be several.
func (c *Client) TicketsByExternalID(ctx context.Context, externalID string) ([]Ticket, error) {
	if externalID == "" {
		return nil, errors.New("zendesk: tickets by external id: empty external id")
	}
	q := url.Values{}
	q.Set("external_id", externalID)
	var out []Ticket
	err := c.list(ctx, "/api/v2/tickets.json", q, "tickets", "ticket", func(raw json.RawMessage) error {
		var t Ticket
		if err := json.Unmarshal(raw, &t); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// CreateTicket creates a ticket: POST /api/v2/tickets.json, which must answer 201. It is never retried: a create
// whose response was lost may still have happened. Set IdempotencyKey so that a deliberate retry is safe.
func (c *Client) CreateTicket(ctx context.Context, t NewTicket) (*CreatedTicket, error) {
	body := map[string]any{"comment": t.Comment}
	if t.Subject != "" {
		body["subject"] = t.Subject
	}
	setString(body, "external_id", t.ExternalID)
	setString(body, "status", t.Status)
	setString(body, "priority", t.Priority)
	setString(body, "type", t.Type)
	if t.RequesterID != nil {
		body["requester_id"] = *t.RequesterID
	}
	if t.Requester != nil {
		body["requester"] = t.Requester
	}
	if t.SubmitterID != nil {
		body["submitter_id"] = *t.SubmitterID
	}
	if t.AssigneeID != nil {
		body["assignee_id"] = *t.AssigneeID
	}
	if len(t.CustomFields) > 0 {
		body["custom_fields"] = t.CustomFields
	}
	if len(t.Tags) > 0 {
		body["tags"] = t.Tags
	}
	req := &request{method: http.MethodPost, path: "/api/v2/tickets.json", body: map[string]any{"ticket": body},
		want: http.StatusCreated}
	if t.IdempotencyKey != "" {
		req.header = http.Header{"Idempotency-Key": {t.IdempotencyKey}}
	}
	var res CreatedTicket
	err := c.do(ctx, req, func(r io.Reader) error {
		tk, comment, err := decodeTicketAudit(r)
		if err != nil {
			return err
		}
		res.Ticket, res.FirstComment = *tk, comment
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// UpdateTicket sends a partial update: PUT /api/v2/tickets/{id}.json with only the non-nil fields, which must answer
// 200. It is never retried automatically (a repeated comment would be posted twice). Updating a closed ticket gives
// a *ClosedTicketError; a safe update (u.SafeStamp) of a ticket changed since gives a *ConflictError.
func (c *Client) UpdateTicket(ctx context.Context, id int64, u TicketUpdate) (*UpdatedTicket, error) {
	if id <= 0 {
		return nil, fmt.Errorf("zendesk: update ticket: invalid id %d", id)
	}
	body := map[string]any{}
	if u.Subject != nil {
		body["subject"] = *u.Subject
	}
	if u.Status != nil {
		body["status"] = *u.Status
	}
	if u.Priority != nil {
		body["priority"] = nullIfEmpty(*u.Priority)
	}
	if u.Type != nil {
		body["type"] = nullIfEmpty(*u.Type)
	}
	if u.AssigneeID != nil {
		if *u.AssigneeID == 0 {
			body["assignee_id"] = nil
		} else {
			body["assignee_id"] = *u.AssigneeID
		}
	}
	if u.RequesterID != nil {
		body["requester_id"] = *u.RequesterID
	}
	if u.Comment != nil {
		body["comment"] = u.Comment
	}
	if len(u.CustomFields) > 0 {
		body["custom_fields"] = u.CustomFields
	}
	if len(u.AdditionalTags) > 0 {
		body["additional_tags"] = u.AdditionalTags
	}
	if len(u.RemoveTags) > 0 {
		body["remove_tags"] = u.RemoveTags
	}
	if len(body) == 0 {
		return nil, errors.New("zendesk: update ticket: nothing to update")
	}
	if !u.SafeStamp.IsZero() {
		body["safe_update"] = true
		body["updated_stamp"] = u.SafeStamp.UTC().Format(time.RFC3339)
	}
	var res UpdatedTicket
	err := c.do(ctx, &request{method: http.MethodPut, path: fmt.Sprintf("/api/v2/tickets/%d.json", id),
		body: map[string]any{"ticket": body}, want: http.StatusOK, ticketID: id}, func(r io.Reader) error {
		tk, comment, err := decodeTicketAudit(r)
		if err != nil {
			return err
		}
		res.Ticket, res.AddedComment = *tk, comment
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

func setString(m map[string]any, key, v string) {
	if v != "" {
		m[key] = v
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// decodeSingle decodes a {"<root>": {...}} response.
func decodeSingle[T any](r io.Reader, root string) (*T, error) {
	var raw json.RawMessage
	err := walkTop(r, func(dec *json.Decoder, key string) error {
		if key == root {
			return dec.Decode(&raw)
		}
		return skip(dec)
	})
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("missing root key %q", root)
	}
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", root, err)
	}
	return v, nil
}

// decodeTicketAudit decodes a create/update response: the ticket and, from its audit, the comment just added.
func decodeTicketAudit(r io.Reader) (*Ticket, *Comment, error) {
	var rawTicket, rawAudit json.RawMessage
	err := walkTop(r, func(dec *json.Decoder, key string) error {
		switch key {
		case "ticket":
			return dec.Decode(&rawTicket)
		case "audit":
			return dec.Decode(&rawAudit)
		default:
			return skip(dec)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	if len(rawTicket) == 0 || string(rawTicket) == "null" {
		return nil, nil, errors.New(`missing root key "ticket"`)
	}
	var t Ticket
	if err := json.Unmarshal(rawTicket, &t); err != nil {
		return nil, nil, fmt.Errorf("decode ticket: %w", err)
	}
	comment, err := auditComment(rawAudit, t.ID)
	if err != nil {
		return nil, nil, err
	}
	return &t, comment, nil
}

// list walks a list endpoint and calls elem for each record. It follows cursor pagination (meta.has_more +
// links.next) and offset pagination (next_page). Records elem rejects are logged and skipped, since these calls
// return plain slices.
func (c *Client) list(ctx context.Context, path string, q url.Values, root, kind string, elem func(json.RawMessage) error) error {
	req := &request{method: http.MethodGet, path: path, query: q}
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page >= maxListPages {
			return &MalformedResponseError{Endpoint: path, Err: fmt.Errorf("more than %d pages", maxListPages)}
		}
		var next string
		var records []json.RawMessage
		err := c.do(ctx, req, func(r io.Reader) error {
			// Reset per attempt: a retried read must not hand the records of a cut-off attempt to elem twice.
			records = records[:0]
			var err error
			next, err = decodeList(r, root, func(raw json.RawMessage) { records = append(records, raw) })
			return err
		})
		if err != nil {
			return err
		}
		var bad []BadRecord
		for _, raw := range records {
			if err := elem(raw); err != nil {
				bad = append(bad, badRecord(kind, raw, err))
			}
		}
		c.logBad(ctx, path, bad)
		if next == "" {
			return nil
		}
		target, err := c.sameAPI(next)
		if err != nil {
			return &MalformedResponseError{Endpoint: path, Err: err}
		}
		if seen[target] {
			return &MalformedResponseError{Endpoint: path, Err: errors.New("next page link points to a page already read")}
		}
		seen[target] = true
		req = &request{method: http.MethodGet, path: target}
	}
}

// decodeList decodes one page of a list endpoint and returns the next page's URL, or "".
func decodeList(r io.Reader, root string, elem func(json.RawMessage)) (string, error) {
	var (
		sawRoot  bool
		nextPage string
		meta     *struct {
			HasMore bool `json:"has_more"`
		}
		links struct {
			Next *string `json:"next"`
		}
	)
	err := walkTop(r, func(dec *json.Decoder, key string) error {
		switch key {
		case root:
			sawRoot = true
			return eachElement(dec, elem)
		case "next_page":
			return decodeNullableString(dec, &nextPage)
		case "meta":
			return dec.Decode(&meta)
		case "links":
			return dec.Decode(&links)
		default:
			return skip(dec)
		}
	})
	if err != nil {
		return "", err
	}
	if !sawRoot {
		return "", fmt.Errorf("missing root key %q", root)
	}
	if meta != nil {
		if meta.HasMore && links.Next != nil {
			return *links.Next, nil
		}
		return "", nil
	}
	return nextPage, nil
}

func (c *Client) logBad(ctx context.Context, endpoint string, bad []BadRecord) {
	for _, b := range bad {
		c.log.WarnContext(ctx, "zendesk: skipped a record that could not be decoded", "endpoint", endpoint,
			"kind", b.Kind, "id", b.ID, "error", b.Err.Error())
	}
}
