package relay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
	"github.com/zendesk-sync/zendesk-sync/store"
)

// A rescan interval no test reaches, so a signal can only come from a notification or a start/reconnect scan.
const noRescan = time.Hour

type call struct {
	workflowID, runID, signal string
	arg                       interface{}
	at                        time.Time
}

// fakeTemporal records signals; errFor, when set, decides the answer to each call.
type fakeTemporal struct {
	mu     sync.Mutex
	calls  []call
	errFor func(n int, workflowID string) error // n counts calls from 1
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, workflowID, runID, signalName string, arg interface{}) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{workflowID, runID, signalName, arg, time.Now()})
	if f.errFor != nil {
		return f.errFor(len(f.calls), workflowID)
	}
	return nil
}

// count is the number of signals the workflow got.
func (f *fakeTemporal) count(workflowID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.workflowID == workflowID {
			n++
		}
	}
	return n
}

func (f *fakeTemporal) all() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// waitCount waits until the workflow got at least n signals.
func (f *fakeTemporal) waitCount(t *testing.T, workflowID string, n int, within time.Duration, msg string) {
	t.Helper()
	require.Eventually(t, func() bool { return f.count(workflowID) >= n }, within, 20*time.Millisecond,
		"%s: %s got %d signal(s), want >= %d", msg, workflowID, f.count(workflowID), n)
}

type fixture struct {
	url    string
	st     *store.Store
	integ  int64
	caseID int64
	wid    string
}

// setup makes a fresh database with a two-way integration and one of its cases. Creating the case already left
// a pending outbox row.
func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	url := testdb.New(t)
	st, err := store.Open(ctx, url, 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	uid, err := st.AddCRMUser(ctx, "owner@example.com", "Owner")
	require.NoError(t, err)
	integ, err := st.CreateIntegration(ctx, &store.Integration{Name: "acme", URL: "https://acme.zendesk.com",
		Email: "agent@acme.com", TokenEnc: []byte{1}, OwnerUserID: uid, TwoWay: true, Priority: "remote",
		IntervalSeconds: 300})
	require.NoError(t, err)
	caseID, err := st.CreateCase(ctx, store.LocalCase{IntegrationID: integ, Subject: "printer on fire",
		Status: "open", Priority: "normal"})
	require.NoError(t, err)
	return &fixture{url: url, st: st, integ: integ, caseID: caseID, wid: contract.IntegrationWorkflowID(integ)}
}

func (f *fixture) pending(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, f.st.DB.Get(&n, `SELECT count(*) FROM outbox WHERE processed_at IS NULL`))
	return n
}

// markProcessed empties the outbox, as the workflow would, so a start scan finds nothing.
func (f *fixture) markProcessed(t *testing.T) {
	t.Helper()
	_, err := f.st.DB.Exec(`UPDATE outbox SET processed_at = now() WHERE processed_at IS NULL`)
	require.NoError(t, err)
}

// The relay does not care which trigger notified, so most tests make their local changes as case comments.

// comment adds a local comment to the case: the trigger records it and notifies.
func (f *fixture) comment(t *testing.T, db execer, body string) {
	t.Helper()
	_, err := db.ExecContext(context.Background(), `INSERT INTO case_comments (case_id, body) VALUES ($1, $2)`,
		f.caseID, body)
	require.NoError(t, err)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}

// commentNotifyOnly adds a comment and marks its outbox row processed in the same transaction: the NOTIFY (sent
// at commit) is then the only trace of the change, so a signal proves the notification path.
func (f *fixture) commentNotifyOnly(t *testing.T, db execer, body string) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var id int64
	require.NoError(t, tx.QueryRow(`INSERT INTO case_comments (case_id, body) VALUES ($1, $2) RETURNING id`,
		f.caseID, body).Scan(&id))
	res, err := tx.Exec(`UPDATE outbox SET processed_at = now() WHERE comment_id = $1`, id)
	require.NoError(t, err)
	n, _ := res.RowsAffected()
	require.EqualValues(t, 1, n, "the trigger should have recorded the change")
	require.NoError(t, tx.Commit())
}

