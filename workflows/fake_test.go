package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/workflows"
)

// a is only used to name activities by its methods (a nil receiver is fine: the mocks never call through it).
var a *fakeZendesk

const (
	integrationID = int64(42)
	ticketsPer    = int64(10) // tickets on a non-empty ticket page
	commentsPer   = int64(7)  // comments on a non-empty comment page
)

// fakeZendesk stands in for Zendesk plus PostgreSQL: two paged streams whose committed position moves when a page is
// applied, a sync generation that ResetSync bumps, and a record of every call. Its methods have the exact signatures
// of the Activities methods, so they serve both as testsuite mock return functions and as real activities registered
// under the same names on a worker. Activities run on their own goroutines, hence the mutex.
type fakeZendesk struct {
	mu       sync.Mutex
	settings contract.Settings
	gen      int
	streams  map[string]*fakeStream
	calls    []fakeCall
	// fail, when set, may fail a call before it has any effect.
	fail func(activity string, ref contract.PageRef) error
	// delays, by activity name, are the simulated durations of calls (testsuite only, via AfterFn).
	delays map[string]time.Duration
	// legacyFetch makes the fetches behave as those of a worker that predates the lean pass: the flags of
	// PageRef are ignored, and the page is fetched from the reference as given.
	legacyFetch bool
}

type fakeStream struct {
	prefix  string
	pages   int   // pages available so far
	per     int64 // records on a non-empty page
	cursor  string
	fetched map[string]contract.FetchResult // staged pages by From, as the fetch activity stages them
}

type fakeCall struct {
	Name string
	Ref  contract.PageRef // page activities: a fetch's as it resolved it (StartPass: where the stream stood)
	ID   int64            // integration-ID activities
	End  contract.EndSyncInput
	Err  contract.ErrorInput
	// Ended: a fetch that applied the last page of a pass and recorded the pass's end (PageRef.EndPass).
	Ended bool
	// Within: a comment fetch a ticket fetch went on with (PageRef.AndComments), in the same activity: not an
	// activity of its own (names leaves it out), but a fetch (callsTo has it).
	Within bool
}

func newFake(ticketPages, commentPages int) *fakeZendesk {
	return &fakeZendesk{
		settings: contract.Settings{Name: "acme", Active: true, IntervalSeconds: 3600, SettingsVersion: 1},
		gen:      1,
		streams: map[string]*fakeStream{
			store.KindTickets:  {prefix: "t", pages: ticketPages, per: ticketsPer, fetched: map[string]contract.FetchResult{}},
			store.KindComments: {prefix: "c", pages: commentPages, per: commentsPer, fetched: map[string]contract.FetchResult{}},
		},
		delays: map[string]time.Duration{},
	}
}

func (f *fakeZendesk) record(c fakeCall) {
	f.calls = append(f.calls, c)
}

// setSettings changes what LoadSettings returns.
func (f *fakeZendesk) setSettings(mod func(s *contract.Settings)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	mod(&f.settings)
}

// grow makes new pages appear at the end of the streams, as new tickets and comments do in Zendesk.
func (f *fakeZendesk) grow(ticketPages, commentPages int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.streams[store.KindTickets].pages += ticketPages
	f.streams[store.KindComments].pages += commentPages
}

func (f *fakeZendesk) setFail(fn func(activity string, ref contract.PageRef) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fn
}

func (f *fakeZendesk) setDelay(activity string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delays[activity] = d
}

func (f *fakeZendesk) delay(activity string) func() time.Duration {
	return func() time.Duration {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.delays[activity]
	}
}

// callsTo returns the recorded calls of one activity, in call order.
func (f *fakeZendesk) callsTo(name string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// froms returns the From of every call of a page activity.
func (f *fakeZendesk) froms(name string) []string {
	out := []string{}
	for _, c := range f.callsTo(name) {
		out = append(out, c.Ref.From)
	}
	return out
}

// passesStarted counts the passes opened: by SyncPosition, or by the first fetch of a lean pass (StartPass).
func (f *fakeZendesk) passesStarted() int {
	n := len(f.callsTo("SyncPosition"))
	for _, c := range append(f.callsTo("FetchTicketPage"), f.callsTo("FetchCommentPage")...) {
		if c.Ref.StartPass {
			n++
		}
	}
	return n
}

// passesEnded counts the passes whose end was recorded: by EndSync, or by the fetch that applied their last page.
func (f *fakeZendesk) passesEnded() int {
	n := len(f.callsTo("EndSync"))
	for _, c := range f.callsTo("FetchCommentPage") {
		if c.Ended {
			n++
		}
	}
	return n
}

// names returns the activity names in call order.
func (f *fakeZendesk) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.calls))
	for _, c := range f.calls {
		if !c.Within {
			out = append(out, c.Name)
		}
	}
	return out
}

