package workerapp

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/config"
	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
)

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
	w := &syncWriter{w: &logs}
	go func() {
		defer close(done)
		prune(pctx, st, store.PruneOptions{Retention: 30 * 24 * time.Hour}, slog.New(slog.NewTextHandler(w, nil)))
	}()
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, st.DB.Get(&n, `SELECT count(*) FROM conflicts`))
		// The log line follows the commit: stopping between the two would lose it, not the prune.
		return n == 1 && w.contains("pruned expired bookkeeping")
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

func (s *syncWriter) contains(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.w.(*bytes.Buffer)
	return ok && strings.Contains(b.String(), sub)
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// A metrics address already taken stops the worker with an error naming it, before it connects anywhere.
func TestWorkerRefusesATakenMetricsAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	key, err := secrets.ParseKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	require.NoError(t, err)
	err = Run(context.Background(), Config{Config: config.Config{DatabaseURL: "postgres://127.0.0.1:1/none"},
		MetricsAddr: ln.Addr().String()}, Deps{Key: key, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "serve metrics on "+ln.Addr().String())
	assert.Contains(t, err.Error(), "address already in use")
}
