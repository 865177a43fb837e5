package importing

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// maxChangedPerCall is the most tickets one ApplyChangedTickets call takes: one show_many request.
const maxChangedPerCall = 100

// ApplyChangedTickets is the webhook path: it fetches the tickets a webhook named by id (one show_many request,
// their people in another), lists their comments (one request per ticket per 100 comments), and applies them
// through the same translation, merge and writes as an export page, under the same sync-state lock. Neither
// stream position moves: the export still reads these tickets later, and finds them applied (an unchanged ticket
// writes nothing; comments are inserted once). Deleted or unknown tickets are absent from show_many and left to
// the export. Repeating it is harmless, so it is idempotent.
func (a *Activities) ApplyChangedTickets(ctx context.Context, in contract.ChangedTicketsInput) (contract.PageCounters, error) {
	var out contract.PageCounters
	if len(in.TicketIDs) > maxChangedPerCall {
		return out, fmt.Errorf("%d tickets in one call, at most %d", len(in.TicketIDs), maxChangedPerCall)
	}
	integ, c, err := a.connect(ctx, in.IntegrationID)
	if err != nil || len(in.TicketIDs) == 0 {
		return out, err
	}
	stop := activities.KeepAlive(ctx)
	defer stop()
	st, sc, err := a.fetchChanged(ctx, c, integ, in.TicketIDs)
	if err != nil {
		return out, err
	}
	dir, err := a.Directory(ctx)
	if err != nil {
		return out, err
	}
	err = a.Store.ApplyDirect(ctx, integ.ID, func(ptx *store.PageTx) error {
		return a.Guard(func() error {
			tc, err := a.applyTickets(ptx, integ, dir, &st)
			if err != nil {
				return err
			}
			pp := activities.NewPeople(ptx, integ, dir)
			if err := pp.Upsert(stagedUsers(sc.Users)); err != nil {
				return err
			}
			linked, err := ptx.InsertAndLinkComments(integ.OwnerUserID, sc.Comments)
			if err != nil {
				return err
			}
			failures := badFailures(sc.Bad)
			if err := ptx.RecordFailures(failures); err != nil {
				return err
			}
			out = tc
			out.Comments += linked
			out.Failures += int64(len(failures))
			return nil
		})
	})
	if err != nil {
		return contract.PageCounters{}, a.Classify(ctx, integ, "apply tickets changed in Zendesk", err)
	}
	activities.ObservePage(integ.Name, "webhook", out) // counted apart from the export's pages
	return out, nil
}

// fetchChanged reads the tickets by id with their people, and their comments with the authors not mirrored yet,
// cleaned and staged as a fetched page would be (so a poison record becomes a failure, not a failed call).
func (a *Activities) fetchChanged(ctx context.Context, c *zendesk.Client, integ *store.Integration,
	ids []int64) (stagedTickets, stagedComments, error) {
	tickets, err := c.ShowManyTickets(ctx, ids)
	if err != nil {
		return stagedTickets{}, stagedComments{}, a.Classify(ctx, integ, "fetch changed tickets", err)
	}
	var people []int64
	for i := range tickets {
		people = append(people, activities.RoleIDs(&tickets[i])...)
		people = append(people, tickets[i].CollaboratorIDs...)
	}
	users, err := c.ShowManyUsers(ctx, people)
	if err != nil {
		return stagedTickets{}, stagedComments{}, a.Classify(ctx, integ, "fetch the people of changed tickets", err)
	}
	comments, err := a.commentsOf(ctx, c, integ, tickets)
	if err != nil {
		return stagedTickets{}, stagedComments{}, err
	}
	sc, err := a.stageComments(ctx, c, integ, comments, nil)
	if err != nil {
		return stagedTickets{}, stagedComments{}, err
	}
	return stageTickets(tickets, users, nil), sc, nil
}

// commentFetchers is how many tickets' comments are listed at once: the step's latency is that of its slowest
// ticket rather than their sum, and the client's pacing still keeps the account's rate limit.
const commentFetchers = 8

// commentsOf lists the comments of each ticket, several tickets at once.
func (a *Activities) commentsOf(ctx context.Context, c *zendesk.Client, integ *store.Integration,
	tickets []zendesk.Ticket) ([]zendesk.Comment, error) {
	per := make([][]zendesk.Comment, len(tickets))
	errs := make([]error, len(tickets))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(commentFetchers, len(tickets)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cs, err := c.TicketComments(ctx, tickets[i].ID)
				var nf *zendesk.NotFoundError
				if errors.As(err, &nf) {
					continue // deleted since show_many: the export brings the deletion
				}
				per[i], errs[i] = cs, err
			}
		}()
	}
	for i := range tickets {
		next <- i
	}
	close(next)
	wg.Wait()
	var out []zendesk.Comment
	for i := range tickets {
		if errs[i] != nil {
			return nil, a.Classify(ctx, integ, fmt.Sprintf("list the comments of ticket %d", tickets[i].ID), errs[i])
		}
		out = append(out, per[i]...)
	}
	return out, nil
}