// waitListening waits until the relay's LISTEN is in place (its connection's last statement).
func (f *fixture) waitListening(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		err := f.st.DB.Get(&n, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'LISTEN %'`)
		return err == nil && n == 1
	}, 10*time.Second, 20*time.Millisecond, "the relay never LISTENed")
}

// start runs the relay until the test ends, then checks it stops promptly with the context's error.
func start(t *testing.T, r *Relay) {
	t.Helper()
	if r.Logger == nil {
		r.Logger = testLogger(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.ErrorIs(t, err, context.Canceled)
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
}

func newRelay(f *fixture, tc *fakeTemporal) *Relay {
	return &Relay{DatabaseURL: f.url, DB: f.st.DB, Temporal: tc, Rescan: noRescan}
}

func TestLocalChangeSignalsWorkflow(t *testing.T) {
	f := setup(t)
	f.markProcessed(t)
	tc := &fakeTemporal{}
	start(t, newRelay(f, tc))
	f.waitListening(t)

	f.commentNotifyOnly(t, f.st.DB, "any news?")
	tc.waitCount(t, f.wid, 1, 3*time.Second, "a local change must wake the workflow")
	c := tc.all()[0]
	require.Equal(t, f.wid, c.workflowID)
	require.Equal(t, "zendesk-integration/"+fmt.Sprint(f.integ), c.workflowID)
	require.Equal(t, contract.SignalLocalChange, c.signal)
	require.Equal(t, "", c.runID, "the signal goes to the current run")
	require.Nil(t, c.arg, "local-change has no payload")
}

func TestCaseUpdateSignalsWorkflow(t *testing.T) {
	f := setup(t)
	f.markProcessed(t)
	tc := &fakeTemporal{}
	start(t, newRelay(f, tc))
	f.waitListening(t)

	subject := "printer still on fire"
	require.NoError(t, f.st.UpdateCase(context.Background(), f.caseID, store.CaseEdit{Subject: &subject}),
		"an update of a two-way case goes through the capture trigger")
	tc.waitCount(t, f.wid, 1, 3*time.Second, "a case update must wake the workflow")
	require.Equal(t, contract.SignalLocalChange, tc.all()[0].signal)
}

func TestBurstIsDebounced(t *testing.T) {
	f := setup(t)
	f.markProcessed(t)
	tc := &fakeTemporal{}
	r := newRelay(f, tc)
	start(t, r)
	f.waitListening(t)
	time.Sleep(200 * time.Millisecond) // let the start scans (which find nothing) finish
	require.Zero(t, tc.count(f.wid))

	began := time.Now()
	for i := range 50 {
		f.comment(t, f.st.DB, fmt.Sprintf("edit %d", i))
	}
	took := time.Since(began)
	require.Equal(t, 50, f.pending(t), "each update is one outbox row")
	tc.waitCount(t, f.wid, 1, 3*time.Second, "a burst must wake the workflow")
	time.Sleep(500 * time.Millisecond) // let the last round go out
	n := tc.count(f.wid)
	// Rounds are at least Debounce apart and signal an integration once each, so the burst costs at most one
	// signal per 50ms it lasted, plus the rounds that close it (one more for notifications still in flight).
	limit := int(took/defaultDebounce) + 3
	t.Logf("50 updates in %v gave %d signal(s) (limit %d)", took, n, limit)
	require.LessOrEqual(t, n, limit)
	require.Less(t, n, 50)
	// The last signal comes after the last change, so the workflow sees the whole burst.
	calls := tc.all()
	require.True(t, calls[len(calls)-1].at.After(began.Add(took)), "no signal after the burst ended")
}

func TestPendingBeforeStartIsSignalled(t *testing.T) {
	f := setup(t)
	// The case creation left a row; a second integration with a pending row must be signalled too.
	uid, err := f.st.AddCRMUser(context.Background(), "other@example.com", "Other")
	require.NoError(t, err)
	other, err := f.st.CreateIntegration(context.Background(), &store.Integration{Name: "globex",
		URL: "https://globex.zendesk.com", Email: "agent@globex.com", TokenEnc: []byte{1}, OwnerUserID: uid,
		TwoWay: true, Priority: "remote", IntervalSeconds: 300})
	require.NoError(t, err)
	_, err = f.st.CreateCase(context.Background(), store.LocalCase{IntegrationID: other, Subject: "x",
		Status: "open", Priority: "low"})
	require.NoError(t, err)
	require.Equal(t, 2, f.pending(t))

	tc := &fakeTemporal{}
	start(t, newRelay(f, tc))
	tc.waitCount(t, f.wid, 1, 5*time.Second, "pending changes must be signalled at start")
	tc.waitCount(t, contract.IntegrationWorkflowID(other), 1, 5*time.Second, "pending changes must be signalled at start")
}

func TestRescanInterval(t *testing.T) {
	f := setup(t) // one pending row, never processed here
	tc := &fakeTemporal{}
	r := newRelay(f, tc)
	r.Rescan = 300 * time.Millisecond
	start(t, r)
	// The start scan gives one signal, then each rescan one more while the row stays pending.
	tc.waitCount(t, f.wid, 3, 5*time.Second, "the safety-net scan must repeat")
}

// TestSurvivesDroppedConnections cuts every connection of the database and keeps new ones out for a while, makes
// a change meanwhile (its NOTIFY reaches nobody), then lets connections in again: the relay must reconnect, find
// the change by its reconnect scan, and LISTEN again.
func TestSurvivesDroppedConnections(t *testing.T) {
	f := setup(t)
	f.markProcessed(t)
	tc := &fakeTemporal{}
	start(t, newRelay(f, tc))
	f.waitListening(t)
	time.Sleep(200 * time.Millisecond)
	require.Zero(t, tc.count(f.wid))

	ctx := context.Background()
	admin, err := sql.Open("postgres", testdb.AdminURL())
	require.NoError(t, err)
	defer admin.Close()
	var dbname string
	require.NoError(t, f.st.DB.Get(&dbname, `SELECT current_database()`))
	// One connection of ours survives, to make the change while the relay is cut off.
	writer, err := f.st.DB.Conn(ctx)
	require.NoError(t, err)
	defer writer.Close()
	var writerPID int
	require.NoError(t, writer.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&writerPID))

	_, err = admin.Exec(`ALTER DATABASE ` + dbname + ` ALLOW_CONNECTIONS false`)
	require.NoError(t, err)
	reopened := false
	reopen := func() {
		if !reopened {
			reopened = true
			_, err := admin.Exec(`ALTER DATABASE ` + dbname + ` ALLOW_CONNECTIONS true`)
			require.NoError(t, err)
		}
	}
	defer reopen()
	var killed int
	require.NoError(t, admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid() AND pid <> $2`, dbname, writerPID).Scan(&killed))
	require.GreaterOrEqual(t, killed, 1, "the relay's LISTEN connection should have been terminated")

	f.comment(t, writer, "made while the relay was cut off")
	time.Sleep(time.Second)
	require.Zero(t, tc.count(f.wid), "nobody was listening: the change cannot have been signalled yet")

	reopen()
	tc.waitCount(t, f.wid, 1, 15*time.Second, "the reconnect scan must find the change made while disconnected")

	// LISTEN is back: a change only its notification reveals is signalled too. The reconnect scan ran after
	// the new LISTEN, so there is no gap.
	before := tc.count(f.wid)
	f.commentNotifyOnly(t, writer, "after the reconnect")
	tc.waitCount(t, f.wid, before+1, 5*time.Second, "notifications must flow again after a reconnect")
}

