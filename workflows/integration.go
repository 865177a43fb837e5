package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// maxCyclesPerRun caps the sync passes of one run so a replay after a crash stays short.
const maxCyclesPerRun = 200

// maxPagesPerRun caps the pages one run applies: a pass longer than that (a first sync of millions of tickets)
// continues as new between two pages, so no run's history nears Temporal's limits (51,200 events / 50 MB). A
// page costs about a dozen events (fetch and apply activities, workflow tasks), so a run stays near 4,000 events;
// the server's own suggestion (at 4,096 events or 4 MiB) and maxEventsPerRun end a run earlier if it grows faster.
const maxPagesPerRun = 300

// maxEventsPerRun is a hard stop on a run's history length, whatever its pages cost.
const maxEventsPerRun = 8000

// Change IDs of workflow.GetVersion: each gates a change in the commands an open run issues.
const (
	// versionEndRechecksActive: before ending, the workflow re-reads the active flag when a signal came in since
	// it last read it, and goes on if the integration was activated again.
	versionEndRechecksActive = "end-rechecks-active"
	// versionHandOff: continue-as-new serves requests that arrive while it waits for handlers, and may happen
	// between two pages of a long pass.
	versionHandOff = "continue-as-new-hand-off"
	// versionSuperseded: a pass cut short by a reset (stale page) does not answer waiting sync-now callers, and a
	// pass follows at once.
	versionSuperseded = "superseded-pass"
	// versionPassDue: the next pass is due an interval after the last one, however often local changes wake the
	// workflow to push in between; a local change with two-way sync off wakes it for nothing (no pass).
	versionPassDue = "pass-due"
	// versionSettleSignals: before deciding to end or continue as new, the workflow lets its signal listeners run,
	// so a signal delivered in the same workflow task is counted (it may otherwise be decided without).
	versionSettleSignals = "settle-signals"
	// versionWebhookTickets: tickets named by webhook calls (SignalTicketsChanged) wake the waiting workflow, which
	// fetches and applies just those (ActivityApplyChangedTickets) and goes on waiting for the pass due.
	versionWebhookTickets = "webhook-tickets"
	// versionPipelinedApply: a page's apply is scheduled as soon as it is fetched, while the page before it may
	// still be applying (pipelined).
	versionPipelinedApply = "pipelined-apply"
	// versionLeanPass: a pass's first fetch opens it and reads where the streams stand (no SyncPosition), a page
	// with nothing to write is applied by its fetch (no apply activity), the first ticket fetch goes on with the
	// comment stream when its page ends the ticket stream, and a fetch that applies the last page of a one-way pass
	// records the end of the pass (no EndSync): a pass that finds nothing is one activity.
	versionLeanPass = "lean-pass"
	// versionLocalFirstFetch: the first fetch of an incremental pass runs as a local activity, once, in the
	// workflow task that starts the pass; only when that attempt fails does the fetch run as an ordinary activity.
	versionLocalFirstFetch = "local-first-fetch"
)

// IntegrationWorkflow is the entity workflow of one integration: first sync, then incremental syncs on a durable
// timer, until deactivated. It survives worker crashes and deploys because every step is an activity whose effect
// is committed in PostgreSQL together with the stream position.
func IntegrationWorkflow(ctx workflow.Context, in contract.Input) error {
	st := in.State
	if st == nil {
		st = &contract.State{Phase: contract.PhaseFirstSync}
	}
	w := &runner{ctx: ctx, in: in, st: st}
	if err := w.registerHandlers(); err != nil {
		return err
	}
	return w.loop()
}

type runner struct {
	ctx       workflow.Context
	in        contract.Input
	st        *contract.State
	phaseSeen string
	interval  time.Duration
	settings  contract.Settings

	// sigS and sigD count the settings-changed and deactivate signals this run has seen; readS and readD are
	// their values when the settings were last read. The active flag in hand is current when no settings-changed
	// signal (which `activate` sends after setting the flag) came in since it was read.
	sigS, sigD, readS, readD int
	// pagesThisRun counts the pages this run applied, so a long pass continues as new between two pages.
	pagesThisRun int
	// handOffVersion is the versionHandOff of this run (read at the start of each pass).
	handOffVersion workflow.Version
	// ticketSignals counts the tickets-changed signals this run has seen, so a webhook step can tell a burst still
	// arriving from a quiet moment.
	ticketSignals int
	// handingOff is set while a pass gets ready to continue as new between pages. An update cannot outlive its run,
	// so waiting sync-now callers are then answered Pending with the pass they wait for, and ask the next run.
	handingOff bool
}

