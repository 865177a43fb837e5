package workflows

import (
	"errors"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// pageActivities are the fetch and apply activities of a stream.
func pageActivities(kind string) (fetch, apply string) {
	if kind == contract.KindComments {
		return contract.ActivityFetchCommentPage, contract.ActivityApplyCommentPage
	}
	return contract.ActivityFetchTicketPage, contract.ActivityApplyTicketPage
}

// pipelined pages one stream to its end, as stream does without versionPipelinedApply, with one difference: a
// page's apply is scheduled as soon as the page is fetched, while the apply of the page before it may still be
// running. It waits in PostgreSQL for that one to commit (the sync-state lock; an apply that comes first waits for
// it, see contract.PageRef.After), so applies follow each other with no gap, instead of each starting a workflow
// task and a dispatch after the one before ended (about 25 ms a page, a tenth of a first sync at 100,000 tickets).
// At most one fetch and two applies of the stream are in flight. Only a fetch with no apply in flight before it
// applies an empty page itself (ApplyEmpty: its compare-and-set needs the stream to stand at the page). When the
// stream stops (an error, the end, a hand-off to the next run) the applies in flight are waited for or cancelled,
// never left running.
func (w *runner) pipelined(kind string, p *passRun) error {
	ctx, cancel := workflow.WithCancel(w.ctx)
	defer cancel()
	fetch, apply := pageActivities(kind)
	ref := w.firstRef(kind, p)
	pending, first := w.firstFetch(ctx, kind, p, ref)
	var before workflow.Future // the apply of the page before ref, not waited for yet
	var after *string          // where that page starts
	for {
		var fr contract.FetchResult
		if first != nil {
			fr, first = *first, nil
		} else if err := pending.Get(ctx, &fr); err != nil {
			if before != nil {
				_ = w.applied(ctx, before, &p.did) // what was fetched before is applied and counted all the same
			}
			return err
		}
		if ref.StartPass && fr.Position == nil {
			if err := w.olderFetch(kind, p, &ref); err != nil {
				return err
			}
			pending = workflow.ExecuteActivity(w.pageCtxIn(ctx, kind+" page", p.did.Pages), fetch, ref)
			continue
		}
		if ref.StartPass {
			w.passStarted(kind, p, &ref, fr.Position)
		}
		var applying workflow.Future
		if fr.Applied == nil {
			in := ref.Page()
			in.After = after
			applying = workflow.ExecuteActivity(w.pageCtxIn(ctx, "apply "+kind, p.did.Pages), apply, in)
		}
		next := ref
		next.From = fr.Next
		next.ApplyEmpty = ref.ApplyEmpty && applying == nil
		inFlight := 0
		if before != nil {
			inFlight = 1 // the page before's apply, not counted yet
		}
		stop := !fr.EndOfStream && w.midPassDueWith(inFlight)
		if !fr.EndOfStream && !stop {
			pending = workflow.ExecuteActivity(w.pageCtxIn(ctx, kind+" page", p.did.Pages), fetch, next)
		}
		if before != nil {
			if err := w.applied(ctx, before, &p.did); err != nil {
				return err
			}
		}
		before, after = applying, nil
		if applying == nil {
			w.count(*fr.Applied, &p.did) // applied by its fetch
		} else {
			prev := ref.From
			after = &prev
		}
		if !fr.EndOfStream && !stop {
			ref = next
			continue
		}
		return w.streamEnd(ctx, kind, p, fr, before, next.From)
	}
}

// streamEnd ends a pipelined stream at its last page (fr) or between two pages (a hand-off to the next run, which
// goes on from next): the last apply (before) is waited for first.
func (w *runner) streamEnd(ctx workflow.Context, kind string, p *passRun, fr contract.FetchResult,
	before workflow.Future, next string) error {
	if before != nil {
		if err := w.applied(ctx, before, &p.did); err != nil {
			return err
		}
	}
	if fr.EndOfStream {
		p.ended, p.comments = fr.PassEnded, fr.Comments
		return nil
	}
	if !w.readyToContinue(true) {
		return errResetRequested
	}
	return &handOff{kind: kind, from: next}
}

// firstFetch starts a stream's paging: its first page is the one the ticket stream's first fetch fetched already
// (contract.PageRef.AndComments), or a fetch scheduled in ctx.
func (w *runner) firstFetch(ctx workflow.Context, kind string, p *passRun, ref contract.PageRef) (
	pending workflow.Future, first *contract.FetchResult) {
	first, p.comments = p.comments, nil
	if first != nil {
		return nil, first
	}
	fetch, _ := pageActivities(kind)
	if ref.StartPass && w.st.FirstSyncDone &&
		workflow.GetVersion(w.ctx, versionLocalFirstFetch, workflow.DefaultVersion, 1) >= 1 {
		fr, err := w.localFetch(ctx, fetch, ref)
		if err == nil {
			return nil, &fr
		}
		if permanent(err) {
			// Another attempt would fail the same way (credentials, a malformed page): the pass fails now, as it
			// would have after the ordinary activity's one attempt.
			f, set := workflow.NewFuture(ctx)
			set.SetError(err)
			return f, nil
		}
		// The local attempt counts toward the attempts a deterministic failure (an HTTP 404) gets.
		ref.PriorAttempts = 1
	}
	return workflow.ExecuteActivity(w.pageCtxIn(ctx, kind+" page", p.did.Pages), fetch, ref), nil
}

// permanent says whether an activity failed in a way the retry policy does not retry.
func permanent(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && (ae.NonRetryable() || slices.Contains(retryPolicy().NonRetryableErrorTypes, ae.Type()))
}

// localFetchTimeout bounds the local attempt of a pass's first fetch: an idle pass's two requests take well under
// a second, and a fetch that has to wait longer (a shared rate-limit budget spent, a slow Zendesk) is better run as
// an ordinary activity, which heartbeats and whose attempts progress shows.
const localFetchTimeout = 30 * time.Second

// localFetch runs a pass's first fetch as a local activity, inside the workflow task that starts the pass. Most
// passes of a waiting integration find nothing, and then the whole pass is this one workflow task: no activity task
// to schedule, dispatch and report, and no second workflow task for its result, which is most of what an idle pass
// costs the worker and the Temporal server. It is tried once: a transient failure or a timeout is left to the
// ordinary activity the caller schedules next, which retries it and shows its attempts in progress. The fetch is
// idempotent, so running it twice is harmless.
func (w *runner) localFetch(ctx workflow.Context, fetch string, ref contract.PageRef) (contract.FetchResult, error) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: localFetchTimeout,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
		Summary:                "first page of the pass (local)",
	})
	var fr contract.FetchResult
	err := workflow.ExecuteLocalActivity(lctx, fetch, ref).Get(lctx, &fr)
	return fr, err
}

// applied waits for a page's apply and counts it.
func (w *runner) applied(ctx workflow.Context, f workflow.Future, did *contract.Counters) error {
	var c contract.PageCounters
	if err := f.Get(ctx, &c); err != nil {
		return err
	}
	w.count(c, did)
	return nil
}

// count adds what a page did to the pass's and the integration's counters.
func (w *runner) count(c contract.PageCounters, did *contract.Counters) {
	w.pagesThisRun++
	got := c.Counters()
	did.Add(got)
	w.st.Totals.Add(got)
	w.showDetails()
}
