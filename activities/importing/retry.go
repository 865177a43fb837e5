package importing

import (
	"context"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/store"
)

// RetryFailures fetches the integration's failed tickets again by id (100 per request, with their people) and
// applies those that now read and map cleanly; their failures are closed. Tickets that still fail keep their
// record with the latest reason.
func (a *Activities) RetryFailures(ctx context.Context, ref contract.IntegrationRef) (contract.RetryResult, error) {
	integrationID := ref.IntegrationID
	var res contract.RetryResult
	in, err := a.Store.Integration(ctx, integrationID)
	if err != nil {
		return res, err
	}
	ids, err := a.Store.FailedTicketIDs(ctx, in.ID)
	if err != nil || len(ids) == 0 {
		return res, err
	}
	res.Retried = len(ids)
	// Like an apply, this may wait for the sync-state lock or for Zendesk's rate limit: heartbeat meanwhile.
	stop := activities.KeepAlive(ctx)
	defer stop()
	c, err := a.Client(in)
	if err != nil {
		return res, err
	}
	tickets, err := c.ShowManyTickets(ctx, ids)
	if err != nil {
		return res, a.Classify(ctx, in, "fetch failed tickets", err)
	}
	var people []int64
	for _, t := range tickets {
		people = append(people, activities.RoleIDs(&t)...)
		people = append(people, t.CollaboratorIDs...)
	}
	users, err := c.ShowManyUsers(ctx, people)
	if err != nil {
		return res, a.Classify(ctx, in, "fetch the people of failed tickets", err)
	}
	// Cleaned like a fetched page (see clean.go), so a poison ticket fails here as a record, not as the retry.
	st := stageTickets(tickets, users, nil)
	dir, err := a.Directory(ctx)
	if err != nil {
		return res, err
	}
	err = a.Store.ApplyDirect(ctx, in.ID, func(ptx *store.PageTx) error {
		return a.Guard(func() error {
			// A retried ticket is applied even if its updated_at did not move: it never landed.
			_, err := a.applyTickets(ptx, in, dir, &st)
			return err
		})
	})
	if err != nil {
		return res, a.Classify(ctx, in, "apply failed tickets", err)
	}
	still, err := a.Store.FailedTicketIDs(ctx, in.ID)
	if err != nil {
		return res, err
	}
	res.StillFailing = len(still)
	res.Fixed = res.Retried - res.StillFailing
	return res, nil
}
