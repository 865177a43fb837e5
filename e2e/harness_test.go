// Package e2e runs the whole product against real parts: an in-process Temporal server, a real PostgreSQL
// database, the Zendesk simulator over HTTP, and the same registration the worker binary uses.
package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/server/temporaltest"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/config"
	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
	"github.com/zendesk-sync/zendesk-sync/internal/workerapp"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

const (
	testKey   = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	simEmail  = "agent@example.com"
	simToken  = "secret-token-e2e-7f3a"
	taskQueue = contract.TaskQueue
)

type env struct {
	perPage int
	// bulkSlots is the worker's BulkActivitySlots (0: its default).
	bulkSlots int
	t         *testing.T
	ctx       context.Context
	ts        *temporaltest.TestServer
	dbURL     string
	store     *store.Store
	key       *secrets.Key
	ctl       *control.Control
	logger    *slog.Logger
	logs      *logSink
	// webhookLn, when set (withWebhooks), serves the worker's webhook receiver.
	webhookLn net.Listener
}

// logSink keeps every log line the worker side writes, so tests can check that no secret is ever logged.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

func (l *logSink) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// envOption changes how newEnv assembles the stack.
type envOption func(*env, *envConfig)

type envConfig struct{ noWorker bool }

// withPerPage makes export pages smaller, so a few thousand tickets span many pages.
func withPerPage(n int) envOption { return func(e *env, _ *envConfig) { e.perPage = n } }

// withBulkSlots gives the worker n bulk activity slots (the first-sync pages it runs at once).
func withBulkSlots(n int) envOption { return func(e *env, _ *envConfig) { e.bulkSlots = n } }

// withoutWorker leaves the worker to the test (e.g. a worker process it kills).
func withoutWorker() envOption { return func(_ *env, c *envConfig) { c.noWorker = true } }

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, logs: &logSink{}}
	var cfg envConfig
	for _, o := range opts {
		o(e, &cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(e.logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.ts = temporaltest.NewServer(temporaltest.WithT(t),
		temporaltest.WithBaseClientOptions(client.Options{Logger: tlog.NewStructuredLogger(logger)}))
	// Registered here too, for the tests that run the worker binary instead (it registers them itself as well).
	err := workerapp.EnsureSearchAttributes(ctx, e.ts.GetDefaultClient(), e.ts.GetDefaultNamespace())
	require.NoError(t, err)
	e.dbURL = testdb.New(t)
	e.store, err = store.Open(ctx, e.dbURL, 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { e.store.Close() })
	e.key, err = secrets.ParseKey(testKey)
	require.NoError(t, err)
	e.ctl = &control.Control{Store: e.store, Temporal: e.ts.GetDefaultClient(), TaskQueue: taskQueue, Key: e.key}
	e.logger = logger
	if !cfg.noWorker {
		e.startWorker(nil)
	}
	return e
}

// startWorker runs the worker as the worker binary does (workerapp.Run: workflows, activities, the outbox relay)
// against this env's Temporal server and database, until the test ends. hook, when set, changes the activities
// before they are registered (e.g. to set a test hook).
func (e *env) startWorker(hook func(*activities.Activities)) {
	e.t.Helper()
	acts := &activities.Activities{Store: e.store, Key: e.key, Logger: e.logger, PerPage: e.perPage}
	if hook != nil {
		hook(acts)
	}
	ctx, stop := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() {
		done <- workerapp.Run(ctx, workerapp.Config{
			Config: config.Config{DatabaseURL: e.dbURL, TemporalAddress: e.ts.GetFrontendHostPort(),
				TemporalNamespace: e.ts.GetDefaultNamespace(), TaskQueue: taskQueue},
			PerPage:           e.perPage,
			RelayRescan:       2 * time.Second,
			BulkActivitySlots: e.bulkSlots,
		}, workerapp.Deps{Key: e.key, Logger: e.logger, Store: e.store, Temporal: e.ts.GetDefaultClient(), Activities: acts,
			WebhookListener: e.webhookLn})
	}()
	// Registered after the store's and the server's cleanups, so it runs before them: the worker stops first.
	e.t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			e.t.Errorf("the worker did not stop cleanly: %v", err)
		}
	})
}

