package e2e

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// startWorkerProcessLogged is startWorkerProcess with the process's own log (stdout and stderr), so a test can
// read exactly what the worker printed, and extra environment.
func (e *env) startWorkerProcessLogged(bin string, extraEnv ...string) (*exec.Cmd, *logSink) {
	e.t.Helper()
	logs := &logSink{}
	cmd := exec.Command(bin, "-metrics-addr=127.0.0.1:0", "-per-page", "100")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+e.dbURL, "TEMPORAL_ADDRESS="+e.ts.GetFrontendHostPort(),
		"TEMPORAL_NAMESPACE="+e.ts.GetDefaultNamespace(), "TASK_QUEUE="+taskQueue, "ZENDESK_SYNC_SECRET_KEY="+testKey)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(e.t, cmd.Start())
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	return cmd, logs
}

// TestWorkerStopsGracefullyOnSIGTERM stops a worker in the middle of a first sync of a two-way integration (so
// the outbox relay runs too, with activities in flight against a slow Zendesk) and expects a clean stop: exit
// code 0 within the stop timeout, and no ERROR line in its log. A new worker then finishes the sync, losing
// nothing.
func TestWorkerStopsGracefullyOnSIGTERM(t *testing.T) {
	e := newEnv(t, withoutWorker())
	bin := buildWorker(t)
	s, url := newSim(t, sim.Options{Seed: 11, Tickets: 1500, Slow: 300 * time.Millisecond})
	const stopTimeout = 15 * time.Second
	w1, logs := e.startWorkerProcessLogged(bin, "WORKER_STOP_TIMEOUT="+stopTimeout.String())
	e.integration("graceful", url, func(s *control.IntegrationSpec) { s.TwoWay = true })
	require.Eventually(t, func() bool { return e.count(`SELECT count(*) FROM zd_tickets`) >= 200 },
		3*time.Minute, 50*time.Millisecond, "the first sync should make progress")

	start := time.Now()
	require.NoError(t, w1.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- w1.Wait() }()
	// The stop timeout bounds the wait for activities; the rest of the stop (relay, pruner, metrics server,
	// connections) takes moments. A generous margin keeps a loaded machine from failing the test.
	select {
	case err := <-done:
		require.NoError(t, err, "exit code 0 on SIGTERM; log:\n%s", strings.Join(logs.all(), ""))
	case <-time.After(stopTimeout + 45*time.Second):
		t.Fatalf("the worker did not stop within its stop timeout (%s); log:\n%s", stopTimeout, strings.Join(logs.all(), ""))
	}
	t.Logf("stopped in %s", time.Since(start))
	all := strings.Join(logs.all(), "")
	assert.Contains(t, all, "worker stopped", "the stop is logged")
	assert.NotContains(t, all, "activity cancelled at the stop timeout", "running activities finish within the stop timeout")
	for _, line := range strings.Split(all, "\n") {
		assert.NotContains(t, line, "level=ERROR", "a clean stop logs no error")
	}
	if t.Failed() {
		t.Logf("worker log:\n%s", all)
	}

	e.startWorkerProcess(bin)
	p := e.firstSyncDone("graceful")
	assert.Nil(t, p.LastError)
	stats := s.Stats()
	assert.Equal(t, stats.Tickets, e.count(`SELECT count(*) FROM zd_tickets`), "no ticket lost")
	assert.Equal(t, stats.LiveTickets, e.count(`SELECT count(*) FROM cases`), "no case duplicated or lost")
}

// An activity that outlasts the stop timeout (here a fetch from a Zendesk that answers in 4 s, with a 1 s stop
// timeout) is cancelled when the timeout ends; the worker still exits 0 soon after, logs no error (the cut-short
// activity is a warning: it will be retried), and a new worker finishes the sync.
func TestWorkerStopTimeoutCancelsAnActivityThatTakesTooLongWithoutAnError(t *testing.T) {
	e := newEnv(t, withoutWorker())
	bin := buildWorker(t)
	s, url := newSim(t, sim.Options{Seed: 12, Tickets: 400, Slow: 4 * time.Second})
	w1, logs := e.startWorkerProcessLogged(bin, "WORKER_STOP_TIMEOUT=1s")
	e.integration("slowstop", url, nil)
	// The first page landed; the next fetch is under way (each request takes 4 s).
	require.Eventually(t, func() bool { return e.count(`SELECT count(*) FROM zd_tickets`) >= 100 },
		3*time.Minute, 20*time.Millisecond, "the first sync should make progress")

	require.NoError(t, w1.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- w1.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit code 0 on SIGTERM; log:\n%s", strings.Join(logs.all(), ""))
	case <-time.After(60 * time.Second):
		t.Fatalf("the worker did not stop; log:\n%s", strings.Join(logs.all(), ""))
	}
	all := strings.Join(logs.all(), "")
	assert.Contains(t, all, "activity cancelled at the stop timeout", "the fetch outlasted the 1 s stop timeout")
	assert.Contains(t, all, "worker stopped")
	for _, line := range strings.Split(all, "\n") {
		assert.NotContains(t, line, "level=ERROR", "a clean stop logs no error")
	}

	if t.Failed() {
		t.Logf("worker log:\n%s", all)
	}

	f := s.Faults()
	f.Slow = 0
	s.SetFaults(f)
	e.startWorkerProcess(bin)
	p := e.firstSyncDone("slowstop")
	assert.Nil(t, p.LastError)
	assert.Equal(t, s.Stats().Tickets, e.count(`SELECT count(*) FROM zd_tickets`), "no ticket lost")
}
