package e2e

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// refusing serves the simulator, but while status is set it answers every incremental-export request with that
// status and a Zendesk-shaped error body, as Zendesk does for a request it will never accept.
type refusing struct {
	next    http.Handler
	status  atomic.Int32
	refused atomic.Int32
}

func (h *refusing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if code := int(h.status.Load()); code != 0 && strings.Contains(r.URL.Path, "/incremental/") {
		h.refused.Add(1)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"error":"InvalidEndpoint","description":"This endpoint is not available for your account"}`))
		return
	}
	h.next.ServeHTTP(w, r)
}

// switchable is a real HTTP server for the simulator that can be taken off the network and brought back on the
// same address: while it is down, connections are refused, as for an unreachable Zendesk.
type switchable struct {
	t       *testing.T
	handler http.Handler
	addr    string
	mu      sync.Mutex
	srv     *http.Server
}

func newSwitchable(t *testing.T, h http.Handler) *switchable {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &switchable{t: t, handler: h, addr: ln.Addr().String()}
	s.serve(ln)
	t.Cleanup(s.down)
	return s
}

func (s *switchable) url() string { return "http://" + s.addr }

func (s *switchable) serve(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv = &http.Server{Handler: s.handler}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(s.srv)
}

func (s *switchable) down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

func (s *switchable) up() {
	s.t.Helper()
	var ln net.Listener
	require.Eventually(s.t, func() bool {
		var err error
		ln, err = net.Listen("tcp", s.addr)
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "listen again on %s", s.addr)
	s.serve(ln)
}

func TestPermanentZendeskErrorStopsRetryingAndSyncWaitReportsIt(t *testing.T) {
	e := newEnv(t)
	s := sim.New(sim.Options{Seed: 21, Tickets: 200, Email: simEmail, Token: simToken})
	h := &refusing{next: s}
	srv := newSwitchable(t, h)
	s.SetBaseURL(srv.url())
	e.integration("perm", srv.url(), nil)
	e.firstSyncDone("perm")

	for _, code := range []int{http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusBadRequest} {
		h.status.Store(int32(code))
		h.refused.Store(0)
		// Bounded: without a limit the sync would retry for ever and this would time out.
		ctx, cancel := context.WithTimeout(e.ctx, 3*time.Minute)
		res, err := e.ctl.SyncNow(ctx, "perm", true)
		cancel()
		require.Error(t, err, "HTTP %d", code)
		require.False(t, errors.Is(err, context.DeadlineExceeded), "sync --wait returned in bounded time: %v", err)
		assert.Contains(t, err.Error(), "sync of \"perm\" failed")
		assert.Contains(t, err.Error(), "HTTP "+strconv.Itoa(code))
		assert.Contains(t, res.Error, "gave up after 3 attempts")
		assert.EqualValues(t, 3, h.refused.Load(), "HTTP %d: asked a bounded number of times", code)

		p, err := e.ctl.Progress(e.ctx, "perm")
		require.NoError(t, err)
		require.NotNil(t, p.LastError, "progress shows why the sync stopped")
		assert.Contains(t, *p.LastError, "HTTP "+strconv.Itoa(code))
		assert.Zero(t, p.Attempts, "nothing is retrying any more")
		assert.True(t, p.Active)

		// Zendesk accepts the request again: the next sync completes and the error clears.
		h.status.Store(0)
		_, err = e.ctl.SyncNow(e.ctx, "perm", true)
		require.NoError(t, err)
		p, err = e.ctl.Progress(e.ctx, "perm")
		require.NoError(t, err)
		assert.Nil(t, p.LastError)
	}
}

func TestUnreachableZendeskShowsInProgressWhileItIsRetried(t *testing.T) {
	e := newEnv(t)
	s := sim.New(sim.Options{Seed: 22, Tickets: 200, Email: simEmail, Token: simToken})
	srv := newSwitchable(t, s)
	s.SetBaseURL(srv.url())
	e.integration("reach", srv.url(), nil)
	first := e.firstSyncDone("reach")

	// Zendesk goes off the network; a sync is asked for.
	srv.down()
	_, err := e.ctl.SyncNow(e.ctx, "reach", false)
	require.NoError(t, err)
	p := e.waitProgress("reach", time.Minute, func(p control.ProgressView) bool {
		return p.Attempts >= 2 && p.LastError != nil
	})
	assert.Contains(t, *p.LastError, "Zendesk is unreachable")
	assert.Contains(t, *p.LastError, "connection refused")
	require.NotNil(t, p.Retrying)
	assert.Equal(t, "FetchTicketPage", *p.Retrying)
	assert.Equal(t, contract.PhaseIncremental, p.Phase)

	// It comes back: the same sync completes by itself and the error clears.
	srv.up()
	p = e.waitProgress("reach", 3*time.Minute, func(p control.ProgressView) bool {
		return p.SyncsCompleted > first.SyncsCompleted
	})
	assert.Nil(t, p.LastError)
	assert.Zero(t, p.Attempts)

	// Zendesk answers 5xx for a while: shown the same way.
	s.SetFaults(func() sim.Faults { f := s.Faults(); f.FailRate = 1; return f }())
	_, err = e.ctl.SyncNow(e.ctx, "reach", false)
	require.NoError(t, err)
	p = e.waitProgress("reach", time.Minute, func(p control.ProgressView) bool {
		return p.Attempts >= 2 && p.LastError != nil
	})
	assert.Regexp(t, `server error \(HTTP 50[03]\)`, *p.LastError)
	s.SetFaults(func() sim.Faults { f := s.Faults(); f.FailRate = 0; return f }())
	done := p.SyncsCompleted
	p = e.waitProgress("reach", 3*time.Minute, func(p control.ProgressView) bool { return p.SyncsCompleted > done })
	assert.Nil(t, p.LastError)
	assert.Zero(t, p.Attempts)
}

// holdSyncState takes the integration's sync-state row lock in a transaction of its own, as a long CRM
// transaction or a vacuum-blocked lock would, until release is called.
func (e *env) holdSyncState(name string) (release func()) {
	e.t.Helper()
	db, err := sql.Open("postgres", e.dbURL)
	require.NoError(e.t, err)
	tx, err := db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	_, err = tx.ExecContext(e.ctx, `SELECT 1 FROM sync_state s JOIN integrations i ON i.id = s.integration_id
		WHERE i.name = $1 FOR UPDATE OF s`, name)
	require.NoError(e.t, err)
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback()
			_ = db.Close()
		})
	}
	e.t.Cleanup(release)
	return release
}

// activityAttempts returns the attempt on which each started activity of the given types ran, from the history of
// the workflow's current run (Temporal records an activity's started event once, with its final attempt).
func (e *env) activityAttempts(workflowID string, types ...string) []int32 {
	e.t.Helper()
	want := map[string]bool{}
	for _, ty := range types {
		want[ty] = true
	}
	scheduled := map[int64]string{}
	var out []int32
	it := e.ts.GetDefaultClient().GetWorkflowHistory(e.ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(e.t, err)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && want[scheduled[a.GetScheduledEventId()]] {
			out = append(out, a.GetAttempt())
		}
	}
	return out
}

func TestApplyLongerThanTheHeartbeatTimeoutIsNotTimedOut(t *testing.T) {
	e := newEnv(t)
	_, url := newSim(t, sim.Options{Seed: 23, Tickets: 150, BadTickets: 2})
	_, err := e.ctl.AddUser(e.ctx, "owner@example.com", "Owner")
	require.NoError(t, err)
	_, err = e.ctl.CreateIntegration(e.ctx, control.IntegrationSpec{Name: "slow", URL: url, Email: simEmail,
		Token: simToken, Owner: "owner@example.com", DefaultUserEmail: simEmail, Interval: time.Hour})
	require.NoError(t, err)
	// The first page's apply waits for the lock well past the apply activities' 30 s heartbeat timeout.
	release := e.holdSyncState("slow")
	_, err = e.ctl.Activate(e.ctx, "slow")
	require.NoError(t, err)
	p, err := e.ctl.Progress(e.ctx, "slow")
	require.NoError(t, err)
	wfID := p.WorkflowID
	time.Sleep(50 * time.Second)
	release()
	p = e.firstSyncDone("slow")
	for _, attempt := range e.activityAttempts(wfID, "ApplyTicketPage", "ApplyCommentPage") {
		assert.EqualValues(t, 1, attempt, "no apply was timed out and run again")
	}
	assert.EqualValues(t, e.count(`SELECT count(*) FROM cases`), p.CasesCreated, "every page counted once")

	// Retrying the failed tickets waits for the same lock: it too outlives the heartbeat timeout.
	release = e.holdSyncState("slow")
	type result struct {
		fixed int
		err   error
	}
	got := make(chan result, 1)
	go func() {
		res, err := e.ctl.RetryFailures(e.ctx, "slow")
		got <- result{res.Fixed, err}
	}()
	time.Sleep(50 * time.Second)
	release()
	select {
	case r := <-got:
		require.NoError(t, r.err)
	case <-time.After(3 * time.Minute):
		t.Fatal("retrying failures never ended")
	}
	for _, attempt := range e.activityAttempts(wfID, "RetryFailures") {
		assert.EqualValues(t, 1, attempt, "retry-failures was not timed out and run again")
	}
}