func (f *fakeZendesk) LoadSettings(_ context.Context, r contract.IntegrationRef) (contract.Settings, error) {
	id := r.IntegrationID
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(fakeCall{Name: "LoadSettings", ID: id})
	return f.settings, nil
}

func (f *fakeZendesk) SyncPosition(_ context.Context, r contract.IntegrationRef) (contract.Position, error) {
	id := r.IntegrationID
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(fakeCall{Name: "SyncPosition", ID: id})
	return contract.Position{Generation: f.gen, TicketCursor: f.streams[store.KindTickets].cursor,
		EventsFrom: f.streams[store.KindComments].cursor, Settings: f.settings}, nil
}

func (f *fakeZendesk) FetchTicketPage(_ context.Context, ref contract.PageRef) (contract.FetchResult, error) {
	return f.fetch("FetchTicketPage", store.KindTickets, ref)
}

func (f *fakeZendesk) FetchCommentPage(_ context.Context, ref contract.PageRef) (contract.FetchResult, error) {
	return f.fetch("FetchCommentPage", store.KindComments, ref)
}

func (f *fakeZendesk) ApplyTicketPage(_ context.Context, ref contract.PageRef) (store.Counters, error) {
	return f.apply("ApplyTicketPage", store.KindTickets, ref)
}

func (f *fakeZendesk) ApplyCommentPage(_ context.Context, ref contract.PageRef) (store.Counters, error) {
	return f.apply("ApplyCommentPage", store.KindComments, ref)
}

func (f *fakeZendesk) EndSync(_ context.Context, in contract.EndSyncInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(fakeCall{Name: "EndSync", ID: in.IntegrationID, End: in})
	return nil
}

func (f *fakeZendesk) RecordError(_ context.Context, in contract.ErrorInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(fakeCall{Name: "RecordError", ID: in.IntegrationID, Err: in})
	return nil
}

func (f *fakeZendesk) PushLocalChanges(_ context.Context, r contract.IntegrationRef) (contract.PushResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(fakeCall{Name: "PushLocalChanges", ID: r.IntegrationID})
	return contract.PushResult{}, nil
}

func (f *fakeZendesk) ResetSync(_ context.Context, r contract.IntegrationRef) (int, error) {
	id := r.IntegrationID
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(fakeCall{Name: "ResetSync", ID: id})
	f.gen++
	for _, s := range f.streams {
		s.cursor = ""
		s.fetched = map[string]contract.FetchResult{}
	}
	return f.gen, nil
}

// pageIndex is the number of pages before position p ("" is 0, "t3" is 3).
func pageIndex(prefix, p string) int {
	if p == "" {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimPrefix(p, prefix))
	if err != nil {
		panic(fmt.Sprintf("bad position %q", p))
	}
	return n
}

// fetch fetches one page as the fetch activities do: with StartPass from where the stream stands, and with
// ApplyEmpty an empty page is applied at once (with EndPass, ending the pass when it ends the stream).
func (f *fakeZendesk) fetch(name, kind string, ref contract.PageRef) (contract.FetchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := fakeCall{Name: name}
	defer func() { f.record(call) }()
	return f.fetchLocked(&call, kind, ref)
}