func TestNotFoundIsTolerated(t *testing.T) {
	f := setup(t) // one pending row
	tc := &fakeTemporal{errFor: func(int, string) error { return serviceerror.NewNotFound("workflow not found") }}
	start(t, newRelay(f, tc))
	tc.waitCount(t, f.wid, 1, 5*time.Second, "the pending change must be signalled")
	time.Sleep(time.Second)
	require.Equal(t, 1, tc.count(f.wid), "a missing workflow is not an error to retry")

	// The relay is still at work.
	f.comment(t, f.st.DB, "again")
	tc.waitCount(t, f.wid, 2, 3*time.Second, "the relay must keep going after NotFound")
}

func TestSignalErrorIsRetried(t *testing.T) {
	f := setup(t) // one pending row
	tc := &fakeTemporal{errFor: func(n int, _ string) error {
		if n == 1 {
			return serviceerror.NewUnavailable("frontend restarting")
		}
		return nil
	}}
	start(t, newRelay(f, tc)) // no rescan soon: the retry must come from the failure itself
	tc.waitCount(t, f.wid, 2, 5*time.Second, "a failed signal must be retried")
}

func TestFailedScanIsRetried(t *testing.T) {
	f := setup(t) // one pending row
	// The scan's query fails until the table is back: the start scan must be retried, not dropped until the next
	// rescan.
	_, err := f.st.DB.Exec(`ALTER TABLE outbox RENAME TO outbox_away`)
	require.NoError(t, err)
	tc := &fakeTemporal{}
	start(t, newRelay(f, tc))
	f.waitListening(t)
	time.Sleep(300 * time.Millisecond)
	require.Zero(t, tc.count(f.wid))
	_, err = f.st.DB.Exec(`ALTER TABLE outbox_away RENAME TO outbox`)
	require.NoError(t, err)
	tc.waitCount(t, f.wid, 1, 5*time.Second, "a failed scan must be retried")
}

