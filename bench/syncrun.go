package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

const (
	simEmail = "agent@example.com"
	simToken = "bench-token-5b1d"
	owner    = "owner@example.com"
)

// env is what every run shares: Temporal, PostgreSQL, the worker binary.
type env struct {
	tmp       string
	workerBin string
	temporal  *temporalServer
	tc        client.Client
	dbs       *databases
	cl        *cleanups
	keyHex    string
	key       *secrets.Key
	seed      int64
	idBase    int64
	runs      int
	// historyMax is the most events any run of a benchmark workflow reached, over historyRuns runs.
	historyMax, historyRuns int
	historyErr              error
}

// stack is one first-sync setup: a fresh database, simulator and worker process.
type stack struct {
	e       *env
	label   string
	n       int
	sim     *sim.Server
	simURL  string
	store   *store.Store
	ctl     *control.Control
	worker  *proc
	name    string
	integID int64
	stopped bool
	// webhookAddr is where the worker's webhook receiver listens (a free port: the default may be the demo's).
	webhookAddr string
}

// syncResult is one first sync through the real stack.
type syncResult struct {
	N            int            `json:"n"`
	Seconds      float64        `json:"seconds"`
	TicketsPerS  float64        `json:"tickets_per_s"`
	Requests     int            `json:"requests"`
	ByEndpoint   map[string]int `json:"requests_by_endpoint"`
	Events       int            `json:"ticket_events"`
	Users        int            `json:"users"`
	LiveTickets  int            `json:"live_tickets"`
	Cases        int            `json:"cases"`
	CaseComments int            `json:"case_comments"`
	Progress     struct {
		TicketsSynced  int64 `json:"tickets_synced"`
		CasesCreated   int64 `json:"cases_created"`
		CommentsSynced int64 `json:"comments_synced"`
		Failures       int64 `json:"failures"`
		Pages          int64 `json:"pages"`
	} `json:"progress"`
	RSSMB  float64      `json:"worker_peak_rss_mb"`
	Phases *phaseReport `json:"phases,omitempty"`
}

func (e *env) newStack(ctx context.Context, label string, o sim.Options) (*stack, error) {
	e.runs++
	st := &stack{e: e, label: label, n: o.Tickets, name: "bench-" + label}
	var err error
	if o.Email == "" {
		o.Email, o.Token = simEmail, simToken
	}
	o.Seed = e.seed
	if o.CommentsPerTicket == 0 {
		o.CommentsPerTicket = 3
	}
	st.sim, st.simURL, err = startSim(o, e.cl)
	if err != nil {
		return nil, err
	}
	dbURL, err := e.dbs.create(ctx)
	if err != nil {
		return nil, err
	}
	st.store, err = store.Open(ctx, dbURL, 10*time.Second)
	if err != nil {
		return nil, err
	}
	e.cl.add(func() { st.store.Close() })
	// Every run's database numbers its integration 1; start elsewhere so workflow IDs never meet on the shared
	// Temporal server.
	if _, err := st.store.DB.ExecContext(ctx, fmt.Sprintf(`ALTER SEQUENCE integrations_id_seq RESTART WITH %d`,
		e.idBase+int64(e.runs))); err != nil {
		return nil, err
	}
	hookPort, err := freePort()
	if err != nil {
		return nil, err
	}
	st.webhookAddr = fmt.Sprintf("127.0.0.1:%d", hookPort)
	queue := "zs-bench-" + randHex(4)
	st.ctl = &control.Control{Store: st.store, Temporal: e.tc, TaskQueue: queue, Key: e.key}
	st.worker, err = startWorker(ctx, e.workerBin, filepath.Join(e.tmp, "worker-"+label+".log"), map[string]string{
		"DATABASE_URL": dbURL, "TEMPORAL_ADDRESS": e.temporal.hostPort, "TEMPORAL_NAMESPACE": e.temporal.namespace,
		"TASK_QUEUE": queue, "ZENDESK_SYNC_SECRET_KEY": e.keyHex, "WEBHOOK_ADDR": st.webhookAddr,
	})
	if err != nil {
		return nil, err
	}
	e.cl.add(func() { st.stop() })
	if _, err := st.ctl.AddUser(ctx, owner, "Owner"); err != nil {
		return nil, err
	}
	in, err := st.ctl.CreateIntegration(ctx, control.IntegrationSpec{Name: st.name, URL: st.simURL, Email: simEmail,
		Token: simToken, Owner: owner, DefaultUserEmail: simEmail, Interval: time.Hour})
	if err != nil {
		return nil, err
	}
	st.integID = in.ID
	return st, nil
}

