package e2e

import (
	"database/sql"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// buildWorker compiles the worker binary once per test run.
func buildWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "worker")
	cmd := exec.Command("go", "build", "-o", bin, "../worker")
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Run(), "build the worker binary")
	return bin
}

// startWorkerProcess runs the real worker binary against this env's Temporal server and database.
func (e *env) startWorkerProcess(bin string) *exec.Cmd {
	e.t.Helper()
	cmd := exec.Command(bin, "-metrics-addr=", "-per-page", "100")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+e.dbURL, "TEMPORAL_ADDRESS="+e.ts.GetFrontendHostPort(),
		"TEMPORAL_NAMESPACE="+e.ts.GetDefaultNamespace(), "TASK_QUEUE="+taskQueue, "ZENDESK_SYNC_SECRET_KEY="+testKey)
	cmd.Stdout, cmd.Stderr = e.logs, e.logs
	require.NoError(e.t, cmd.Start())
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	return cmd
}

func TestWorkerKilledMidFirstSyncLosesAndDuplicatesNothing(t *testing.T) {
	e := newEnv(t, withoutWorker())
	bin := buildWorker(t)
	s, url := newSim(t, sim.Options{Seed: 9, Tickets: 2500, Slow: 30 * time.Millisecond})
	w1 := e.startWorkerProcess(bin)
	e.integration("crash", url, nil)
	require.Eventually(t, func() bool { return e.count(`SELECT count(*) FROM zd_tickets`) >= 800 },
		3*time.Minute, 50*time.Millisecond, "the first sync should make progress")
	require.NoError(t, w1.Process.Signal(syscall.SIGKILL))
	_, _ = w1.Process.Wait()
	mid := e.count(`SELECT count(*) FROM zd_tickets`)
	require.Less(t, mid, 2500, "the worker was killed in the middle of the first sync")

	e.startWorkerProcess(bin)
	p := e.firstSyncDone("crash")
	assert.Nil(t, p.LastError)
	stats := s.Stats()
	assert.Equal(t, stats.Tickets, e.count(`SELECT count(*) FROM zd_tickets`), "no ticket lost")
	assert.Equal(t, stats.LiveTickets, e.count(`SELECT count(*) FROM cases`), "no case duplicated or lost")
	assert.Equal(t, e.count(`SELECT count(*) FROM zd_comments c JOIN zd_tickets t ON t.integration_id=c.integration_id
		AND t.zendesk_id=c.ticket_id WHERE t.case_id IS NOT NULL`), e.count(`SELECT count(*) FROM case_comments`))
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM (SELECT case_id, body, created_at FROM case_comments
		GROUP BY 1,2,3 HAVING count(*) > 1) d`), "no comment duplicated")
}

func TestPostgresUnavailableForAWhileTheSyncWaitsAndResumes(t *testing.T) {
	e := newEnv(t, withPerPage(100))
	s, url := newSim(t, sim.Options{Seed: 10, Tickets: 1500, Slow: 20 * time.Millisecond})
	u, err := parseURL(e.dbURL)
	require.NoError(t, err)
	dbName := strings.TrimPrefix(u.Path, "/")
	admin, err := sql.Open("postgres", testdb.AdminURL())
	require.NoError(t, err)
	defer admin.Close()

	e.integration("pgdown", url, nil)
	require.Eventually(t, func() bool { return e.count(`SELECT count(*) FROM zd_tickets`) >= 300 },
		3*time.Minute, 50*time.Millisecond)
	// Refuse new connections to this test's database and drop the open ones: to the worker, PostgreSQL is down.
	_, err = admin.Exec(`ALTER DATABASE ` + dbName + ` ALLOW_CONNECTIONS false`)
	require.NoError(t, err)
	_, err = admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, dbName)
	require.NoError(t, err)
	time.Sleep(6 * time.Second)
	_, err = admin.Exec(`ALTER DATABASE ` + dbName + ` ALLOW_CONNECTIONS true`)
	require.NoError(t, err)

	p := e.waitProgress("pgdown", 5*time.Minute, func(p control.ProgressView) bool { return p.FirstSyncDone })
	assert.Nil(t, p.LastError)
	stats := s.Stats()
	assert.Equal(t, stats.Tickets, e.count(`SELECT count(*) FROM zd_tickets`))
	assert.Equal(t, stats.LiveTickets, e.count(`SELECT count(*) FROM cases`))
}

func parseURL(s string) (*url.URL, error) { return url.Parse(s) }