// passOutcome is how a pass ended.
type passOutcome int

const (
	passDone      passOutcome = iota // completed, or superseded by a reset
	passFailed                       // failed: retried after an interval
	passHandedOff                    // to be continued by the next run (contract.State.Resume)
)

// handOff is returned by stream when the run should continue as new between two pages.
type handOff struct {
	kind, from string
}

func (h *handOff) Error() string {
	return "continue as new before the " + h.kind + " page from " + h.from
}

// errResetRequested stops a pass between two pages: a reset makes the rest of it moot.
var errResetRequested = errors.New("a reset was requested during the sync")

func (w *runner) registerHandlers() error {
	st := w.st
	if err := workflow.SetQueryHandler(w.ctx, contract.QueryProgress, func() (contract.Progress, error) {
		return contract.Progress{IntegrationID: w.in.IntegrationID, Name: w.in.Name, Phase: st.Phase,
			FirstSyncDone: st.FirstSyncDone, Generation: st.Generation, Counters: st.Totals, LastSyncAt: st.LastSyncAt,
			LastError: st.LastError, SyncsCompleted: st.SyncsCompleted}, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(w.ctx, contract.UpdateSyncNow, w.syncNow,
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req contract.SyncRequest) error {
			return w.notDeactivating()
		}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(w.ctx, contract.UpdateReset, w.resetUpdate,
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req contract.ResetRequest) error {
			if !req.Confirm {
				return errors.New("reset re-reads the whole Zendesk account: confirm it")
			}
			return w.notDeactivating()
		}}); err != nil {
		return err
	}
	// Retrying failures runs its activity in the handler: it is short, and the sync-state row lock serialises
	// it with any page being applied. It never waits on the loop, so continue-as-new may wait for it.
	if err := workflow.SetUpdateHandlerWithOptions(w.ctx, contract.UpdateRetryFailures,
		func(ctx workflow.Context) (contract.RetryResult, error) {
			var res contract.RetryResult
			err := workflow.ExecuteActivity(w.longCtx(ctx, "retry failed tickets"), contract.ActivityRetryFailures, w.ref()).
				Get(ctx, &res)
			return res, err
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context) error { return w.notDeactivating() }}); err != nil {
		return err
	}
	for _, sig := range w.signals() {
		w.listen(sig.name, sig.set)
	}
	ch := workflow.GetSignalChannel(w.ctx, contract.SignalTicketsChanged)
	workflow.Go(w.ctx, func(ctx workflow.Context) {
		for {
			var tc contract.TicketsChanged
			ch.Receive(ctx, &tc)
			w.ticketsChanged(tc)
		}
	})
	return nil
}

// ticketsChanged adds the ids a webhook call named to the set waiting for a fetch. A set, so a burst of calls about
// one ticket costs one fetch; bounded, and past the bound a pass is asked for instead (the export reads them all).
func (w *runner) ticketsChanged(tc contract.TicketsChanged) {
	st := w.st
	w.ticketSignals++
	seen := make(map[int64]bool, len(st.ChangedTickets))
	for _, id := range st.ChangedTickets {
		seen[id] = true
	}
	for _, id := range tc.TicketIDs {
		if id <= 0 || seen[id] {
			continue
		}
		if len(st.ChangedTickets) >= contract.MaxChangedTickets {
			st.ChangedTickets = nil
			st.SyncRequested = true
			return
		}
		seen[id] = true
		st.ChangedTickets = append(st.ChangedTickets, id)
	}
}

// notDeactivating refuses updates once the integration is being deactivated.
func (w *runner) notDeactivating() error {
	if w.st.Deactivated {
		return errors.New("the integration is being deactivated")
	}
	return nil
}