// stop terminates the workflow and the worker.
func (st *stack) stop() {
	if st.stopped {
		return
	}
	st.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if st.integID != 0 {
		st.e.noteHistory(ctx, contract.IntegrationWorkflowID(st.integID))
	}
	_ = st.e.tc.TerminateWorkflow(ctx, contract.IntegrationWorkflowID(st.integID), "", "benchmark done")
	st.worker.stop(10 * time.Second)
}

// firstSync activates the integration and waits for the first sync to be done.
func (st *stack) firstSync(ctx context.Context) (*syncResult, error) {
	stats := st.sim.Stats()
	res := &syncResult{N: st.n, Events: stats.TicketEvents, Users: stats.Users, LiveTickets: stats.LiveTickets}
	st.sim.ResetCounters()
	timeout := 10*time.Minute + time.Duration(st.n)*5*time.Millisecond
	t0 := time.Now()
	if _, err := st.ctl.Activate(ctx, st.name); err != nil {
		return nil, err
	}
	p, err := st.waitProgress(ctx, timeout, func(p control.ProgressView) bool { return p.FirstSyncDone })
	elapsed := time.Since(t0)
	if err != nil {
		return nil, err
	}
	res.Seconds = elapsed.Seconds()
	res.TicketsPerS = float64(st.n) / elapsed.Seconds()
	res.ByEndpoint = st.sim.Counters()
	res.Requests = apiRequests(res.ByEndpoint)
	res.Progress.TicketsSynced, res.Progress.CasesCreated = p.TicketsSynced, p.CasesCreated
	res.Progress.CommentsSynced, res.Progress.Failures, res.Progress.Pages = p.CommentsSynced, p.Failures, p.Pages
	if res.RSSMB, err = peakRSSMB(st.worker.pid()); err != nil {
		return nil, fmt.Errorf("worker RSS: %w", err)
	}
	db := st.store.DB
	if err := db.GetContext(ctx, &res.Cases, `SELECT count(*) FROM cases WHERE integration_id = $1`, st.integID); err != nil {
		return nil, err
	}
	if err := db.GetContext(ctx, &res.CaseComments, `SELECT count(*) FROM case_comments cc JOIN cases c ON c.id = cc.case_id
		WHERE c.integration_id = $1`, st.integID); err != nil {
		return nil, err
	}
	res.Phases = phases(ctx, st.e.tc, contract.IntegrationWorkflowID(st.integID))
	return res, nil
}