// newSim starts a simulator over real HTTP.
func newSim(t *testing.T, o sim.Options) (*sim.Server, string) {
	t.Helper()
	if o.Email == "" {
		o.Email, o.Token = simEmail, simToken
	}
	s := sim.New(o)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	s.SetBaseURL(hs.URL)
	return s, hs.URL
}

// integration creates the owner and an active integration against url.
func (e *env) integration(name, url string, mod func(*control.IntegrationSpec)) {
	e.t.Helper()
	if _, err := e.store.CRMUserByEmail(e.ctx, "owner@example.com"); err != nil {
		_, err := e.ctl.AddUser(e.ctx, "owner@example.com", "Owner")
		require.NoError(e.t, err)
	}
	spec := control.IntegrationSpec{Name: name, URL: url, Email: simEmail, Token: simToken, Owner: "owner@example.com",
		DefaultUserEmail: simEmail, Interval: time.Hour}
	if mod != nil {
		mod(&spec)
	}
	_, err := e.ctl.CreateIntegration(e.ctx, spec)
	require.NoError(e.t, err)
	_, err = e.ctl.Activate(e.ctx, name)
	require.NoError(e.t, err)
}

// waitProgress polls progress until cond holds.
func (e *env) waitProgress(name string, timeout time.Duration, cond func(p control.ProgressView) bool) control.ProgressView {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var p control.ProgressView
	var err error
	for time.Now().Before(deadline) {
		p, err = e.ctl.Progress(e.ctx, name)
		if err == nil && cond(p) {
			return p
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("progress of %s never reached the expected state: %+v (err %v)", name, p, err)
	return p
}

func (e *env) firstSyncDone(name string) control.ProgressView {
	return e.waitProgress(name, 10*time.Minute, func(p control.ProgressView) bool { return p.FirstSyncDone })
}

// caseView is the `case list -o json` shape.
type caseView struct {
	ID          int64   `json:"id"`
	Integration string  `json:"integration"`
	Subject     string  `json:"subject"`
	Description string  `json:"description"`
	Status      string  `json:"status"`
	Priority    string  `json:"priority"`
	AssignedTo  *string `json:"assigned_to"`
	Owner       *string `json:"owner"`
	Contact     *struct {
		Email      *string `json:"email"`
		FirstName  *string `json:"first_name"`
		LastName   *string `json:"last_name"`
		NamePrefix *string `json:"name_prefix"`
		MiddleName *string `json:"middle_name"`
		NameSuffix *string `json:"name_suffix"`
	} `json:"contact"`
	Comments []struct {
		Body        string  `json:"body"`
		Public      bool    `json:"public"`
		AuthorEmail *string `json:"author_email"`
		CreatedAt   string  `json:"created_at"`
	} `json:"comments"`
	Ticket *struct {
		ID                 int64    `json:"id"`
		URL                string   `json:"url"`
		Status             string   `json:"status"`
		Priority           *string  `json:"priority"`
		Type               *string  `json:"type"`
		Recipient          *string  `json:"recipient"`
		RequesterEmail     *string  `json:"requester_email"`
		SubmitterEmail     *string  `json:"submitter_email"`
		AssigneeEmail      *string  `json:"assignee_email"`
		ProblemID          *int64   `json:"problem_id"`
		CollaboratorEmails []string `json:"collaborator_emails"`
	} `json:"ticket"`
	UpdatedAt string `json:"updated_at"`
}

func (e *env) cases(integration string) map[int64]caseView {
	e.t.Helper()
	raw, err := e.ctl.Cases(e.ctx, integration)
	require.NoError(e.t, err)
	var list []caseView
	require.NoError(e.t, json.Unmarshal(raw, &list))
	out := map[int64]caseView{}
	for _, c := range list {
		if c.Ticket != nil {
			out[c.Ticket.ID] = c
		}
	}
	return out
}

func (e *env) count(q string, args ...interface{}) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.store.DB.GetContext(e.ctx, &n, q, args...))
	return n
}