// syncNow is the sync-now update: it asks for a pass and, with Wait, answers with that pass's result.
func (w *runner) syncNow(ctx workflow.Context, req contract.SyncRequest) (contract.SyncResult, error) {
	st := w.st
	target := req.WaitFor
	if target <= 0 {
		// A pass already running may have read Zendesk before this request: wait for the one after it.
		target = st.SyncsCompleted + 1
		if st.InPass {
			target++
		}
		st.SyncRequested = true
	} else if target > st.SyncsCompleted+1 || (target > st.SyncsCompleted && !st.InPass && st.Resume == nil) {
		// A caller of an earlier run asks again for its pass; the carried request normally covers it.
		st.SyncRequested = true
	}
	if !req.Wait {
		return contract.SyncResult{Seq: target, Phase: st.Phase}, nil
	}
	for {
		if err := workflow.Await(ctx, func() bool {
			return st.SyncsCompleted >= target || st.Deactivated || w.handingOff
		}); err != nil {
			return contract.SyncResult{}, err
		}
		if st.SyncsCompleted >= target {
			if st.LastSync.Superseded && st.LastSync.Seq >= target {
				// That pass was cut short by a reset and read nothing for sure: the next one (which follows
				// at once) answers.
				target = st.LastSync.Seq + 1
				continue
			}
			return st.LastSync, nil
		}
		if st.Deactivated {
			return contract.SyncResult{}, errors.New("the integration was deactivated before the sync ran")
		}
		// The run continues as new mid-pass: the caller asks the next run for the same pass.
		return contract.SyncResult{Seq: target, Phase: st.Phase, Pending: true}, nil
	}
}

// resetUpdate is the reset update: it asks the loop for a reset and answers once the loop applied it.
func (w *runner) resetUpdate(ctx workflow.Context, req contract.ResetRequest) (contract.ResetResult, error) {
	st := w.st
	st.ResetsRequested++
	target := st.ResetsRequested
	if err := workflow.Await(ctx, func() bool { return st.ResetsApplied >= target || st.Deactivated }); err != nil {
		return contract.ResetResult{}, err
	}
	if st.ResetsApplied < target {
		return contract.ResetResult{}, errors.New("the integration was deactivated before the reset ran")
	}
	return contract.ResetResult{Generation: st.Generation}, nil
}

type signalFlag struct {
	name string
	set  func()
}

// signals turns each signal into a flag. Flags, not queues: any number of nudges before the loop looks mean one
// thing.
func (w *runner) signals() []signalFlag {
	return []signalFlag{
		{contract.SignalSettingsChanged, func() { w.st.SettingsChanged = true; w.sigS++ }},
		{contract.SignalDeactivate, func() { w.st.Deactivated = true; w.sigD++ }},
		{contract.SignalLocalChange, func() { w.st.LocalChanges = true }},
	}
}

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
	if workflow.GetVersion(w.ctx, versionSettleSignals, workflow.DefaultVersion, 1) >= 1 {
		w.yieldToListeners()
	}
	for _, sig := range w.signals() {
		ch := workflow.GetSignalChannel(w.ctx, sig.name)
		for ch.ReceiveAsync(nil) {
			sig.set()
		}
	}
	ch := workflow.GetSignalChannel(w.ctx, contract.SignalTicketsChanged)
	for {
		var tc contract.TicketsChanged
		if !ch.ReceiveAsync(&tc) {
			break
		}
		w.ticketsChanged(tc)
	}
}

// yieldToListeners lets every other coroutine run once. A signal that arrives while a listener waits in Receive is handed
// to that listener at once (ReceiveAsync no longer sees it) but counted only when the listener's coroutine runs;
// a decision taken before then (end, continue as new) would miss it, and the server would accept that decision
// because the signal is already in the history.
func (w *runner) yieldToListeners() {
	done := false
	workflow.Go(w.ctx, func(workflow.Context) { done = true })
	_ = workflow.Await(w.ctx, func() bool { return done })
}