func (st *stack) waitProgress(ctx context.Context, timeout time.Duration, cond func(control.ProgressView) bool) (control.ProgressView, error) {
	deadline := time.Now().Add(timeout)
	var p control.ProgressView
	var err error
	for {
		if st.worker.exited() {
			return p, fmt.Errorf("%s: the worker exited: %v\n%s", st.label, st.worker.err, st.worker.tail(20))
		}
		p, err = st.ctl.Progress(ctx, st.name)
		if err == nil && cond(p) {
			return p, nil
		}
		if err == nil && p.Phase == contract.PhaseCredentialsRejected {
			return p, fmt.Errorf("%s: credentials rejected: %v", st.label, deref(p.LastError))
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("%s: not done after %s: %+v (err %v)", st.label, timeout, p, err)
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// apiRequests sums the simulator's per-endpoint counters (status counters excluded).
func apiRequests(c map[string]int) int {
	n := 0
	for k, v := range c {
		if strings.Contains(k, " /") {
			n += v
		}
	}
	return n
}

// incremental changes `count` tickets in the simulator, asks for a sync and times until every case shows it.
type incrementalResult struct {
	Changed  int            `json:"changed"`
	Seconds  float64        `json:"seconds"`
	SyncCall *float64       `json:"sync_now_wait_seconds"`
	Requests map[string]int `json:"requests"`
}

func (st *stack) incremental(ctx context.Context, count int) (*incrementalResult, error) {
	marker := "bench-" + randHex(3) + "-"
	ids := st.sim.TicketIDs()
	changed := 0
	step := max(1, len(ids)/(count*2))
	for pass := 0; pass < 2 && changed < count; pass++ {
		for i := pass; i < len(ids) && changed < count; i += step {
			subj := fmt.Sprintf("%s%d", marker, i)
			if err := st.sim.ChangeTicket(ids[i], sim.TicketChange{Subject: &subj}); err == nil {
				changed++
			}
		}
		step = 1
	}
	// The simulator lets at most 400 writes share a second and dates the rest in the next seconds, as Zendesk's
	// export never shows a change before its timestamp; the changes have happened once that second has come.
	for last := st.sim.Stats().LastTimestamp; time.Now().Unix() < last; {
		time.Sleep(50 * time.Millisecond)
	}
	st.sim.ResetCounters()
	// The clock runs from the sync request until every changed ticket's case shows its new subject; the request
	// (wait=true) runs beside the polling, so a pass that ends later (its comment stream) does not hide the figure.
	syncCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	type syncDone struct {
		err error
		at  time.Time
	}
	done := make(chan syncDone, 1)
	t0 := time.Now()
	go func() {
		_, err := st.ctl.SyncNow(syncCtx, st.name, true)
		done <- syncDone{err, time.Now()}
	}()
	out := &incrementalResult{Changed: changed}
	var sd *syncDone
	for {
		var n int
		if err := st.store.DB.GetContext(ctx, &n, `SELECT count(*) FROM cases WHERE integration_id = $1 AND subject LIKE $2`,
			st.integID, marker+"%"); err != nil {
			return nil, err
		}
		if n >= changed {
			out.Seconds = time.Since(t0).Seconds()
			break
		}
		select {
		case d := <-done:
			sd = &d
			if d.err != nil {
				return nil, fmt.Errorf("sync now: %w", d.err)
			}
		default:
		}
		if time.Since(t0) > 2*time.Minute {
			return nil, fmt.Errorf("only %d of %d cases changed after 2 minutes", n, changed)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if sd == nil {
		d := <-done
		sd = &d
	}
	out.Requests = st.sim.Counters()
	if sd.err != nil {
		return out, fmt.Errorf("every case changed after %.2f s, but the sync-now request did not complete: %w",
			out.Seconds, sd.err)
	}
	call := sd.at.Sub(t0).Seconds()
	out.SyncCall = &call
	return out, nil
}

// rateLimitedResult is a first sync against Zendesk-like limits scaled in time.
type rateLimitedResult struct {
	N              int     `json:"n"`
	Window         string  `json:"window"`
	ExportLimit    int     `json:"export_limit_per_window"`
	GlobalLimit    int     `json:"limit_per_window"`
	Seconds        float64 `json:"seconds"`
	ExportOK       int     `json:"export_requests_ok"`
	SpanSeconds    float64 `json:"export_span_seconds"`
	MinSpanSeconds float64 `json:"min_span_seconds"`
	Share          float64 `json:"share"`
	ReqPerWindow   float64 `json:"export_requests_per_window"`
	Got429         int     `json:"429s"`
	Extra429       int     `json:"429s_after_first_in_window"`
	Requests       int     `json:"requests"`
}

func rateLimited(ctx context.Context, e *env, n int, window time.Duration) (*rateLimitedResult, error) {
	const exportLimit, globalLimit = 10, 700
	st, err := e.newStack(ctx, "ratelimited", sim.Options{Tickets: n, RateLimit: globalLimit, ExportRateLimit: exportLimit,
		RateWindow: window, MaxRequestLog: 1000000})
	if err != nil {
		return nil, err
	}
	defer st.stop()
	r, err := st.firstSync(ctx)
	if err != nil {
		return nil, err
	}
	out := &rateLimitedResult{N: n, Window: window.String(), ExportLimit: exportLimit, GlobalLimit: globalLimit,
		Seconds: r.Seconds, Got429: r.ByEndpoint["429"], Requests: r.Requests}
	var times []time.Time
	var statuses []int
	for _, l := range st.sim.Requests() {
		if strings.HasPrefix(l.Path, "/api/v2/incremental/") {
			times = append(times, l.At)
			statuses = append(statuses, l.Status)
		}
	}
	if len(times) == 0 {
		return out, nil
	}
	idx := make([]int, len(times))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return times[idx[a]].Before(times[idx[b]]) })
	var first, last time.Time
	var wStart time.Time
	w429 := 0
	for _, i := range idx {
		t := times[i]
		// The simulator's fixed window starts at the first request after the previous one ended.
		if wStart.IsZero() || t.Sub(wStart) >= window {
			wStart, w429 = t, 0
		}
		if first.IsZero() {
			first = t
		}
		if statuses[i] == 200 {
			out.ExportOK++
			last = t
		}
		if statuses[i] == 429 {
			w429++
			if w429 > 1 {
				out.Extra429++
			}
		}
	}
	span := last.Sub(first)
	out.SpanSeconds = span.Seconds()
	minSpan := time.Duration(math.Ceil(float64(out.ExportOK)/exportLimit)-1) * window
	out.MinSpanSeconds = minSpan.Seconds()
	switch {
	case out.ExportOK <= exportLimit || span <= 0:
		out.Share = 1
	default:
		out.Share = math.Min(1, minSpan.Seconds()/span.Seconds())
	}
	if span > 0 {
		out.ReqPerWindow = float64(out.ExportOK) / (span.Seconds()/window.Seconds() + 1)
	}
	return out, nil
}

// ---- phases from the workflow history ----

type activityStat struct {
	Count        int     `json:"count"`
	RunSeconds   float64 `json:"run_seconds"`
	QueueSeconds float64 `json:"queue_seconds"`
	MaxSeconds   float64 `json:"max_seconds"`
	Retries      int     `json:"retries"`
}

type phaseReport struct {
	Activities    map[string]*activityStat `json:"activities"`
	WorkflowTasks int                      `json:"workflow_tasks"`
	WFTaskSeconds float64                  `json:"workflow_task_seconds"`
	HistoryEvents int                      `json:"history_events"`
	TicketsStream float64                  `json:"tickets_stream_seconds"`
	CommentStream float64                  `json:"comments_stream_seconds"`
}

// phases sums each activity type's time (started to completed) and its queueing (scheduled to started) from the
// workflow's history: which of fetch and apply bounds the pipelined streams.
func phases(ctx context.Context, tc client.Client, wfID string) *phaseReport {
	rep := &phaseReport{Activities: map[string]*activityStat{}}
	type sched struct {
		typ string
		at  time.Time
	}
	scheduled := map[int64]sched{}
	started := map[int64]time.Time{}
	var wftSched time.Time
	streamFirst := map[string]time.Time{}
	streamLast := map[string]time.Time{}
	// The workflow may have continued as new during the sync: walk back the chain of runs, then read them in order.
	var runs [][]*historypb.HistoryEvent
	runID := ""
	for i := 0; i < 50; i++ {
		var evs []*historypb.HistoryEvent
		it := tc.GetWorkflowHistory(ctx, wfID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return rep
			}
			evs = append(evs, ev)
		}
		runs = append([][]*historypb.HistoryEvent{evs}, runs...)
		if len(evs) == 0 {
			break
		}
		runID = evs[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
		if runID == "" {
			break
		}
	}
	var all []*historypb.HistoryEvent
	for _, r := range runs {
		all = append(all, r...)
	}
	for _, ev := range all {
		rep.HistoryEvents++
		at := ev.GetEventTime().AsTime()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			wftSched = at
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			rep.WorkflowTasks++
			if !wftSched.IsZero() {
				rep.WFTaskSeconds += at.Sub(wftSched).Seconds()
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a := ev.GetActivityTaskScheduledEventAttributes()
			scheduled[ev.GetEventId()] = sched{a.GetActivityType().GetName(), at}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a := ev.GetActivityTaskStartedEventAttributes()
			started[a.GetScheduledEventId()] = at
			s := scheduled[a.GetScheduledEventId()]
			st := rep.stat(s.typ)
			st.QueueSeconds += at.Sub(s.at).Seconds()
			st.Retries += int(a.GetAttempt()) - 1
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			a := ev.GetActivityTaskCompletedEventAttributes()
			s := scheduled[a.GetScheduledEventId()]
			st := rep.stat(s.typ)
			st.Count++
			d := at.Sub(started[a.GetScheduledEventId()]).Seconds()
			st.RunSeconds += d
			st.MaxSeconds = math.Max(st.MaxSeconds, d)
			kind := ""
			switch s.typ {
			case "FetchTicketPage", "ApplyTicketPage":
				kind = "tickets"
			case "FetchCommentPage", "ApplyCommentPage":
				kind = "comments"
			}
			if kind != "" {
				if _, ok := streamFirst[kind]; !ok {
					streamFirst[kind] = s.at
				}
				streamLast[kind] = at
			}
		}
	}
	rep.TicketsStream = streamLast["tickets"].Sub(streamFirst["tickets"]).Seconds()
	rep.CommentStream = streamLast["comments"].Sub(streamFirst["comments"]).Seconds()
	return rep
}

func (r *phaseReport) stat(typ string) *activityStat {
	if typ == "" {
		typ = "?"
	}
	s := r.Activities[typ]
	if s == nil {
		s = &activityStat{}
		r.Activities[typ] = s
	}
	return s
}

// twoWayResult is the latency from a local case edit to Zendesk's ticket showing it.
type twoWayResult struct {
	Samples []float64 `json:"samples_s"`
	P50     float64   `json:"p50_s"`
	P95     float64   `json:"p95_s"`
}

// twoWay turns two-way sync on and edits `samples` cases one after another, timing each from the UPDATE (through
// the outbox trigger, the relay's NOTIFY, the workflow's push) to the simulator's ticket carrying the new subject.
func (st *stack) twoWay(ctx context.Context, samples int) (*twoWayResult, error) {
	on := true
	if _, err := st.ctl.EditIntegration(ctx, st.name, control.IntegrationEdit{TwoWay: &on}); err != nil {
		return nil, err
	}
	// One sync makes sure the workflow has re-read its settings before the clock starts.
	if _, err := st.ctl.SyncNow(ctx, st.name, true); err != nil {
		return nil, fmt.Errorf("sync after turning two-way on: %w", err)
	}
	type target struct{ caseID, ticketID int64 }
	var ts []target
	rows, err := st.store.DB.QueryxContext(ctx, `SELECT c.id, t.zendesk_id FROM cases c JOIN zd_tickets t ON t.case_id = c.id
		WHERE c.integration_id = $1 AND t.status IN ('new', 'open', 'pending', 'hold') ORDER BY c.id LIMIT $2`, st.integID, samples)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var t target
		if err := rows.Scan(&t.caseID, &t.ticketID); err != nil {
			rows.Close()
			return nil, err
		}
		ts = append(ts, t)
	}
	rows.Close()
	out := &twoWayResult{}
	marker := "two-way " + randHex(3) + " "
	for i, t := range ts {
		subject := fmt.Sprintf("%s%d", marker, i)
		t0 := time.Now()
		if _, err := st.ctl.UpdateCase(ctx, t.caseID, control.CaseUpdate{Subject: &subject}); err != nil {
			return nil, err
		}
		for {
			raw, ok := st.sim.Ticket(t.ticketID)
			if ok && strings.Contains(string(raw), `"subject":"`+subject+`"`) {
				break
			}
			if time.Since(t0) > 30*time.Second {
				return nil, fmt.Errorf("case %d: the edit did not reach Zendesk within 30 s", t.caseID)
			}
			time.Sleep(5 * time.Millisecond)
		}
		out.Samples = append(out.Samples, round(time.Since(t0).Seconds(), 3))
	}
	if len(out.Samples) == 0 {
		return nil, fmt.Errorf("no open ticket to edit")
	}
	sorted := append([]float64(nil), out.Samples...)
	sort.Float64s(sorted)
	pick := func(q float64) float64 { return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))] }
	out.P50, out.P95 = pick(0.50), pick(0.95)
	return out, nil
}
