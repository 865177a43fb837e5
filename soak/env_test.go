package soak

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/server/temporaltest"

	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/workflows"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

const (
	testKey   = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	simEmail  = "agent@example.com"
	simToken  = "secret-token-soak-51c2"
	taskQueue = "zendesk-sync"
	ownerMail = "owner@example.com"
)

var (
	flagMinutes = flag.Float64("soak.minutes", 0, "minutes of noise (env SOAK_MINUTES; default: a 40 s run)")
	flagWorkers = flag.Int("soak.workers", 0, "worker processes, 1 or 2 (env SOAK_WORKERS; default 2)")
	flagSeed    = flag.Int64("soak.seed", 0, "seed of every random choice (env SOAK_SEED; default 1)")
)

// config is one soak run's shape.
type config struct {
	noise    time.Duration
	workers  int
	seed     int64
	tickets  int // tickets per simulator
	working  int // tickets per integration the noise edits
	interval time.Duration
	logDir   string
}

func loadConfig(t *testing.T) config {
	t.Helper()
	c := config{noise: 40 * time.Second, workers: 2, seed: 1, tickets: 300}
	if v := os.Getenv("SOAK_MINUTES"); v != "" {
		m, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err, "SOAK_MINUTES=%q is not a number of minutes", v)
		c.noise = time.Duration(m * float64(time.Minute))
	}
	if *flagMinutes > 0 {
		c.noise = time.Duration(*flagMinutes * float64(time.Minute))
	}
	if v := os.Getenv("SOAK_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "SOAK_WORKERS=%q is not a number", v)
		c.workers = n
	}
	if *flagWorkers > 0 {
		c.workers = *flagWorkers
	}
	if c.workers < 1 || c.workers > 2 {
		t.Fatalf("SOAK_WORKERS / -soak.workers must be 1 or 2, not %d", c.workers)
	}
	if v := os.Getenv("SOAK_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err, "SOAK_SEED=%q is not a number", v)
		c.seed = n
	}
	if *flagSeed != 0 {
		c.seed = *flagSeed
	}
	require.Greater(t, c.noise, time.Duration(0), "the noise must last a while")
	// More tickets for longer runs, so the per-ticket edit rate (and Zendesk's per-ticket update limit) stays
	// about the same whatever the duration.
	c.working = min(150, 30+int(c.noise.Minutes()*12))
	c.tickets = max(c.tickets, 2*c.working+100)
	c.logDir = os.Getenv("SOAK_LOGDIR")
	if c.logDir == "" {
		c.logDir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(c.logDir, 0o755))
	return c
}

// harness is the stack under test: Temporal, PostgreSQL, the simulators, the worker processes and the binaries.
type harness struct {
	t        *testing.T
	ctx      context.Context
	cfg      config
	ts       *temporaltest.TestServer
	dbURL    string
	dbName   string
	st       *store.Store
	db       *sqlx.DB
	admin    *sql.DB
	ctl      *control.Control
	bins     map[string]string
	procEnv  []string
	workers  *workers
	integs   []*integ
	counters *counters
}

func newHarness(t *testing.T, cfg config) *harness {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.noise+40*time.Minute)
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, cfg: cfg, counters: &counters{}}

	// Build the real binaries while the rest starts.
	var wg sync.WaitGroup
	h.bins = map[string]string{}
	var buildErr [2]error
	dir := t.TempDir()
	for i, name := range []string{"worker", "starter"} {
		h.bins[name] = filepath.Join(dir, name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("go", "build", "-o", h.bins[name], "../"+name)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				buildErr[i] = fmt.Errorf("build %s: %v\n%s", name, err, out.String())
			}
		}()
	}

	h.ts = temporaltest.NewServer(temporaltest.WithT(t))
	_, err := h.ts.GetDefaultClient().OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: h.ts.GetDefaultNamespace(),
		SearchAttributes: map[string]enumspb.IndexedValueType{
			workflows.IntegrationKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			workflows.PhaseKey.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		},
	})
	require.NoError(t, err)
	h.dbURL = testdb.New(t)
	u, err := url.Parse(h.dbURL)
	require.NoError(t, err)
	h.dbName = strings.TrimPrefix(u.Path, "/")
	h.st, err = store.Open(ctx, h.dbURL, 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { h.st.Close() })
	h.db = h.st.DB
	h.admin, err = sql.Open("postgres", testdb.AdminURL())
	require.NoError(t, err)
	t.Cleanup(func() { h.admin.Close() })
	key, err := secrets.ParseKey(testKey)
	require.NoError(t, err)
	h.ctl = &control.Control{Store: h.st, Temporal: h.ts.GetDefaultClient(), TaskQueue: taskQueue, Key: key}
	_, err = h.db.ExecContext(ctx, journalSQL)
	require.NoError(t, err, "install the soak journal")

	h.procEnv = append(os.Environ(), "DATABASE_URL="+h.dbURL, "TEMPORAL_ADDRESS="+h.ts.GetFrontendHostPort(),
		"TEMPORAL_NAMESPACE="+h.ts.GetDefaultNamespace(), "TASK_QUEUE="+taskQueue, "ZENDESK_SYNC_SECRET_KEY="+testKey)
	wg.Wait()
	for _, err := range buildErr {
		require.NoError(t, err)
	}
	h.workers = &workers{h: h, procs: make([]*proc, cfg.workers)}
	t.Cleanup(h.workers.stopAll)
	return h
}

