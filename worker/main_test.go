package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
)

const (
	helpSecretPassword = "SuperSecret123"
	helpSecretKey      = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

// The worker's help shows where each setting comes from, never a value taken from the environment (DATABASE_URL
// may hold a password), and names the secret-key variables.
func TestWorkerHelpShowsNoSecret(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(helpSecretKey), 0o600))
	env := map[string]string{
		"DATABASE_URL":        "postgres://u:" + helpSecretPassword + "@db.internal/db",
		"TEMPORAL_ADDRESS":    "temporal.internal:7233",
		"TEMPORAL_NAMESPACE":  "ns-from-env",
		"TASK_QUEUE":          "queue-from-env",
		"METRICS_ADDR":        "metrics.internal:9999",
		"WORKER_STOP_TIMEOUT": "77s",
		"RETENTION":           "1234h",
		"LOG_FORMAT":          "json",
		secrets.EnvKey:        helpSecretKey,
		secrets.EnvKeyFile:    keyFile,
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}, {"--no-such-flag"}, {"-stop-timeout", "soon"}} {
		var out bytes.Buffer
		code := run(context.Background(), args, &out)
		text := out.String()
		if args[0] == "--no-such-flag" || args[0] == "-stop-timeout" {
			assert.Equalf(t, exitUsage, code, "%v: %s", args, text)
		} else {
			assert.Equalf(t, 0, code, "%v: %s", args, text)
		}
		for _, name := range []string{"$DATABASE_URL", "$TEMPORAL_ADDRESS", "$TEMPORAL_NAMESPACE", "$TASK_QUEUE",
			"$METRICS_ADDR", "$WORKER_STOP_TIMEOUT", "$RETENTION", "$LOG_FORMAT", secrets.EnvKey, secrets.EnvKeyFile,
			"-stop-timeout", "-retention"} {
			assert.Containsf(t, text, name, "worker %v names %s", args, name)
		}
		for k, v := range env {
			if k == "LOG_FORMAT" { // "json" is a word of the help itself
				continue
			}
			assert.NotContainsf(t, text, v, "worker %v shows the value of %s", args, k)
		}
	}
}

// A malformed setting in the environment is a clear error naming the variable, before anything connects.
func TestWorkerRejectsAMalformedSetting(t *testing.T) {
	t.Setenv("WORKER_STOP_TIMEOUT", "a while")
	var out bytes.Buffer
	assert.Equal(t, exitUsage, run(context.Background(), nil, &out))
	assert.Contains(t, out.String(), "WORKER_STOP_TIMEOUT")
	assert.Contains(t, out.String(), `"a while"`)
}

// A key file that cannot be read stops the worker before it connects, even with a valid ZENDESK_SYNC_SECRET_KEY:
// the error names the file and never shows the key.
func TestWorkerRefusesABadKeyFileEvenWithTheVariableSet(t *testing.T) {
	dir := t.TempDir()
	malformed := filepath.Join(dir, "malformed")
	require.NoError(t, os.WriteFile(malformed, []byte("not a key\n"), 0o600))
	for _, file := range []string{filepath.Join(dir, "missing"), malformed} {
		t.Setenv(secrets.EnvKey, helpSecretKey)
		t.Setenv(secrets.EnvKeyFile, file)
		// Nothing listens there: were the key file ignored, the worker would go on and fail to connect instead.
		t.Setenv("DATABASE_URL", "postgres://u:"+helpSecretPassword+"@127.0.0.1:1/db?connect_timeout=1")
		var out bytes.Buffer
		code := run(context.Background(), []string{"-metrics-addr="}, &out)
		assert.Equal(t, exitFailure, code, out.String())
		assert.Contains(t, out.String(), file)
		assert.Contains(t, out.String(), secrets.EnvKeyFile)
		assert.NotContains(t, out.String(), "connect to PostgreSQL", "the key is checked first")
		assert.NotContains(t, out.String(), helpSecretKey)
		assert.NotContains(t, out.String(), helpSecretPassword)
		assert.False(t, strings.Contains(out.String(), "panic"))
	}
}

// The worker prunes when it starts (then hourly), and its pruner returns promptly when the worker stops.
func TestWorkerPrunesAtStartAndStopsWithTheWorker(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, testdb.New(t), 0)
	require.NoError(t, err)
	defer st.Close()
	_, err = st.DB.Exec(`WITH u AS (INSERT INTO crm_users (email, name) VALUES ('o@example.com', 'O') RETURNING id),
		i AS (INSERT INTO integrations (name, url, email, token_enc, owner_user_id, priority, interval_seconds)
			SELECT 'x', 'u', 'e', '\x01', id, 'remote', 60 FROM u RETURNING id)
		INSERT INTO conflicts (integration_id, ticket_id, field, winner, decided_at)
		SELECT id, 1, f, 'remote', now() - d::interval FROM i, (VALUES ('old', '40 days'), ('fresh', '1 day')) v(f, d)`)
	require.NoError(t, err)

	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var logs bytes.Buffer
	go func() {
		defer close(done)
		prune(pctx, st, store.PruneOptions{Retention: 30 * 24 * time.Hour}, slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)))
	}()
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, st.DB.Get(&n, `SELECT count(*) FROM conflicts`))
		return n == 1
	}, time.Minute, 50*time.Millisecond, "the old conflict is pruned at start, the fresh one stays")
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the pruner did not stop with the worker")
	}
	assert.Contains(t, logs.String(), "pruned expired bookkeeping")
	assert.Contains(t, logs.String(), "conflicts=1")
	assert.NotContains(t, logs.String(), "level=ERROR", "stopping the pruner is not an error")
}

// syncWriter serialises writes from the pruner's goroutine.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
