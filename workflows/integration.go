package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/store"
)

// maxCyclesPerRun caps the sync passes of one run so a replay after a crash stays short.
const maxCyclesPerRun = 200

var a *activities.Activities

// IntegrationWorkflow is the entity workflow of one integration: first sync, then incremental syncs on a durable
// timer, until deactivated. It survives worker crashes and deploys because every step is an activity whose effect
// is committed in PostgreSQL together with the stream position.
func IntegrationWorkflow(ctx workflow.Context, in Input) error {
	st := in.State
	if st == nil {
		st = &State{Phase: PhaseFirstSync}
	}
	w := &runner{ctx: ctx, in: in, st: st}
	if err := w.registerHandlers(); err != nil {
		return err
	}
	return w.loop()
}

type runner struct {
	ctx       workflow.Context
	in        Input
	st        *State
	phaseSeen string
	interval  time.Duration
	settings  activities.Settings
}

func (w *runner) registerHandlers() error {
	ctx, st := w.ctx, w.st
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) {
		return Progress{IntegrationID: w.in.IntegrationID, Name: w.in.Name, Phase: st.Phase,
			FirstSyncDone: st.FirstSyncDone, Generation: st.Generation, Counters: st.Totals, LastSyncAt: st.LastSyncAt,
			LastError: st.LastError, SyncsCompleted: st.SyncsCompleted}, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateSyncNow,
		func(ctx workflow.Context, req SyncRequest) (SyncResult, error) {
			// A pass already running may have read Zendesk before this request: wait for the one after it.
			target := st.SyncsCompleted + 1
			if st.InPass {
				target++
			}
			st.SyncRequested = true
			if !req.Wait {
				return SyncResult{Seq: target, Phase: st.Phase}, nil
			}
			if err := workflow.Await(ctx, func() bool { return st.SyncsCompleted >= target || st.Deactivated }); err != nil {
				return SyncResult{}, err
			}
			if st.SyncsCompleted < target {
				return SyncResult{}, errors.New("the integration was deactivated before the sync ran")
			}
			return st.LastSync, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req SyncRequest) error {
			if st.Deactivated {
				return errors.New("the integration is being deactivated")
			}
			return nil
		}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateReset,
		func(ctx workflow.Context, req ResetRequest) (ResetResult, error) {
			st.ResetsRequested++
			target := st.ResetsRequested
			if err := workflow.Await(ctx, func() bool { return st.ResetsApplied >= target || st.Deactivated }); err != nil {
				return ResetResult{}, err
			}
			if st.ResetsApplied < target {
				return ResetResult{}, errors.New("the integration was deactivated before the reset ran")
			}
			return ResetResult{Generation: st.Generation}, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req ResetRequest) error {
			if !req.Confirm {
				return errors.New("reset re-reads the whole Zendesk account: confirm it")
			}
			if st.Deactivated {
				return errors.New("the integration is being deactivated")
			}
			return nil
		}}); err != nil {
		return err
	}
	// Retrying failures runs its activity in the handler: it is short, and the sync-state row lock serialises
	// it with any page being applied.
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRetryFailures,
		func(ctx workflow.Context) (activities.RetryResult, error) {
			var res activities.RetryResult
			err := workflow.ExecuteActivity(w.longCtx(ctx, "retry failed tickets"), a.RetryFailures, w.in.IntegrationID).
				Get(ctx, &res)
			return res, err
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context) error {
			if st.Deactivated {
				return errors.New("the integration is being deactivated")
			}
			return nil
		}}); err != nil {
		return err
	}
	w.listen(SignalSettingsChanged, func() { st.SettingsChanged = true })
	w.listen(SignalDeactivate, func() { st.Deactivated = true })
	w.listen(SignalLocalChange, func() { st.LocalChanges = true })
	return nil
}

// listen turns a signal into a flag. Flags, not queues: any number of nudges before the loop looks mean one thing.
func (w *runner) listen(name string, set func()) {
	ch := workflow.GetSignalChannel(w.ctx, name)
	workflow.Go(w.ctx, func(ctx workflow.Context) {
		for {
			ch.Receive(ctx, nil)
			set()
		}
	})
}

func (w *runner) drainSignals() {
	for _, sig := range []struct {
		name string
		set  func()
	}{
		{SignalSettingsChanged, func() { w.st.SettingsChanged = true }},
		{SignalDeactivate, func() { w.st.Deactivated = true }},
		{SignalLocalChange, func() { w.st.LocalChanges = true }},
	} {
		ch := workflow.GetSignalChannel(w.ctx, sig.name)
		for ch.ReceiveAsync(nil) {
			sig.set()
		}
	}
}