// journalSQL records every change of the soaked case fields, whoever makes it, with the value it overwrote and
// whether the sync made it (the sync's transactions set zendesk_sync.origin = 'sync'). It is the test's own
// instrument: CRM edits whose command failed half-way are known for sure, and an edit's "previous value" is
// exactly what the row held when it was written.
const journalSQL = `
CREATE TABLE soak_journal (
    id        bigserial PRIMARY KEY,
    case_id   bigint NOT NULL,
    field     text NOT NULL,
    old_value text,
    new_value text,
    by_sync   boolean NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION soak_journal_case() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sync boolean := coalesce(current_setting('zendesk_sync.origin', true), '') = 'sync';
BEGIN
    IF NEW.subject IS DISTINCT FROM OLD.subject THEN
        INSERT INTO soak_journal (case_id, field, old_value, new_value, by_sync) VALUES (NEW.id, 'subject', OLD.subject, NEW.subject, sync);
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO soak_journal (case_id, field, old_value, new_value, by_sync) VALUES (NEW.id, 'status', OLD.status, NEW.status, sync);
    END IF;
    IF NEW.priority IS DISTINCT FROM OLD.priority THEN
        INSERT INTO soak_journal (case_id, field, old_value, new_value, by_sync) VALUES (NEW.id, 'priority', OLD.priority, NEW.priority, sync);
    END IF;
    IF NEW.assigned_to_user_id IS DISTINCT FROM OLD.assigned_to_user_id THEN
        INSERT INTO soak_journal (case_id, field, old_value, new_value, by_sync) VALUES (NEW.id, 'assigned_to',
            OLD.assigned_to_user_id::text, NEW.assigned_to_user_id::text, sync);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER soak_journal_case AFTER UPDATE ON cases FOR EACH ROW EXECUTE FUNCTION soak_journal_case();
`

// newSim serves a simulator over real HTTP.
func (h *harness) newSim(seed int64) (*sim.Server, string) {
	s := sim.New(sim.Options{Seed: seed, Tickets: h.cfg.tickets, Email: simEmail, Token: simToken, TicketUpdateLimit: -1})
	hs := httptest.NewServer(s)
	h.t.Cleanup(hs.Close)
	s.SetBaseURL(hs.URL)
	return s, hs.URL
}

// starter runs the real starter binary; its output and error are returned, never fatal (the noise expects
// failures while PostgreSQL connections are cut).
func (h *harness) starter(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(h.ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.bins["starter"], args...)
	cmd.Env = h.procEnv
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return out.String(), fmt.Errorf("starter %s: still running after %s, stopped by the soak: %s", strings.Join(args, " "),
			timeout, strings.TrimSpace(errOut.String()))
	}
	if err != nil {
		return out.String(), fmt.Errorf("starter %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// workers runs the real worker binary, one or two processes, and kills them on demand.
type workers struct {
	h      *harness
	mu     sync.Mutex
	procs  []*proc
	starts int
	logs   []string
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (w *workers) start(i int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.procs[i] != nil {
		return
	}
	w.starts++
	path := filepath.Join(w.h.cfg.logDir, fmt.Sprintf("worker-%d-%03d.log", i, w.starts))
	f, err := os.Create(path)
	if err != nil {
		panic(fmt.Sprintf("worker log: %v", err))
	}
	cmd := exec.Command(w.h.bins["worker"], "-metrics-addr=", "-per-page", "100")
	cmd.Env = w.h.procEnv
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		panic(fmt.Sprintf("start the worker binary: %v", err))
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	w.procs[i] = p
	w.logs = append(w.logs, path)
}

func (w *workers) startAll() {
	for i := range w.procs {
		w.start(i)
	}
}

// kill sends SIGKILL: no graceful stop, activities in flight are lost mid-way.
func (w *workers) kill(i int) bool {
	w.mu.Lock()
	p := w.procs[i]
	w.procs[i] = nil
	w.mu.Unlock()
	if p == nil {
		return false
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	return true
}

func (w *workers) stopAll() {
	for i := range w.procs {
		w.kill(i)
	}
}

// errorLines returns the worker log lines at level ERROR or WARN, the last n of them.
func (w *workers) errorLines(n int) []string {
	w.mu.Lock()
	paths := append([]string(nil), w.logs...)
	w.mu.Unlock()
	var out []string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if l := sc.Text(); strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
				out = append(out, filepath.Base(p)+": "+l)
			}
		}
		f.Close()
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// cutConnections terminates every PostgreSQL connection to the test database: the workers', the relays', the
// starter's and this test's own.
func (h *harness) cutConnections() (int, error) {
	var n int
	err := h.admin.QueryRowContext(h.ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, h.dbName).Scan(&n)
	return n, err
}

// retry runs a read that may meet a connection cut by the noise.
func retry[T any](ctx context.Context, what string, fn func() (T, error)) (T, error) {
	var err error
	var v T
	for i := 0; i < 30; i++ {
		if v, err = fn(); err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return v, fmt.Errorf("%s: %w", what, err)
}