func (w *runner) loop() error {
	ctx, st := w.ctx, w.st
	if err := w.loadSettings(); err != nil {
		return err
	}
	waitFirst := false // after a failed pass, wait an interval before trying again
	for {
		if st.Deactivated || !w.settings.Active {
			end, err := w.end()
			if err != nil {
				return err
			}
			if end {
				return nil
			}
			continue
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
			!st.SyncRequested && st.ResetsRequested == st.ResetsApplied && st.Resume == nil {
			if !w.readyToContinue(false) {
				continue // a request came in while waiting for the handlers: serve it first
			}
			return w.continueAsNew()
		}
		if st.CredentialsRejected {
			if err := w.awaitNewSettings(); err != nil {
				return err
			}
			continue
		}
		// A pass handed over by the previous run goes on at once.
		if (st.FirstSyncDone || waitFirst) && st.Resume == nil {
			again, err := w.waitForWork()
			if err != nil {
				return err
			}
			if again {
				continue
			}
		}
		st.NextPassAt = nil
		st.SyncRequested = false
		st.LocalChanges = false
		st.Cycles++
		switch w.pass() {
		case passHandedOff:
			return w.continueAsNew()
		case passFailed:
			waitFirst = true
		default:
			waitFirst = false
		}
	}
}

// untilPassDue is how long to wait for the next pass. With due (versionPassDue) the pass is due an interval after
// the wait began, kept in the state so pushes in between, and continue-as-new, never push it back; before it, every
// wake-up started a whole interval again.
func (w *runner) untilPassDue(due bool) time.Duration {
	if !due {
		return w.interval
	}
	now := workflow.Now(w.ctx)
	if w.st.NextPassAt == nil {
		at := now.Add(w.interval)
		w.st.NextPassAt = &at
	}
	// A zero timeout would wait for the condition alone; a pass already due waits the shortest timer instead.
	return max(w.st.NextPassAt.Sub(now), time.Millisecond)
}

// awaitNewSettings waits, after Zendesk rejected the credentials, for new settings (or a request to sync, reset or
// stop), then asks for a pass at once with them rather than after another interval.
func (w *runner) awaitNewSettings() error {
	st := w.st
	w.setPhase(contract.PhaseCredentialsRejected)
	if err := workflow.Await(w.ctx, func() bool {
		return st.SettingsChanged || st.SyncRequested || st.Deactivated || st.ResetsRequested > st.ResetsApplied
	}); err != nil {
		return err
	}
	st.CredentialsRejected = false
	st.SettingsChanged = false
	if err := w.loadSettings(); err != nil {
		return err
	}
	st.SyncRequested = true
	return nil
}

// waitForWork waits out the interval between passes, or less when something asks for work. again says the loop
// goes round once more without a pass: the integration is stopping or resetting, or only a local change woke it and
// was pushed here.
func (w *runner) waitForWork() (again bool, err error) {
	st := w.st
	w.setPhase(contract.PhaseWaiting)
	due := workflow.GetVersion(w.ctx, versionPassDue, workflow.DefaultVersion, 1) >= 1
	hooks := workflow.GetVersion(w.ctx, versionWebhookTickets, workflow.DefaultVersion, 1) >= 1
	ok, err := workflow.AwaitWithTimeout(w.ctx, w.untilPassDue(due), func() bool {
		return st.SyncRequested || st.Deactivated || st.ResetsRequested > st.ResetsApplied || st.LocalChanges ||
			st.SettingsChanged || (hooks && len(st.ChangedTickets) > 0)
	})
	if err != nil {
		return false, err
	}
	if st.SettingsChanged {
		st.SettingsChanged = false
		st.NextPassAt = nil // the interval may have changed: it runs again from now
		if err := w.loadSettings(); err != nil {
			return false, err
		}
	}
	if st.Deactivated || !w.settings.Active || st.ResetsRequested > st.ResetsApplied {
		return true, nil
	}
	// Woken only by a local change: push it now, without spending the export quota on an import. The push reads
	// the tickets it updates first, so a concurrent Zendesk edit is still merged.
	if ok && st.LocalChanges && !st.SyncRequested && st.FirstSyncDone && w.settings.TwoWay {
		st.LocalChanges = false
		st.Cycles++
		if _, err := w.push(); err != nil {
			w.failed(err)
		}
		return true, nil
	}
	if due && ok && st.LocalChanges && !st.SyncRequested && st.FirstSyncDone {
		// Two-way sync is off (the signal raced the switch): switching it off parked the pending changes and none
		// are recorded while it is off, so there is nothing to push; the pass stays due when it was.
		st.LocalChanges = false
		return true, nil
	}
	// Woken by webhook calls: fetch just those tickets; the pass stays due when it was (NextPassAt).
	if hooks && ok && len(st.ChangedTickets) > 0 && !st.SyncRequested && st.FirstSyncDone {
		st.Cycles++
		w.applyChangedTickets()
		return true, nil
	}
	return false, nil
}

// applyChangedTickets fetches and applies the tickets webhook calls named, a show_many batch at a time, without
// moving the export's positions. Ids that arrive meanwhile wait for the next round. A batch that fails for good
// (credentials, a permanent error) is dropped and reported: the export, the safety net, reads those tickets.
func (w *runner) applyChangedTickets() {
	st := w.st
	w.settle()
	if len(st.ChangedTickets) == 0 {
		return // a burst past the bound asked for a pass instead
	}
	n := min(len(st.ChangedTickets), changedPerCall)
	// Taken out of the set before the fetch: a call about one of them that arrives meanwhile may be about a change
	// made after the fetch, so it must add the id again rather than find it still there.
	batch := append([]int64(nil), st.ChangedTickets[:n]...)
	st.ChangedTickets = append([]int64(nil), st.ChangedTickets[n:]...)
	if len(st.ChangedTickets) == 0 {
		st.ChangedTickets = nil
	}
	var c contract.PageCounters
	err := workflow.ExecuteActivity(w.long("apply tickets changed in Zendesk"), contract.ActivityApplyChangedTickets,
		contract.ChangedTicketsInput{IntegrationID: w.in.IntegrationID, TicketIDs: batch}).Get(w.ctx, &c)
	if err != nil {
		w.failed(err)
		return
	}
	got := c.Counters()
	got.Pages = 0 // not an export page
	st.Totals.Add(got)
	w.showDetails()
}

// A webhook step waits for its burst to end: until no call came in for webhookQuiet, at most webhookSettleMax after
// it woke (so a steady stream of calls still gets a step every second or so). Zendesk sends a call per change, so a ticket edited many times in a row (a bulk update, a macro, an
// agent saving field by field) costs one fetch, not one per call.
const (
	webhookQuiet     = 200 * time.Millisecond
	webhookSettleMax = 750 * time.Millisecond
)

// settle waits for the calls of a burst to stop coming (or for anything that ends the wait between passes).
func (w *runner) settle() {
	st := w.st
	end := workflow.Now(w.ctx).Add(webhookSettleMax)
	for {
		seen := w.ticketSignals
		left := end.Sub(workflow.Now(w.ctx))
		if left <= 0 {
			return
		}
		more, err := workflow.AwaitWithTimeout(w.ctx, min(webhookQuiet, left), func() bool {
			return w.ticketSignals != seen || st.Deactivated || st.SyncRequested || st.ResetsRequested > st.ResetsApplied
		})
		if err != nil || !more || w.ticketSignals == seen {
			return
		}
	}
}

// changedPerCall is how many tickets one ApplyChangedTickets call takes: one show_many request.
const changedPerCall = 100

// end decides whether a deactivated workflow ends. `activate` right after `deactivate` may find this run still open
// (a start is then a no-op), so the run only ends when the active flag it read is newer than every activation, and
// goes on otherwise. The decision and the return are in one workflow task: an activation signal that arrives after
// it makes the server refuse the completion, and the task runs again with the signal.
func (w *runner) end() (bool, error) {
	ctx, st := w.ctx, w.st
	w.setPhase(contract.PhaseInactive)
	if workflow.GetVersion(ctx, versionEndRechecksActive, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		return true, nil
	}
	st.Deactivated = true // waiting callers give up and new requests are refused while this is decided
	for {
		_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		w.drainSignals()
		if w.sigS == w.readS {
			break
		}
		if err := w.loadSettings(); err != nil {
			return false, err
		}
	}
	// A deactivate signal after the last read is newer than the flag read: it stands.
	if !w.settings.Active || w.sigD != w.readD {
		return true, nil
	}
	st.Deactivated = false
	return false, nil
}

// readyToContinue waits until the run may continue as new: no update handler running. A handler that waits on the
// loop (sync-now waiting for a pass, reset) must not be waited for by the loop, or both wait for ever: at the top
// of the loop such a request is served first (false); between pages (midPass) waiting sync-now callers are
// answered Pending instead, and a reset stops the pass (false).
func (w *runner) readyToContinue(midPass bool) bool {
	ctx, st := w.ctx, w.st
	if workflow.GetVersion(ctx, versionHandOff, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		return true
	}
	w.handingOff = midPass
	_ = workflow.Await(ctx, func() bool {
		if workflow.AllHandlersFinished(ctx) || st.ResetsRequested > st.ResetsApplied {
			return true
		}
		return !midPass && (st.SyncRequested || st.Deactivated)
	})
	if workflow.AllHandlersFinished(ctx) && st.ResetsRequested == st.ResetsApplied {
		return true
	}
	w.handingOff = false
	return false
}

// push sends the recorded local changes of a two-way integration, batch by batch.
func (w *runner) push() (int64, error) {
	var pushed int64
	for {
		var res contract.PushResult
		if err := workflow.ExecuteActivity(w.pushCtx(), contract.ActivityPushLocalChanges, w.ref()).
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
	if isType(err, contract.ErrCredentialsRejected) {
		w.st.CredentialsRejected = true
	}
	w.st.LastError = msg
	_ = workflow.ExecuteActivity(w.short(), contract.ActivityRecordError, contract.ErrorInput{
		IntegrationID: w.in.IntegrationID, Message: msg}).Get(w.ctx, nil)
	return msg
}

// pass runs one sync: tickets, then comments, each stream to its end. A pass handed over by the previous run
// (contract.State.Resume) goes on from the stream it was in, with its counters; the positions are PostgreSQL's.
func (w *runner) pass() passOutcome {
	ctx, st := w.ctx, w.st
	w.handOffVersion = workflow.GetVersion(ctx, versionHandOff, workflow.DefaultVersion, 1)
	st.InPass = true
	resume := st.Resume
	st.Resume = nil
	first := !st.FirstSyncDone
	if first {
		w.setPhase(contract.PhaseFirstSync)
	} else {
		w.setPhase(contract.PhaseIncremental)
	}
	p := &passRun{}
	tickets := true
	if resume != nil {
		p.did = resume.Did
		tickets = resume.Stream != contract.KindComments
	}
	var err error
	if p.lean = workflow.GetVersion(ctx, versionLeanPass, workflow.DefaultVersion, 1) >= 1; !p.lean {
		err = w.syncPosition(p)
	}
	if err == nil && tickets {
		err = w.stream(contract.KindTickets, p)
	}
	if err == nil {
		err = w.stream(contract.KindComments, p)
	}
	did := p.did
	var ho *handOff
	if errors.As(err, &ho) {
		// InPass stays set: sync-now requests the next run receives wait for the pass after this one.
		st.Resume = &contract.PassResume{Stream: ho.kind, From: ho.from, Did: did, Runs: 1}
		if resume != nil {
			st.Resume.Runs = resume.Runs + 1
		}
		return passHandedOff
	}
	if err == nil && w.settings.TwoWay {
		did.Pushed, err = w.push()
	}
	if err == nil && !p.ended {
		err = workflow.ExecuteActivity(w.short(), contract.ActivityEndSync, contract.EndSyncInput{
			IntegrationID: w.in.IntegrationID, FirstSyncDone: true}).Get(ctx, nil)
	}
	// The result is complete before SyncsCompleted moves: a waiting sync-now handler reads it as soon as it does,
	// and recording the error below blocks on an activity.
	res := contract.SyncResult{Seq: st.SyncsCompleted + 1, Counters: did, Phase: contract.PhaseIncremental}
	if err != nil && (isType(err, contract.ErrStalePage) || errors.Is(err, errResetRequested)) {
		// A reset moved the stream under us: not an error, the loop starts over from the new position. The pass
		// did not sync what a waiting caller asked for, so it does not answer them: the next pass, at once, does.
		if workflow.GetVersion(ctx, versionSuperseded, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
			res.Superseded = true
			st.SyncRequested = true
		}
		st.LastSync, st.SyncsCompleted, st.InPass = res, res.Seq, false
		return passDone
	}
	if err != nil {
		res.Error, res.Phase = describe(err), st.Phase
		st.LastSync, st.SyncsCompleted, st.InPass = res, res.Seq, false
		w.failed(err)
		return passFailed
	}
	st.LastSync, st.SyncsCompleted, st.InPass = res, res.Seq, false
	now := workflow.Now(ctx)
	st.LastSyncAt = &now
	st.LastError = ""
	st.FirstSyncDone = true
	return passDone
}

// midPassDue says whether the run has grown enough to continue as new before the next page.
func (w *runner) midPassDue() bool { return w.midPassDueWith(0) }

// midPassDueWith is midPassDue with applies in flight, not counted in pagesThisRun yet.
func (w *runner) midPassDueWith(inFlight int) bool {
	if w.handOffVersion == workflow.DefaultVersion {
		return false
	}
	info := workflow.GetInfo(w.ctx)
	return w.pagesThisRun+inFlight+1 >= maxPagesPerRun || info.GetContinueAsNewSuggested() ||
		info.GetCurrentHistoryLength() >= maxEventsPerRun
}

// passRun is what one pass knows as it goes: how it reads its pages, where the streams stood when it began, what
// it did so far and whether its end is recorded already.
type passRun struct {
	// lean is the pass's versionLeanPass: the first fetch reads the position, fetches apply empty pages, and the
	// last one may end the pass.
	lean bool
	// pos is where the streams stood when the pass began: from SyncPosition, or (lean) from the first fetch; nil
	// until then.
	pos *contract.Position
	did contract.Counters
	// ended: the last fetch recorded the end of the pass (contract.FetchResult.PassEnded), so no EndSync follows.
	ended bool
	// comments is the comment stream's first page when the ticket stream's first fetch fetched it too
	// (contract.PageRef.AndComments); the comment stream starts from it instead of fetching it.
	comments *contract.FetchResult
}

// syncPosition opens the pass and reads where the streams stand (SyncPosition), for a pass whose fetches do not.
func (w *runner) syncPosition(p *passRun) error {
	var pos contract.Position
	if err := workflow.ExecuteActivity(w.short(), contract.ActivitySyncPosition, w.ref()).Get(w.ctx, &pos); err != nil {
		return err
	}
	p.pos, w.st.Generation = &pos, pos.Generation
	return nil
}

// firstRef is the reference of a stream's first fetch. A lean pass asks its fetches to apply empty pages; its first
// to open the pass and read where the streams stand and, when that ends the ticket stream with nothing to apply, to
// fetch the comment stream's first page too; and the fetches of comments, with no push after them, to end the pass
// when they apply its last page.
func (w *runner) firstRef(kind string, p *passRun) contract.PageRef {
	ref := contract.PageRef{IntegrationID: w.in.IntegrationID}
	if p.pos != nil {
		ref.Generation, ref.From = w.st.Generation, p.pos.From(kind)
	}
	if p.lean {
		ref.StartPass = p.pos == nil
		ref.ApplyEmpty = true
		ref.EndPass = !w.settings.TwoWay
		ref.AndComments = ref.StartPass && kind == contract.KindTickets
	}
	return ref
}

// stream pages one stream to its end. The next page is fetched while the current one is applied: fetching needs
// only the previous page's end, and applying is ordered by the position check in PostgreSQL. A page its fetch
// applied (an empty one, lean pass) needs no apply. When the run has grown enough, it stops between two pages (no
// activity in flight) and hands the pass to the next run.
func (w *runner) stream(kind string, p *passRun) error {
	if workflow.GetVersion(w.ctx, versionPipelinedApply, workflow.DefaultVersion, 1) >= 1 {
		return w.pipelined(kind, p)
	}
	ctx := w.ctx
	fetch, apply := pageActivities(kind)
	ref := w.firstRef(kind, p)
	pending, first := w.firstFetch(ctx, kind, p, ref)
	for {
		var fr contract.FetchResult
		if first != nil {
			fr, first = *first, nil
		} else if err := pending.Get(ctx, &fr); err != nil {
			return err
		}
		if ref.StartPass && fr.Position == nil {
			if err := w.olderFetch(kind, p, &ref); err != nil {
				return err
			}
			pending = workflow.ExecuteActivity(w.pageCtx(kind+" page", p.did.Pages), fetch, ref)
			continue
		}
		if ref.StartPass {
			w.passStarted(kind, p, &ref, fr.Position)
		}
		var applied workflow.Future
		if fr.Applied == nil {
			applied = workflow.ExecuteActivity(w.pageCtx("apply "+kind, p.did.Pages), apply, ref.Page())
		}
		next := ref
		next.From = fr.Next
		stop := !fr.EndOfStream && w.midPassDue()
		if !fr.EndOfStream && !stop {
			pending = workflow.ExecuteActivity(w.pageCtx(kind+" page", p.did.Pages), fetch, next)
		}
		var c contract.PageCounters
		if applied == nil {
			c = *fr.Applied
		} else if err := applied.Get(ctx, &c); err != nil {
			return err
		}
		w.count(c, &p.did)
		if fr.EndOfStream {
			p.ended, p.comments = fr.PassEnded, fr.Comments
			return nil
		}
		if stop {
			if !w.readyToContinue(true) {
				return errResetRequested
			}
			return &handOff{kind: kind, from: next.From}
		}
		ref = next
	}
}

// olderFetch: a worker that predates StartPass ran a pass's first fetch, from nowhere in particular (its page is
// never applied): the pass reads the position as before, and the stream fetches from there (ref).
func (w *runner) olderFetch(kind string, p *passRun, ref *contract.PageRef) error {
	if err := w.syncPosition(p); err != nil {
		return err
	}
	*ref = w.firstRef(kind, p)
	return nil
}

// passStarted notes where the streams stood when the pass's first fetch opened it, and makes ref the stream's
// next pages' reference: fetches of their own.
func (w *runner) passStarted(kind string, p *passRun, ref *contract.PageRef, pos *contract.Position) {
	p.pos, w.st.Generation = pos, pos.Generation
	ref.Generation, ref.From = pos.Generation, pos.From(kind)
	ref.StartPass, ref.AndComments = false, false
}

func (w *runner) reset() error {
	ctx, st := w.ctx, w.st
	var gen int
	if err := workflow.ExecuteActivity(w.short(), contract.ActivityResetSync, w.ref()).Get(ctx, &gen); err != nil {
		return err
	}
	st.Generation = gen
	st.FirstSyncDone = false
	st.Totals = contract.Counters{}
	st.LastSyncAt = nil
	st.LastError = ""
	st.CredentialsRejected = false
	st.ResetsApplied = st.ResetsRequested
	st.Resume = nil // a pass handed over from the previous run is moot: the first sync starts over
	return nil
}

func (w *runner) loadSettings() error {
	var s contract.Settings
	sigS, sigD := w.sigS, w.sigD // a signal that arrives during the read may be newer than what it reads
	if err := workflow.ExecuteActivity(w.short(), contract.ActivityLoadSettings, w.ref()).Get(w.ctx, &s); err != nil {
		return fmt.Errorf("load settings: %w", err)
	}
	w.readS, w.readD = sigS, sigD
	w.settings = s
	w.st.SettingsChanged = false
	w.interval = time.Duration(s.IntervalSeconds) * time.Second
	if w.interval <= 0 {
		w.interval = 5 * time.Minute
	}
	return nil
}

// continueAsNew hands the state to a new run; readyToContinue has made sure no handler is still running.
func (w *runner) continueAsNew() error {
	ctx := w.ctx
	w.drainSignals()
	w.st.Cycles = 0
	return workflow.NewContinueAsNewError(ctx, IntegrationWorkflow, contract.Input{IntegrationID: w.in.IntegrationID,
		Name: w.in.Name, State: w.st})
}

// setPhase records the phase and mirrors it in the search attribute, upserting only on change (each upsert is a
// history event).
func (w *runner) setPhase(p string) {
	w.st.Phase = p
	w.showDetails()
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
// minute between attempts; permanent ones are marked non-retryable by the contract.
func retryPolicy() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{contract.ErrCredentialsRejected, contract.ErrMalformedPage, contract.ErrStalePage},
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

// ref is the input of the activities that concern the integration as a whole (a struct, so fields can be added;
// the activities also accept the bare id that runs scheduled before it sent).
func (w *runner) ref() contract.IntegrationRef {
	return contract.IntegrationRef{IntegrationID: w.in.IntegrationID}
}
