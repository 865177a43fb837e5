package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// stagedBad is a record Zendesk sent that could not be decoded; it becomes a failure when its page is applied.
type stagedBad struct {
	Kind   string          `json:"kind"`
	ID     int64           `json:"id"`
	Reason string          `json:"reason"`
	Raw    json.RawMessage `json:"raw"`
}

// stagedTickets is a fetched ticket page as it waits in PostgreSQL: Zendesk's own bytes per record.
type stagedTickets struct {
	Tickets []json.RawMessage `json:"tickets"`
	Users   []json.RawMessage `json:"users"`
	Bad     []stagedBad       `json:"bad"`
}

// stagedComments is a fetched page of comment events, with the authors that were not mirrored yet.
type stagedComments struct {
	Comments []store.CommentRow `json:"comments"`
	Users    []json.RawMessage  `json:"users"`
	Bad      []stagedBad        `json:"bad"`
}

// FetchTicketPage reads one page of the incremental ticket export (users side-loaded) from ref.From, and stages
// it. Retrying it re-fetches and replaces the staged page, so it is idempotent.
func (a *Activities) FetchTicketPage(ctx context.Context, ref PageRef) (FetchResult, error) {
	in, err := a.Store.Integration(ctx, ref.IntegrationID)
	if err != nil {
		return FetchResult{}, err
	}
	c, err := a.client(in)
	if err != nil {
		return FetchResult{}, err
	}
	stop := keepAlive(ctx)
	defer stop()
	var start time.Time
	if in.SyncFrom.Valid {
		start = in.SyncFrom.Time
	}
	page, err := c.TicketExportPage(ctx, ref.From, start, a.PerPage)
	if err != nil {
		return FetchResult{}, a.classify(ctx, in, fmt.Sprintf("fetch tickets from cursor %q", ref.From), err)
	}
	st := stagedTickets{Tickets: make([]json.RawMessage, 0, len(page.Tickets)), Users: make([]json.RawMessage, 0, len(page.Users))}
	for _, t := range page.Tickets {
		st.Tickets = append(st.Tickets, t.Raw)
	}
	for _, u := range page.Users {
		st.Users = append(st.Users, u.Raw)
	}
	st.Bad = stageBad(page.Bad)
	body, err := json.Marshal(st)
	if err != nil {
		return FetchResult{}, fmt.Errorf("encode ticket page: %w", err)
	}
	next := page.AfterCursor
	if next == "" {
		next = ref.From
	}
	// A page that does not move the cursor ends the stream for this pass instead of being fetched again.
	endOfStream := page.EndOfStream || next == ref.From
	if err := a.Store.StagePage(ctx, &store.Page{IntegrationID: in.ID, Kind: store.KindTickets, Generation: ref.Generation,
		FromPos: ref.From, NextPos: next, EndOfStream: endOfStream, Body: body}); err != nil {
		return FetchResult{}, err
	}
	return FetchResult{Next: next, EndOfStream: endOfStream, Records: len(page.Tickets) + len(page.Bad)}, nil
}

// FetchCommentPage reads one page of ticket events with their comments from ref.From (a Unix time), fetches the
// comment authors not mirrored yet in one batched call, and stages both.
func (a *Activities) FetchCommentPage(ctx context.Context, ref PageRef) (FetchResult, error) {
	in, err := a.Store.Integration(ctx, ref.IntegrationID)
	if err != nil {
		return FetchResult{}, err
	}
	c, err := a.client(in)
	if err != nil {
		return FetchResult{}, err
	}
	start, err := strconv.ParseInt(ref.From, 10, 64)
	if err != nil {
		return FetchResult{}, fmt.Errorf("comment stream position %q: %w", ref.From, err)
	}
	stop := keepAlive(ctx)
	defer stop()
	page, err := c.CommentEventsPage(ctx, start)
	if err != nil {
		return FetchResult{}, a.classify(ctx, in, fmt.Sprintf("fetch comment events from %d", start), err)
	}
	sc := stagedComments{Comments: make([]store.CommentRow, 0, len(page.Comments)), Bad: stageBad(page.Bad)}
	var authors []int64
	seen := map[int64]bool{}
	for _, cm := range page.Comments {
		created := cm.CreatedAt
		row := store.CommentRow{ZendeskID: cm.ID, TicketID: cm.TicketID, Body: cm.Body, HTMLBody: cm.HTMLBody,
			Public: cm.Public, Raw: cm.Raw}
		if !created.IsZero() {
			row.OriginCreatedAt = &created
		}
		if cm.AuthorID > 0 {
			id := cm.AuthorID
			row.AuthorID = &id
			if !seen[id] {
				seen[id] = true
				authors = append(authors, id)
			}
		}
		sc.Comments = append(sc.Comments, row)
	}
	known, err := a.Store.KnownUsers(ctx, in.ID, authors)
	if err != nil {
		return FetchResult{}, err
	}
	var missing []int64
	for _, id := range authors {
		if !known[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		users, err := c.ShowManyUsers(ctx, missing)
		if err != nil {
			return FetchResult{}, a.classify(ctx, in, "fetch comment authors", err)
		}
		for _, u := range users {
			sc.Users = append(sc.Users, u.Raw)
		}
	}
	body, err := json.Marshal(sc)
	if err != nil {
		return FetchResult{}, fmt.Errorf("encode comment page: %w", err)
	}
	next := start
	if page.EndTime > next {
		next = page.EndTime
	}
	// A page that does not move the position on (Zendesk leaves out the last minute, so a recent position gets
	// events already read back) ends the stream for this pass: fetching from the same position again would
	// loop. The next pass starts from there.
	endOfStream := page.EndOfStream || next == start
	nextPos := strconv.FormatInt(next, 10)
	if err := a.Store.StagePage(ctx, &store.Page{IntegrationID: in.ID, Kind: store.KindComments, Generation: ref.Generation,
		FromPos: ref.From, NextPos: nextPos, EndOfStream: endOfStream, Body: body}); err != nil {
		return FetchResult{}, err
	}
	return FetchResult{Next: nextPos, EndOfStream: endOfStream, Records: len(page.Comments)}, nil
}

func stageBad(bad []zendesk.BadRecord) []stagedBad {
	out := make([]stagedBad, 0, len(bad))
	for _, b := range bad {
		raw := b.Raw
		if !json.Valid(raw) {
			raw, _ = json.Marshal(string(raw))
		}
		out = append(out, stagedBad{Kind: b.Kind, ID: b.ID, Reason: b.Err.Error(), Raw: raw})
	}
	return out
}
