package importing

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

const testKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// fixture is a real store and a simulator over HTTP, with one integration pointing at it.
type fixture struct {
	a   *Activities
	st  *store.Store
	id  int64
	ctx context.Context
}

func newFixture(t *testing.T, tickets int) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, testdb.New(t), 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	key, err := secrets.ParseKey(testKey)
	require.NoError(t, err)
	s := sim.New(sim.Options{Seed: 11, Tickets: tickets, Email: "agent@example.com", Token: "tok"})
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	s.SetBaseURL(hs.URL)
	uid, err := st.AddCRMUser(ctx, "owner@example.com", "Owner")
	require.NoError(t, err)
	sealed, err := key.Seal("tok")
	require.NoError(t, err)
	id, err := st.CreateIntegration(ctx, &store.Integration{Name: "acme", URL: hs.URL, Email: "agent@example.com",
		TokenEnc: sealed, DefaultUserEmail: "agent@example.com", OwnerUserID: uid, Priority: "remote", IntervalSeconds: 3600})
	require.NoError(t, err)
	return &fixture{a: &Activities{Activities: &activities.Activities{Store: st, Key: key}}, st: st, id: id, ctx: ctx}
}

// register registers the page activities of a under their contract names, as the worker does.
func register(r interface {
	RegisterActivityWithOptions(a interface{}, options activity.RegisterOptions)
}, a *Activities) {
	r.RegisterActivityWithOptions(a.FetchTicketPage, activity.RegisterOptions{Name: contract.ActivityFetchTicketPage})
	r.RegisterActivityWithOptions(a.ApplyTicketPage, activity.RegisterOptions{Name: contract.ActivityApplyTicketPage})
}

// fetchThenApply is a minimal workflow: fetch the first ticket page and apply it, with the retry policy the
// integration workflow uses (retry for ever, 1 s doubling to a minute), so the SDK's test environment runs the
// real activities through their real retries.
func fetchThenApply(ctx workflow.Context, ref contract.PageRef) (contract.FetchResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: 50},
	})
	var a *Activities
	var fr contract.FetchResult
	if err := workflow.ExecuteActivity(ctx, a.FetchTicketPage, ref).Get(ctx, &fr); err != nil {
		return fr, err
	}
	var c store.Counters
	return fr, workflow.ExecuteActivity(ctx, a.ApplyTicketPage, ref).Get(ctx, &c)
}

func TestPanicInMappingFailsTheApplyForGoodAfterThreeAttempts(t *testing.T) {
	f := newFixture(t, 50)
	var calls atomic.Int32
	f.a.BeforeApply = func(kind string) {
		calls.Add(1)
		var m map[string]int
		m["boom"]++ // a nil-map write: the kind of bug a mapping change can bring
	}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	register(env, f.a)
	env.RegisterWorkflow(fetchThenApply)
	env.ExecuteWorkflow(fetchThenApply, contract.PageRef{IntegrationID: f.id, Generation: 0, From: ""})
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "an application error, not a panic error retried for ever: %v", err)
	assert.Equal(t, contract.ErrPermanentFailure, ae.Type())
	assert.True(t, ae.NonRetryable())
	assert.Contains(t, ae.Message(), "panic: assignment to entry in nil map")
	assert.Contains(t, ae.Message(), "a bug in the sync's code")
	assert.EqualValues(t, activities.PermanentAttempts, calls.Load(), "tried a bounded number of times")

	// Nothing of the page landed and the stream did not move: the next pass tries the page again.
	var n int
	require.NoError(t, f.st.DB.Get(&n, `SELECT count(*) FROM zd_tickets`))
	assert.Zero(t, n)
	state, err := f.st.SyncState(f.ctx, f.id)
	require.NoError(t, err)
	assert.Equal(t, "", state.TicketCursor)
}

func TestConstraintViolationFailsTheApplyForGoodAfterThreeAttempts(t *testing.T) {
	f := newFixture(t, 50)
	// The CRM owns the cases table and may have rules of its own that a ticket breaks.
	_, err := f.st.DB.Exec(`ALTER TABLE cases ADD CONSTRAINT crm_subject_not_empty CHECK (length(subject) > 1000)`)
	require.NoError(t, err)
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	var attempts atomic.Int32
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "ApplyTicketPage" {
			attempts.Add(1)
		}
	})
	register(env, f.a)
	env.RegisterWorkflow(fetchThenApply)
	env.ExecuteWorkflow(fetchThenApply, contract.PageRef{IntegrationID: f.id, Generation: 0, From: ""})
	require.True(t, env.IsWorkflowCompleted())
	err = env.GetWorkflowError()
	require.Error(t, err)
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "%v", err)
	assert.Equal(t, contract.ErrPermanentFailure, ae.Type())
	assert.True(t, ae.NonRetryable())
	assert.Contains(t, ae.Message(), "crm_subject_not_empty")
	assert.Contains(t, ae.Message(), "SQLSTATE 23514")
	assert.EqualValues(t, activities.PermanentAttempts, attempts.Load())
}

func TestRetriedApplyActivityReportsTheCountersOfItsPage(t *testing.T) {
	f := newFixture(t, 50)
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	register(env, f.a)
	ref := contract.PageRef{IntegrationID: f.id, Generation: 0, From: ""}
	_, err := env.ExecuteActivity(f.a.FetchTicketPage, ref)
	require.NoError(t, err)
	v, err := env.ExecuteActivity(f.a.ApplyTicketPage, ref)
	require.NoError(t, err)
	var first store.Counters
	require.NoError(t, v.Get(&first))
	require.EqualValues(t, 50, first.Tickets)
	require.Positive(t, first.CasesCreated)

	// The first completion was lost: Temporal runs the activity again.
	v, err = env.ExecuteActivity(f.a.ApplyTicketPage, ref)
	require.NoError(t, err)
	var again store.Counters
	require.NoError(t, v.Get(&again))
	assert.True(t, again.AlreadyApplied)
	again.AlreadyApplied = false
	assert.Equal(t, first, again)
}

func TestApplyHeartbeatsWhileItWaits(t *testing.T) {
	f := newFixture(t, 20)
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	register(env, f.a)
	var beats atomic.Int32
	env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { beats.Add(1) })
	ref := contract.PageRef{IntegrationID: f.id, Generation: 0, From: ""}
	_, err := env.ExecuteActivity(f.a.FetchTicketPage, ref)
	require.NoError(t, err)
	beats.Store(0)
	// Longer than keepAlive's period: an apply slowed by a lock or a huge page.
	f.a.BeforeApply = func(string) { time.Sleep(7 * time.Second) }
	_, err = env.ExecuteActivity(f.a.ApplyTicketPage, ref)
	require.NoError(t, err)
	assert.Positive(t, beats.Load(), "a slow apply heartbeats")
}
