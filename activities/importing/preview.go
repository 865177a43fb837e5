package importing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// The dry-run and the first-sync preview (package preview) decide exactly as an import does: they read the pages
// the fetch activities read, cleaned as a page is staged, and translate each ticket with translateTicket itself.
// What follows are their entry points; nothing here writes.

// ImportRules are the integration's settings a translation follows (translateTicket's rules).
type ImportRules = importRules

// Translation is what one ticket becomes (translateTicket's result).
type Translation = translated

// DeriveFunc derives a ticket's case values from its people as resolved for the page.
type DeriveFunc = deriveFunc

// RulesFor are the rules an integration's tickets are translated by in the given sync generation: the one place
// the import and the previews take them from, so a setting added to them reaches both.
func RulesFor(in *store.Integration, generation int) (ImportRules, error) {
	m, err := in.CustomMapping()
	if err != nil {
		return importRules{}, err
	}
	return importRules{TwoWay: in.TwoWay, Priority: mapping.Priority(in.Priority), Generation: generation,
		Mapping: m}, nil
}

// TranslateTicket is translateTicket, the import's decision for one ticket.
func TranslateTicket(t *zendesk.Ticket, ex *store.ExistingTicket, derive DeriveFunc, r ImportRules) (Translation, error) {
	return translateTicket(t, ex, derive, r)
}

// CaseValuesOf is a case's values as the import's merge reads them.
func CaseValuesOf(c *store.CaseRow) mapping.CaseValues { return caseValues(c) }

// PreviewedTickets is one ticket export page as its apply would see it.
type PreviewedTickets struct {
	Tickets     []zendesk.Ticket // cleaned, each ticket once (its last copy in the page)
	Users       []zendesk.User   // side-loaded, cleaned
	Bad         int              // records that would be recorded as failures
	Next        string
	EndOfStream bool
}

// PreviewTicketPage reads the ticket export page from "from" with exactly FetchTicketPage's request (a refused
// cursor restarts by time the same way), and cleans it as staging does, without staging it. Errors are Zendesk's,
// unclassified: a preview parks nothing and records nothing.
func (a *Activities) PreviewTicketPage(ctx context.Context, c *zendesk.Client, in *store.Integration, from string) (PreviewedTickets, error) {
	var start time.Time
	if in.SyncFrom.Valid {
		start = in.SyncFrom.Time
	}
	page, err := c.TicketExportPage(ctx, from, start, a.PerPage)
	var refused *zendesk.InvalidCursorError
	if errors.As(err, &refused) && from != "" {
		var restart time.Time
		if restart, err = a.ticketRestartTime(ctx, in, start); err != nil {
			return PreviewedTickets{}, err
		}
		page, err = c.TicketExportPage(ctx, "", restart, a.PerPage)
	}
	if err != nil {
		return PreviewedTickets{}, fmt.Errorf("read tickets from cursor %q: %w", from, err)
	}
	st := stageTickets(page.Tickets, page.Users, page.Bad)
	next := page.AfterCursor
	if next == "" {
		next = from
	}
	return PreviewedTickets{Tickets: st.tickets(), Users: stagedUsers(st.Users), Bad: len(st.Bad), Next: next,
		EndOfStream: page.EndOfStream || next == from}, nil
}

// PreviewedComments is one comment events page as its apply would see it.
type PreviewedComments struct {
	Comments    []store.CommentRow // cleaned, each once
	Authors     []zendesk.User     // the authors not mirrored yet, fetched as the fetch activity fetches them
	Bad         int
	Next        int64
	EndOfStream bool
}

// PreviewCommentPage reads the comment events page from start with FetchCommentPage's requests (the page, then the
// authors not mirrored yet in one batched call), without staging it. A second holding more events than a page is
// not read ticket by ticket here (that costs a request per ticket): the preview moves on to the next second as the
// pass does, and counts only the page's comments of that second.
func (a *Activities) PreviewCommentPage(ctx context.Context, c *zendesk.Client, in *store.Integration, start int64) (PreviewedComments, error) {
	page, err := c.CommentEventsPage(ctx, start)
	if err != nil {
		return PreviewedComments{}, fmt.Errorf("read comment events from %d: %w", start, err)
	}
	out := PreviewedComments{Next: max(start, page.EndTime), Bad: len(page.Bad)}
	out.EndOfStream = page.EndOfStream || out.Next == start
	if !page.EndOfStream && page.EndTime == start && start <= time.Now().Add(-exportLag).Unix() {
		out.Next, out.EndOfStream = start+1, false
	}
	seen := map[int64]bool{}
	var authors []int64
	for _, cm := range page.Comments {
		if seen[cm.ID] {
			continue
		}
		seen[cm.ID] = true
		row, err := activities.CleanComment(cm)
		if err != nil {
			out.Bad++
			continue
		}
		if id := cm.AuthorID; id > 0 && !seen[-id] {
			seen[-id] = true
			authors = append(authors, id)
		}
		out.Comments = append(out.Comments, row)
	}
	users, err := a.newAuthors(ctx, c, in.ID, authors)
	if err != nil {
		return out, fmt.Errorf("read comment authors: %w", err)
	}
	if len(users) > 0 {
		su, bad := stageUsers(users)
		out.Authors, out.Bad = stagedUsers(su), out.Bad+len(bad)
	}
	return out, nil
}
