package importing

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// cursorRestartOverlap is how far before the newest applied generated_timestamp the ticket stream restarts when
// Zendesk refuses its cursor. The cursor export is ordered by generated_timestamp, so restarting at that second
// would do; the margin covers tickets whose generated_timestamp Zendesk recorded slightly out of order. Tickets
// read twice are harmless: they are upserted by id, and an unchanged one is not written.
const cursorRestartOverlap = 5 * time.Minute

// connect reads the integration and gives its Zendesk client.
func (a *Activities) connect(ctx context.Context, integrationID int64) (*store.Integration, *zendesk.Client, error) {
	in, err := a.Store.Integration(ctx, integrationID)
	if err != nil {
		return nil, nil, err
	}
	c, err := a.Client(in)
	if err != nil {
		return nil, nil, err
	}
	return in, c, nil
}

// FetchTicketPage reads one page of the incremental ticket export (users side-loaded) from ref.From, and stages
// it. Retrying it re-fetches and replaces the staged page, so it is idempotent. A page with nothing to write is
// applied here instead when the workflow asks (ref.ApplyEmpty; see land).
func (a *Activities) FetchTicketPage(ctx context.Context, ref contract.PageRef) (contract.FetchResult, error) {
	ctx = activities.WithPriorAttempts(ctx, ref.PriorAttempts)
	j, err := a.open(ctx, ref, store.KindTickets)
	if err != nil {
		return contract.FetchResult{}, err
	}
	in, c, ref := j.in, j.c, j.ref
	stop := activities.KeepAlive(ctx)
	defer stop()
	var start time.Time
	if in.SyncFrom.Valid {
		start = in.SyncFrom.Time
	}
	page, err := c.TicketExportPage(ctx, ref.From, start, a.PerPage)
	var refused *zendesk.InvalidCursorError
	if errors.As(err, &refused) && ref.From != "" {
		// The saved cursor is refused (an account restore, a simulator restarted): restart by time from what the
		// stream has applied, minus an overlap. The page is staged under the refused cursor, where the stream
		// stands, so applying it moves the stream onto the new cursor; the workflow sees an ordinary page.
		var restart time.Time
		if restart, err = a.ticketRestartTime(ctx, in, start); err != nil {
			return contract.FetchResult{}, err
		}
		a.Log().Warn("Zendesk refused the ticket export cursor: restarting the ticket stream by time",
			"integration", in.Name, "error", refused.Error(), "start_time", restart.UTC().Format(time.RFC3339))
		page, err = c.TicketExportPage(ctx, "", restart, a.PerPage)
	}
	if err != nil {
		return contract.FetchResult{}, a.Classify(ctx, in, fmt.Sprintf("fetch tickets from cursor %q", ref.From), err)
	}
	staged := stageTickets(page.Tickets, page.Users, page.Bad)
	next := page.AfterCursor
	if next == "" {
		next = ref.From
	}
	// A page that does not move the cursor ends the stream for this pass instead of being fetched again.
	endOfStream := page.EndOfStream || next == ref.From
	empty := len(staged.Tickets) == 0 && len(staged.Users) == 0 && len(staged.Bad) == 0
	return a.land(ctx, j, &store.Page{IntegrationID: in.ID, Kind: store.KindTickets, Generation: ref.Generation,
		FromPos: ref.From, NextPos: next, EndOfStream: endOfStream}, staged, empty, len(page.Tickets)+len(page.Bad))
}

// fetchJob is one fetch: the integration, its Zendesk client, the page to fetch and, for the first fetch of a pass,
// where the streams stood when it opened the pass.
type fetchJob struct {
	in  *store.Integration
	c   *zendesk.Client
	ref contract.PageRef
	pos *contract.Position
}