func (w *runner) loop() error {
	ctx, st := w.ctx, w.st
	if err := w.loadSettings(); err != nil {
		return err
	}
	waitFirst := false // after a failed pass, wait an interval before trying again
	for {
		if st.Deactivated || !w.settings.Active {
			w.setPhase(PhaseInactive)
			_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
			return nil
		}
		if st.ResetsRequested > st.ResetsApplied {
			if err := w.reset(); err != nil {
				return err
			}
			waitFirst = false
			continue // re-check deactivation before the first sync the reset starts
		}
		// Continue as new only with no request pending: a waiting sync-now or reset must be served by this run.
		if (st.Cycles >= maxCyclesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()) &&
			!st.SyncRequested && st.ResetsRequested == st.ResetsApplied {
			return w.continueAsNew()
		}
		if st.CredentialsRejected {
			w.setPhase(PhaseCredentialsRejected)
			if err := workflow.Await(ctx, func() bool {
				return st.SettingsChanged || st.SyncRequested || st.Deactivated || st.ResetsRequested > st.ResetsApplied
			}); err != nil {
				return err
			}
			st.CredentialsRejected = false
			st.SettingsChanged = false
			if err := w.loadSettings(); err != nil {
				return err
			}
			st.SyncRequested = true // retry at once with the new settings, not after another interval
			continue
		}
		if st.FirstSyncDone || waitFirst {
			w.setPhase(PhaseWaiting)
			ok, err := workflow.AwaitWithTimeout(ctx, w.interval, func() bool {
				return st.SyncRequested || st.Deactivated || st.ResetsRequested > st.ResetsApplied || st.LocalChanges ||
					st.SettingsChanged
			})
			if err != nil {
				return err
			}
			if st.SettingsChanged {
				st.SettingsChanged = false
				if err := w.loadSettings(); err != nil {
					return err
				}
			}
			if st.Deactivated || !w.settings.Active || st.ResetsRequested > st.ResetsApplied {
				continue
			}
			// Woken only by a local change: push it now, without spending the export quota on an import. The
			// push reads the tickets it updates first, so a concurrent Zendesk edit is still merged.
			if ok && st.LocalChanges && !st.SyncRequested && st.FirstSyncDone && w.settings.TwoWay {
				st.LocalChanges = false
				st.Cycles++
				if _, err := w.push(); err != nil {
					w.failed(err)
				}
				continue
			}
		}
		st.SyncRequested = false
		st.LocalChanges = false
		st.Cycles++
		waitFirst = !w.pass()
	}
}

// push sends the recorded local changes of a two-way integration, batch by batch.
func (w *runner) push() (int64, error) {
	var pushed int64
	for {
		var res activities.PushResult
		if err := workflow.ExecuteActivity(w.long("push local changes"), a.PushLocalChanges, w.in.IntegrationID).
			Get(w.ctx, &res); err != nil {
			return pushed, err
		}
		pushed += int64(res.Pushed)
		w.st.Totals.Pushed += int64(res.Pushed)
		if !res.HasMore {
			return pushed, nil
		}
	}
}

// failed records why a sync step stopped, for progress and the CLI, and notes rejected credentials.
func (w *runner) failed(err error) string {
	msg := describe(err)
	if isType(err, ErrCredentialsRejected) {
		w.st.CredentialsRejected = true
	}
	w.st.LastError = msg
	_ = workflow.ExecuteActivity(w.short(), a.RecordError, activities.ErrorInput{
		IntegrationID: w.in.IntegrationID, Message: msg}).Get(w.ctx, nil)
	return msg
}

// pass runs one sync: tickets, then comments, each stream to its end. It reports whether it completed.
func (w *runner) pass() bool {
	ctx, st := w.ctx, w.st
	st.InPass = true
	first := !st.FirstSyncDone
	if first {
		w.setPhase(PhaseFirstSync)
	} else {
		w.setPhase(PhaseIncremental)
	}
	var pos activities.Position
	err := workflow.ExecuteActivity(w.short(), a.SyncPosition, w.in.IntegrationID).Get(ctx, &pos)
	var did Counters
	if err == nil {
		st.Generation = pos.Generation
		err = w.stream(store.KindTickets, pos.TicketCursor, &did)
	}
	if err == nil {
		err = w.stream(store.KindComments, pos.EventsFrom, &did)
	}
	if err == nil && w.settings.TwoWay {
		did.Pushed, err = w.push()
	}
	if err == nil {
		err = workflow.ExecuteActivity(w.short(), a.EndSync, activities.EndSyncInput{
			IntegrationID: w.in.IntegrationID, FirstSyncDone: true}).Get(ctx, nil)
	}
	// The result is complete before SyncsCompleted moves: a waiting sync-now handler reads it as soon as it does,
	// and recording the error below blocks on an activity.
	res := SyncResult{Seq: st.SyncsCompleted + 1, Counters: did, Phase: PhaseIncremental}
	if err != nil && isType(err, ErrStalePage) {
		// A reset moved the stream under us: not an error, the loop starts over from the new position.
		st.LastSync, st.SyncsCompleted, st.InPass = res, res.Seq, false
		return true
	}
	if err != nil {
		res.Error, res.Phase = describe(err), st.Phase
		st.LastSync, st.SyncsCompleted, st.InPass = res, res.Seq, false
		w.failed(err)
		return false
	}
	st.LastSync, st.SyncsCompleted, st.InPass = res, res.Seq, false
	now := workflow.Now(ctx)
	st.LastSyncAt = &now
	st.LastError = ""
	st.FirstSyncDone = true
	return true
}

