package store

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/zendesk"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// hammer runs two clients of one account (as two workers would: separate clients, each with its own pacer) with
// four goroutines each, sending requests for d, and returns how many requests the simulator answered 429 and 200.
func hammer(t *testing.T, limiter zendesk.SharedLimiter, d time.Duration) (limited, ok int) {
	t.Helper()
	s := sim.New(sim.Options{Seed: 1, Tickets: 50, Email: "agent@example.com", Token: "secret",
		RateLimit: 20, RateWindow: 2 * time.Second})
	hs := httptest.NewServer(s)
	defer hs.Close()
	s.SetBaseURL(hs.URL)

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		cfg := zendesk.Config{URL: hs.URL, Email: "agent@example.com", Token: "secret", RetryBackoff: 10 * time.Millisecond}
		if limiter != nil {
			cfg.Limiter = limiter
		}
		c, err := zendesk.New(cfg)
		require.NoError(t, err)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					_, _ = c.SearchUsersByEmail(ctx, "nobody@example.com")
				}
			}()
		}
	}
	wg.Wait()
	for _, r := range s.Requests() {
		switch r.Status {
		case 429:
			limited++
		case 200:
			ok++
		}
	}
	return limited, ok
}

// Two workers' clients of one account at its limit (20 requests per 2 s window), sharing the budget in PostgreSQL,
// draw no 429: the budget is reserved before each request, whichever process sends it. Without the shared budget
// the same load draws 429s (each client learns the window is spent only from its own responses).
func TestSharedBudgetKeepsTwoWorkersWithinTheAccountLimit(t *testing.T) {
	st := open(t)
	const run = 5 * time.Second // two full windows and a part
	limited, ok := hammer(t, st.RateLimits(), run)
	t.Logf("shared budget: %d requests answered, %d 429s", ok, limited)
	require.Zero(t, limited, "no 429 with a shared budget")
	require.GreaterOrEqual(t, ok, 40, "the budget is used, not just avoided: at least two windows' worth")
	require.LessOrEqual(t, ok, 60, "never more than three windows' worth")

	budgets, err := st.RateLimits().RateBudgets(context.Background())
	require.NoError(t, err)
	require.Len(t, budgets, 1)
	require.Equal(t, 20, budgets[0].Limit)

	limited, ok = hammer(t, nil, run)
	t.Logf("each client alone: %d requests answered, %d 429s", ok, limited)
	require.Positive(t, limited, "the control run must show the problem the shared budget solves")
}

// A 429 drawn by one worker holds the other back for its Retry-After.
func TestBlockHoldsEveryReserver(t *testing.T) {
	st := open(t)
	rl := st.RateLimits()
	ctx := context.Background()
	keys := []string{"https://acme.zendesk.com", "https://acme.zendesk.com incremental-exports"}
	d, err := rl.Reserve(ctx, keys)
	require.NoError(t, err)
	require.Zero(t, d)
	require.NoError(t, rl.Block(ctx, keys[1:], 3*time.Second))
	d, err = rl.Reserve(ctx, keys)
	require.NoError(t, err)
	require.InDelta(t, 3, d.Seconds(), 0.5, "an export waits for the export family's Retry-After")
	d, err = rl.Reserve(ctx, keys[:1])
	require.NoError(t, err)
	require.Zero(t, d, "a request outside the family is not held back")

	// A spent window waits for its end, then starts afresh.
	require.NoError(t, rl.Observe(ctx, keys[0], 10, 0, 1500*time.Millisecond))
	d, err = rl.Reserve(ctx, keys[:1])
	require.NoError(t, err)
	require.InDelta(t, 1.5, d.Seconds(), 0.5)
	time.Sleep(d + 50*time.Millisecond)
	d, err = rl.Reserve(ctx, keys[:1])
	require.NoError(t, err)
	require.Zero(t, d, "a new window")
}