// open gets a fetch ready. The first fetch of a pass (ref.StartPass) opens the pass's record, before anything can
// fail on Zendesk's side so that a failure is recorded against the pass, and fetches from where the stream stands
// in PostgreSQL, in the generation it reads there: what SyncPosition did before the pass's first fetch. Retrying it
// is harmless: an open pass stays the one going on, and the stream's position is read again.
func (a *Activities) open(ctx context.Context, ref contract.PageRef, kind string) (*fetchJob, error) {
	in, err := a.Store.Integration(ctx, ref.IntegrationID)
	if err != nil {
		return nil, err
	}
	j := &fetchJob{in: in, ref: ref}
	if ref.StartPass {
		st, err := a.Store.StartPass(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		pos := activities.PositionOf(in, st)
		j.pos = &pos
		j.ref.Generation, j.ref.From = pos.Generation, pos.From(kind)
	}
	if j.c, err = a.Client(in); err != nil {
		return nil, err
	}
	return j, nil
}

// land stages a fetched page for its apply activity. A page with nothing to write (empty), when the workflow asks
// (ApplyEmpty), is applied here instead: applying it would only move the stream's position, which ApplyEmptyPage
// does with the same compare-and-set, so the workflow schedules no apply activity for it. When such a page ends the
// comment stream, the pass's last, and the workflow asks (EndPass), the pass's end is recorded here too, as EndSync
// records it; when it ends the ticket stream of a pass's first fetch and the workflow asks (AndComments), the
// comment stream's first page is fetched next, here. All of it is idempotent: a retried fetch finds the pages
// applied and records the end again.
func (a *Activities) land(ctx context.Context, j *fetchJob, p *store.Page, staged any, empty bool,
	records int) (contract.FetchResult, error) {
	res := contract.FetchResult{Next: p.NextPos, EndOfStream: p.EndOfStream, Records: records, Position: j.pos}
	if !empty || !j.ref.ApplyEmpty {
		body, err := encodeStaged(staged)
		if err != nil {
			return contract.FetchResult{}, err
		}
		p.Body = body
		return res, a.Store.StagePage(ctx, p)
	}
	c, at, err := a.Store.ApplyEmptyPage(ctx, p)
	if err != nil {
		return contract.FetchResult{}, a.Classify(ctx, j.in, "apply empty "+p.Kind+" page", err)
	}
	activities.ObservePage(j.in.Name, p.Kind, c)
	res.Applied = &c
	if at != p.NextPos {
		// An earlier attempt applied the page, and the stream stands elsewhere than this attempt's answer ends:
		// the workflow goes on from where it stands.
		res.Next, res.EndOfStream = at, false
	}
	switch {
	case !res.EndOfStream:
	case p.Kind == store.KindComments && j.ref.EndPass:
		if err := a.EndSync(ctx, contract.EndSyncInput{IntegrationID: j.in.ID, FirstSyncDone: true}); err != nil {
			return contract.FetchResult{}, err
		}
		res.PassEnded = true
	case p.Kind == store.KindTickets && j.ref.AndComments && j.pos != nil:
		// The ticket stream ended with nothing to apply: the comment stream starts here, in the same activity.
		cr, err := a.fetchComments(ctx, &fetchJob{in: j.in, c: j.c, ref: contract.PageRef{IntegrationID: j.in.ID,
			Generation: j.pos.Generation, From: j.pos.EventsFrom, ApplyEmpty: true, EndPass: j.ref.EndPass}})
		if err != nil {
			return contract.FetchResult{}, err
		}
		res.Comments = &cr
	}
	return res, nil
}

// ticketRestartTime is where the ticket stream restarts by time: the newest generated_timestamp it applied in
// this generation, minus the overlap, never before the integration's sync-from date (from).
func (a *Activities) ticketRestartTime(ctx context.Context, in *store.Integration, from time.Time) (time.Time, error) {
	ts, err := a.Store.TicketRestartPoint(ctx, in.ID)
	if err != nil {
		return time.Time{}, err
	}
	if ts <= 0 {
		return from, nil
	}
	t := time.Unix(ts, 0).Add(-cursorRestartOverlap)
	if t.Before(from) {
		return from, nil
	}
	return t, nil
}

// FetchCommentPage reads one page of ticket events with their comments from ref.From (a Unix time), fetches the
// comment authors not mirrored yet in one batched call, and stages both (or, when the page holds nothing to write,
// applies it as FetchTicketPage does).
func (a *Activities) FetchCommentPage(ctx context.Context, ref contract.PageRef) (contract.FetchResult, error) {
	ctx = activities.WithPriorAttempts(ctx, ref.PriorAttempts)
	j, err := a.open(ctx, ref, store.KindComments)
	if err != nil {
		return contract.FetchResult{}, err
	}
	return a.fetchComments(ctx, j)
}

// fetchComments is FetchCommentPage once its integration and client are at hand.
func (a *Activities) fetchComments(ctx context.Context, j *fetchJob) (contract.FetchResult, error) {
	in, c, ref := j.in, j.c, j.ref
	start, err := strconv.ParseInt(ref.From, 10, 64)
	if err != nil {
		return contract.FetchResult{}, fmt.Errorf("comment stream position %q: %w", ref.From, err)
	}
	stop := activities.KeepAlive(ctx)
	defer stop()
	page, err := c.CommentEventsPage(ctx, start)
	if err != nil {
		return contract.FetchResult{}, a.Classify(ctx, in, fmt.Sprintf("fetch comment events from %d", start), err)
	}
	next := start
	if page.EndTime > next {
		next = page.EndTime
	}
	// A page that does not move the position on (Zendesk leaves out the last minute, so a recent position gets
	// events already read back) ends the stream for this pass: fetching from the same position again would
	// loop. The next pass starts from there.
	endOfStream := page.EndOfStream || next == start
	comments := page.Comments
	if !page.EndOfStream && page.EndTime == start && start <= time.Now().Add(-exportLag).Unix() {
		// A full page inside one second: more events share this second than a page holds, and the time-based
		// export cannot page within a second (every call from here returns this same page). The comments of
		// the second are read through the tickets concerned instead, and the stream moves on to the next second.
		// (The check on the last minute: a recent position is sent clamped, so its page is not this case.)
		more, err := a.commentsOfSecond(ctx, c, in, start)
		if err != nil {
			return contract.FetchResult{}, err
		}
		comments = append(comments, more...)
		next, endOfStream = start+1, false
	}
	sc, err := a.stageComments(ctx, c, in, comments, page.Bad)
	if err != nil {
		return contract.FetchResult{}, err
	}
	empty, err := a.nothingNew(ctx, j, sc)
	if err != nil {
		return contract.FetchResult{}, err
	}
	return a.land(ctx, j, &store.Page{IntegrationID: in.ID, Kind: store.KindComments, Generation: ref.Generation,
		FromPos: ref.From, NextPos: strconv.FormatInt(next, 10), EndOfStream: endOfStream}, sc, empty, len(sc.Comments))
}

// mirroredCheckMax is the most comments a page may hold for the fetch to look whether they are all mirrored. The
// events export repeats the second a page ended at (the next page starts at its end_time), so the comment page of
// a pass that finds nothing holds that second's comments again: a few, all mirrored, and applying them writes
// nothing. A page of many is new work.
const mirroredCheckMax = 100

// nothingNew says whether applying a staged comment page would write nothing but the stream's position: no author
// or bad record to write, and no comment that is not mirrored yet (applying skips those). Only asked when the
// fetch may apply such a page itself (ApplyEmpty).
func (a *Activities) nothingNew(ctx context.Context, j *fetchJob, sc stagedComments) (bool, error) {
	if !j.ref.ApplyEmpty || len(sc.Users) > 0 || len(sc.Bad) > 0 || len(sc.Comments) > mirroredCheckMax {
		return false, nil
	}
	ids := make([]int64, len(sc.Comments))
	for i, c := range sc.Comments {
		ids[i] = c.ZendeskID
	}
	return a.Store.CommentsMirrored(ctx, j.in.ID, ids)
}

// stageComments builds the staged page of comments: each comment once, cleaned, with the authors not mirrored
// yet, fetched in one batched call.
func (a *Activities) stageComments(ctx context.Context, c *zendesk.Client, in *store.Integration,
	comments []zendesk.Comment, bad []zendesk.BadRecord) (stagedComments, error) {
	sc := stagedComments{Comments: make([]store.CommentRow, 0, len(comments)), Bad: stageBad(bad)}
	var authors []int64
	seen := map[int64]bool{}
	dup := map[int64]bool{}
	for _, cm := range comments {
		if dup[cm.ID] {
			continue
		}
		dup[cm.ID] = true
		row, err := activities.CleanComment(cm)
		if err != nil {
			sc.Bad = append(sc.Bad, unstorable("comment", cm.ID, cm.Raw, err.Error()))
			continue
		}
		if id := cm.AuthorID; id > 0 && !seen[id] {
			seen[id] = true
			authors = append(authors, id)
		}
		sc.Comments = append(sc.Comments, row)
	}
	users, err := a.newAuthors(ctx, c, in.ID, authors)
	if err != nil {
		return sc, a.Classify(ctx, in, "fetch comment authors", err)
	}
	if len(users) > 0 {
		var ubad []stagedBad
		sc.Users, ubad = stageUsers(users)
		sc.Bad = append(sc.Bad, ubad...)
	}
	return sc, nil
}

// newAuthors reads from Zendesk the comment authors the mirror does not hold yet (one show_many request), none
// when it holds them all.
func (a *Activities) newAuthors(ctx context.Context, c *zendesk.Client, integrationID int64,
	authors []int64) ([]zendesk.User, error) {
	known, err := a.Store.KnownUsers(ctx, integrationID, authors)
	if err != nil {
		return nil, err
	}
	var missing []int64
	for _, id := range authors {
		if !known[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	return c.ShowManyUsers(ctx, missing)
}

// exportLag is the last minute Zendesk leaves out of incremental exports; the client clamps start times to it.
const exportLag = time.Minute

// commentsOfSecond reads every comment made in second sec, for a second holding more ticket events than an
// events page. The tickets concerned are found with the cursor ticket export from sec, which, unlike the events
// export, pages within a second: a ticket with a comment at sec has its generated_timestamp at sec or later.
// Those created by then (a ticket created later cannot have an event at sec) and not deleted (their comments are
// gone with them) get their comments listed, one request per 100 comments, and those of second sec are kept.
// The cost grows with the tickets changed since sec, which is why only such a second takes this path.
func (a *Activities) commentsOfSecond(ctx context.Context, c *zendesk.Client, in *store.Integration, sec int64) ([]zendesk.Comment, error) {
	var ids []int64
	seen := map[int64]bool{}
	cursor := ""
	for {
		page, err := c.TicketExportPage(ctx, cursor, time.Unix(sec, 0), a.PerPage)
		if err != nil {
			return nil, a.Classify(ctx, in, fmt.Sprintf("list the tickets changed since %d", sec), err)
		}
		for _, t := range page.Tickets {
			if t.Status != "deleted" && t.CreatedAt.Unix() <= sec && !seen[t.ID] {
				seen[t.ID] = true
				ids = append(ids, t.ID)
			}
		}
		if page.EndOfStream || page.AfterCursor == "" || page.AfterCursor == cursor {
			break
		}
		cursor = page.AfterCursor
	}
	a.Log().Info("more ticket events in one second than a page holds: reading that second's comments per ticket",
		"integration", in.Name, "second", sec, "tickets", len(ids))
	var out []zendesk.Comment
	for _, id := range ids {
		cs, err := c.TicketComments(ctx, id)
		var nf *zendesk.NotFoundError
		if errors.As(err, &nf) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, a.Classify(ctx, in, fmt.Sprintf("list the comments of ticket %d", id), err)
		}
		for _, cm := range cs {
			if cm.CreatedAt.Unix() == sec {
				out = append(out, cm)
			}
		}
	}
	return out, nil
}

func stageBad(bad []zendesk.BadRecord) []stagedBad {
	out := make([]stagedBad, 0, len(bad))
	for _, b := range bad {
		out = append(out, stagedBad{Kind: b.Kind, ID: b.ID, Reason: activities.CleanText(b.Err.Error()), Raw: activities.StorablePayload(b.Raw)})
	}
	return out
}