// stream pages one stream to its end. The next page is fetched while the current one is applied: fetching needs
// only the previous page's end, and applying is ordered by the position check in PostgreSQL.
func (w *runner) stream(kind string, from string, did *Counters) error {
	ctx, st := w.ctx, w.st
	fetch, apply := a.FetchTicketPage, a.ApplyTicketPage
	if kind == store.KindComments {
		fetch, apply = a.FetchCommentPage, a.ApplyCommentPage
	}
	ref := activities.PageRef{IntegrationID: w.in.IntegrationID, Generation: st.Generation, From: from}
	pending := workflow.ExecuteActivity(w.long(kind+" page"), fetch, ref)
	for {
		var fr activities.FetchResult
		if err := pending.Get(ctx, &fr); err != nil {
			return err
		}
		applied := workflow.ExecuteActivity(w.long("apply "+kind), apply, ref)
		next := activities.PageRef{IntegrationID: ref.IntegrationID, Generation: ref.Generation, From: fr.Next}
		if !fr.EndOfStream {
			pending = workflow.ExecuteActivity(w.long(kind+" page"), fetch, next)
		}
		var c store.Counters
		if err := applied.Get(ctx, &c); err != nil {
			return err
		}
		got := Counters{Pages: 1, TicketsSynced: c.Tickets, CasesCreated: c.CasesCreated, CasesUpdated: c.CasesUpdated,
			CommentsSynced: c.Comments, Failures: c.Failures}
		did.add(got)
		st.Totals.add(got)
		if fr.EndOfStream {
			return nil
		}
		ref = next
	}
}

func (w *runner) reset() error {
	ctx, st := w.ctx, w.st
	var gen int
	if err := workflow.ExecuteActivity(w.short(), a.ResetSync, w.in.IntegrationID).Get(ctx, &gen); err != nil {
		return err
	}
	st.Generation = gen
	st.FirstSyncDone = false
	st.Totals = Counters{}
	st.LastSyncAt = nil
	st.LastError = ""
	st.CredentialsRejected = false
	st.ResetsApplied = st.ResetsRequested
	return nil
}

func (w *runner) loadSettings() error {
	var s activities.Settings
	if err := workflow.ExecuteActivity(w.short(), a.LoadSettings, w.in.IntegrationID).Get(w.ctx, &s); err != nil {
		return fmt.Errorf("load settings: %w", err)
	}
	w.settings = s
	w.st.SettingsChanged = false
	w.interval = time.Duration(s.IntervalSeconds) * time.Second
	if w.interval <= 0 {
		w.interval = 5 * time.Minute
	}
	return nil
}

func (w *runner) continueAsNew() error {
	ctx := w.ctx
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	w.drainSignals()
	w.st.Cycles = 0
	return workflow.NewContinueAsNewError(ctx, IntegrationWorkflow, Input{IntegrationID: w.in.IntegrationID,
		Name: w.in.Name, State: w.st})
}

// setPhase records the phase and mirrors it in the search attribute, upserting only on change (each upsert is a
// history event).
func (w *runner) setPhase(p string) {
	w.st.Phase = p
	if w.phaseSeen == p {
		return
	}
	w.phaseSeen = p
	_ = workflow.UpsertTypedSearchAttributes(w.ctx, PhaseKey.ValueSet(p))
}

func (w *runner) short() workflow.Context {
	return workflow.WithActivityOptions(w.ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         retryPolicy(),
	})
}

// long is for activities that talk to Zendesk: they may wait out rate limits, so they heartbeat and a lost
// worker is noticed within the heartbeat timeout.
func (w *runner) long(summary string) workflow.Context { return w.longCtx(w.ctx, summary) }

func (w *runner) longCtx(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         retryPolicy(),
		Summary:             summary,
	})
}

// retryPolicy retries transient failures (Zendesk 5xx, PostgreSQL down) for as long as it takes, capped at a
// minute between attempts; permanent ones are marked non-retryable by the activities.
func retryPolicy() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{ErrCredentialsRejected, ErrMalformedPage, ErrStalePage},
	}
}

func isType(err error, typ string) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.Type() == typ
}

// describe gives the user-facing reason of a failed activity: the application error's message, without the
// activity wrapper text.
func describe(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	return err.Error()
}