func (f *fakeZendesk) fetchLocked(call *fakeCall, kind string, ref contract.PageRef) (contract.FetchResult, error) {
	name := call.Name
	legacy := f.legacyFetch
	if legacy {
		ref = ref.Page()
	}
	var pos *contract.Position
	if ref.StartPass {
		pos = &contract.Position{Generation: f.gen, TicketCursor: f.streams[store.KindTickets].cursor,
			EventsFrom: f.streams[store.KindComments].cursor, Settings: f.settings}
		ref.Generation, ref.From = pos.Generation, pos.From(kind)
	}
	call.Ref = ref
	if f.fail != nil {
		if err := f.fail(name, ref); err != nil {
			return contract.FetchResult{}, err
		}
	}
	if ref.Generation != f.gen && !legacy { // (a legacy fetch stages what it is asked for; its apply checks)
		return contract.FetchResult{}, temporal.NewNonRetryableApplicationError("stale page", contract.ErrStalePage, nil)
	}
	s := f.streams[kind]
	k := pageIndex(s.prefix, ref.From)
	res := contract.FetchResult{Position: pos}
	if k < s.pages {
		res.Next, res.EndOfStream, res.Records = s.prefix+strconv.Itoa(k+1), k+1 >= s.pages, int(s.per)
	} else {
		// The tail of the stream: an empty page that ends where it started.
		res.Next, res.EndOfStream = ref.From, true
		if res.Next == "" {
			res.Next = s.prefix + "0"
		}
	}
	if res.Records > 0 || !ref.ApplyEmpty {
		s.fetched[ref.From] = res
		return res, nil
	}
	c := store.Counters{AlreadyApplied: s.cursor != ref.From}
	s.cursor, res.Applied = res.Next, &c
	switch {
	case !res.EndOfStream:
	case kind == store.KindComments && ref.EndPass:
		res.PassEnded, call.Ended = true, true
	case kind == store.KindTickets && ref.AndComments && pos != nil:
		within := fakeCall{Name: "FetchCommentPage", Within: true}
		cr, err := f.fetchLocked(&within, store.KindComments, contract.PageRef{IntegrationID: ref.IntegrationID,
			Generation: pos.Generation, From: pos.EventsFrom, ApplyEmpty: true, EndPass: ref.EndPass})
		f.record(within)
		if err != nil {
			return contract.FetchResult{}, err
		}
		res.Comments = &cr
	}
	return res, nil
}

func (f *fakeZendesk) apply(name, kind string, ref contract.PageRef) (store.Counters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// An apply scheduled while the page before it is applying waits for it, as store.ApplyPageAfter makes it do.
	for deadline := time.Now().Add(5 * time.Second); ref.After != nil && *ref.After != ref.From &&
		f.streams[kind].cursor == *ref.After && ref.Generation == f.gen && time.Now().Before(deadline); {
		f.mu.Unlock()
		time.Sleep(time.Millisecond)
		f.mu.Lock()
	}
	f.record(fakeCall{Name: name, Ref: ref})
	if f.fail != nil {
		if err := f.fail(name, ref); err != nil {
			return store.Counters{}, err
		}
	}
	if ref.Generation != f.gen {
		return store.Counters{}, temporal.NewNonRetryableApplicationError("stale page", contract.ErrStalePage, nil)
	}
	s := f.streams[kind]
	res, ok := s.fetched[ref.From]
	if !ok {
		return store.Counters{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s page from %q was never fetched", kind, ref.From), "NotStaged", nil)
	}
	s.cursor = res.Next
	n := int64(res.Records)
	if kind == store.KindTickets {
		return store.Counters{Tickets: n, CasesCreated: n}, nil
	}
	return store.Counters{Comments: n}, nil
}

// RetryFailures names the activity for mocks; the tests that reach it mock its result.
func (f *fakeZendesk) RetryFailures(context.Context, contract.IntegrationRef) (contract.RetryResult, error) {
	return contract.RetryResult{}, errors.New("RetryFailures is mocked by the tests that reach it")
}

// ApplyChangedTickets records the ids it is given (in Ref.From, comma-separated) and applies them as tickets.
func (f *fakeZendesk) ApplyChangedTickets(_ context.Context, in contract.ChangedTicketsInput) (store.Counters, error) {
	ids := make([]string, len(in.TicketIDs))
	for i, id := range in.TicketIDs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	f.record(fakeCall{Name: "ApplyChangedTickets", ID: in.IntegrationID, Ref: contract.PageRef{From: strings.Join(ids, ",")}})
	return store.Counters{Tickets: int64(len(in.TicketIDs)), CasesUpdated: int64(len(in.TicketIDs))}, nil
}

// serve runs the fake's activities and the integration workflow on ts, polling both queues as the worker does: the
// task queue and its bulk queue (contract.BulkTaskQueue), where the pages of a first sync run.
func (f *fakeZendesk) serve(ts *temporaltest.TestServer) {
	for _, queue := range []string{contract.TaskQueue, contract.BulkTaskQueue(contract.TaskQueue)} {
		ts.NewWorker(queue, func(r worker.Registry) {
			r.RegisterWorkflowWithOptions(workflows.IntegrationWorkflow,
				workflow.RegisterOptions{Name: contract.IntegrationWorkflowName})
			for name, fn := range map[string]any{
				"LoadSettings": f.LoadSettings, "SyncPosition": f.SyncPosition,
				"FetchTicketPage": f.FetchTicketPage, "ApplyTicketPage": f.ApplyTicketPage,
				"FetchCommentPage": f.FetchCommentPage, "ApplyCommentPage": f.ApplyCommentPage,
				"EndSync": f.EndSync, "RecordError": f.RecordError, "ResetSync": f.ResetSync,
			} {
				r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
			}
		})
	}
}