func TestRunRequiresConfig(t *testing.T) {
	err := (&Relay{}).Run(context.Background())
	require.Error(t, err)
	require.False(t, errors.Is(err, context.Canceled))
}

// testLogger sends the relay's logs to the test output, and drops what comes after the test ended (pq's
// goroutines may outlive Run by a moment).
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(p[:len(p)-1]))
	}
	return len(p), nil
}

// Rows that cannot be pushed (credentials rejected, two-way switched off) are parked: the relay's rescans no longer
// signal them, a change recorded while parked is parked too and wakes nobody, and saving the integration's settings
// resumes them with one wake-up.
func TestParkedRowsAreNotSignalledAgainUntilTheyResume(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	tc := &fakeTemporal{}
	r := newRelay(f, tc)
	r.Rescan = 200 * time.Millisecond // (its pings hide the LISTEN from waitListening: the start scan stands in)
	start(t, r)
	tc.waitCount(t, f.wid, 1, 5*time.Second, "the pending row is signalled")

	require.NoError(t, f.st.ParkOutbox(ctx, f.integ, "credentials rejected by Zendesk", true))
	f.comment(t, f.st.DB, "made while parked")
	var parked int
	require.NoError(t, f.st.DB.Get(&parked, `SELECT count(*) FROM outbox WHERE processed_at IS NULL AND parked_at IS NOT NULL`))
	require.Equal(t, 2, parked, "the change made while parked is parked as it is recorded")
	time.Sleep(time.Second) // a signal already on its way may still land
	before := tc.count(f.wid)
	time.Sleep(2 * time.Second) // ten rescans
	require.Equal(t, before, tc.count(f.wid), "parked rows are not signalled again")

	fs, err := f.st.Failures(ctx, f.integ)
	require.NoError(t, err)
	require.Len(t, fs, 1)
	require.Equal(t, "parked", fs[0].Kind)
	require.Contains(t, fs[0].Reason, "2 local change(s) not pushed yet: credentials rejected by Zendesk")

	in, err := f.st.Integration(ctx, f.integ)
	require.NoError(t, err)
	require.NoError(t, f.st.UpdateIntegration(ctx, in), "saving the settings (e.g. new credentials)")
	tc.waitCount(t, f.wid, before+1, 5*time.Second, "resumed rows wake the workflow")
	require.Equal(t, 2, f.pending(t))
	require.NoError(t, f.st.DB.Get(&parked, `SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL`))
	require.Zero(t, parked)

	// Two-way switched off parks them again; switched back on resumes them.
	in.TwoWay = false
	require.NoError(t, f.st.UpdateIntegration(ctx, in))
	require.NoError(t, f.st.DB.Get(&parked, `SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL
		AND park_reason = 'two-way sync is switched off'`))
	require.Equal(t, 2, parked)
	time.Sleep(time.Second)
	before = tc.count(f.wid)
	time.Sleep(2 * time.Second)
	require.Equal(t, before, tc.count(f.wid), "rows parked by two-way off are not signalled")
	in.TwoWay = true
	require.NoError(t, f.st.UpdateIntegration(ctx, in))
	tc.waitCount(t, f.wid, before+1, 5*time.Second, "switching two-way on resumes them")
}
