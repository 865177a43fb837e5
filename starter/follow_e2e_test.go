package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/server/temporaltest"

	"github.com/zendesk-sync/zendesk-sync/config"
	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
	"github.com/zendesk-sync/zendesk-sync/internal/workerapp"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

const (
	simEmail = "agent@example.com"
	simToken = "sim-token-cli-4b2e"
)

// stack is the whole product for the CLI: an in-process Temporal server, a worker as the worker binary runs it, a
// fresh database and the Zendesk simulator.
type stack struct {
	t                *testing.T
	args             []string // the connection flags
	simURL           string
	sim              *sim.Server
	simTicketsLive   int64
	stopWorker       func()
	workerDone       chan error
	dbURL, temporal  string
	namespace, queue string
	workerLog        *lockedBuffer
}

// lockedBuffer keeps the worker's log lines, written from its goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newStack(t *testing.T, slow time.Duration) *stack {
	t.Setenv(secrets.EnvKey, testKey)
	t.Setenv(secrets.EnvKeyFile, "")
	s := sim.New(sim.Options{Seed: 3, Tickets: 600, Email: simEmail, Token: simToken, Slow: slow})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.SetBaseURL(srv.URL)
	var live int64
	for _, id := range s.TicketIDs() {
		if !s.IsDeleted(id) {
			live++
		}
	}
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, workerapp.EnsureSearchAttributes(ctx, ts.GetDefaultClient(), ts.GetDefaultNamespace()))
	st := &stack{t: t, simURL: srv.URL, sim: s, simTicketsLive: live, dbURL: testdb.New(t), temporal: ts.GetFrontendHostPort(),
		namespace: ts.GetDefaultNamespace(), queue: "cli-follow-test", workerDone: make(chan error, 1), stopWorker: cancel,
		workerLog: &lockedBuffer{}}
	st.args = []string{"--database-url", st.dbURL, "--temporal-address", st.temporal, "--namespace", st.namespace,
		"--task-queue", st.queue}
	key, err := secrets.ParseKey(testKey)
	require.NoError(t, err)
	go func() {
		st.workerDone <- workerapp.Run(ctx, workerapp.Config{Config: config.Config{DatabaseURL: st.dbURL,
			TemporalAddress: st.temporal, TemporalNamespace: st.namespace, TaskQueue: st.queue}, PerPage: 20},
			workerapp.Deps{Key: key, Logger: slog.New(slog.NewTextHandler(st.workerLog, nil))})
	}()
	t.Cleanup(func() { cancel(); <-st.workerDone })
	return st
}

func (st *stack) runCtx(ctx context.Context, args ...string) result {
	var out, errOut bytes.Buffer
	code := run(ctx, append(append([]string{}, st.args...), args...), &out, &errOut)
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

func (st *stack) ok(args ...string) result {
	st.t.Helper()
	r := st.runCtx(context.Background(), args...)
	require.Equalf(st.t, 0, r.code, "starter %v: %s", args, r.errOut)
	return r
}

// Against the real stack: create checks the credentials, `progress --follow` follows a first sync to its end
// with Zendesk's count as its total, stops quietly on Ctrl-C, and returns at once on an idle integration.
func TestFollowAFirstSync(t *testing.T) {
	st := newStack(t, 100*time.Millisecond)
	st.ok("user", "add", "--email", "admin@example.com", "--name", "Admin")
	r := st.ok("integration", "create", "--name", "acme", "--url", st.simURL, "--email", simEmail, "--token", simToken,
		"--owner", "admin@example.com")
	assert.Contains(t, r.errOut, "connection checked: Zendesk accepted the credentials of acme")
	r = st.ok("integration", "create", "--name", "wrong", "--url", st.simURL, "--email", simEmail, "--token", "nope",
		"--owner", "admin@example.com")
	assert.Contains(t, r.errOut, "warning: Zendesk rejected the credentials of wrong")
	assert.Contains(t, r.errOut, "starter integration edit wrong --email ... --token ...")

	st.ok("integration", "activate", "acme")
	// Ctrl-C while following: no error, nothing printed on stdout, exit 0.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	r = st.runCtx(ctx, "progress", "acme", "--follow")
	cancel()
	assert.Equal(t, 0, r.code, r.errOut)
	assert.Empty(t, r.out)
	assert.NotContains(t, r.errOut, "starter:")

	r = st.ok("progress", "acme", "--follow")
	t.Logf("starter progress acme --follow:\n%s%s", r.errOut, r.out)
	assert.Regexp(t, `(?m)^first sync: (tickets \d+/`+strconv.FormatInt(st.simTicketsLive, 10)+` · |comments \(tickets done)`,
		r.errOut, "stdout is no terminal: plain lines, against Zendesk's count")
	assert.NotContains(t, r.errOut, "\r")
	assert.Regexp(t, `first sync done:\s+yes`, r.out)
	assert.Regexp(t, `tickets synced:\s+\d+`, r.out)
	// The worker logs the pass: its counts, its Zendesk requests and its duration.
	assert.Regexp(t, `level=INFO msg="sync pass ended" workflow_id=zendesk-integration/\d+ tickets=600 cases_created=\d+ `+
		`cases_updated=0 comments=\d+ failures=0 pushed=0 pages=\d+ requests=[1-9]\d* duration=\d`, st.workerLog.String())

	// Idle now: the state at once.
	start := time.Now()
	r = st.ok("progress", "acme", "--follow")
	assert.Contains(t, r.errOut, "nothing to follow: acme is waiting for its next sync")
	assert.Regexp(t, `phase:\s+waiting`, r.out)
	assert.Less(t, time.Since(start), 10*time.Second)
}
