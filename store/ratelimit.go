package store

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// RateLimits keeps Zendesk accounts' rate-limit budgets in PostgreSQL (table zendesk_rate_limits), so every worker
// process spends one shared budget per account and a 429 seen by one holds back the others. It implements
// zendesk.SharedLimiter; keys are the client's bucket names (the account URL, plus an endpoint family).
type RateLimits struct{ s *Store }

// RateLimits returns the shared rate-limit budgets of this database.
func (s *Store) RateLimits() *RateLimits { return &RateLimits{s: s} }

// Reserve counts one request against every bucket in keys and returns 0, or returns how long to wait before asking
// again and counts nothing.
func (r *RateLimits) Reserve(ctx context.Context, keys []string) (time.Duration, error) {
	var secs float64
	if err := r.s.DB.QueryRowContext(ctx, `SELECT zs_rate_reserve($1)`, pq.Array(keys)).Scan(&secs); err != nil {
		return 0, fmt.Errorf("reserve a Zendesk request in the shared rate-limit budget: %w", err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// Observe records what Zendesk said about one bucket: its limit, what remains of it, and when it resets.
func (r *RateLimits) Observe(ctx context.Context, key string, limit, remaining int, reset time.Duration) error {
	if _, err := r.s.DB.ExecContext(ctx, `SELECT zs_rate_observe($1, $2, $3, $4)`, key, limit, remaining,
		reset.Seconds()); err != nil {
		return fmt.Errorf("record Zendesk's rate-limit headers in the shared budget: %w", err)
	}
	return nil
}

// Block holds every bucket in keys for d (a 429's Retry-After); it never shortens a longer block.
func (r *RateLimits) Block(ctx context.Context, keys []string, d time.Duration) error {
	_, err := r.s.DB.ExecContext(ctx, `INSERT INTO zendesk_rate_limits AS z (key, blocked_until)
		SELECT k, clock_timestamp() + make_interval(secs => $2) FROM unnest($1::text[]) AS k
		ON CONFLICT (key) DO UPDATE SET blocked_until = greatest(z.blocked_until, excluded.blocked_until),
			updated_at = clock_timestamp()`, pq.Array(keys), d.Seconds())
	if err != nil {
		return fmt.Errorf("record a Zendesk rate-limit pause in the shared budget: %w", err)
	}
	return nil
}

// RateBudget is one bucket's state, for metrics.
type RateBudget struct {
	Key       string `db:"key"`
	Limit     int    `db:"limit"` // 0: not known yet
	Remaining int    `db:"remaining"`
	Blocked   bool   `db:"blocked"` // a Retry-After still holds it
}

// RateBudgets lists the buckets seen within the last hour with what is left of their current window.
func (r *RateLimits) RateBudgets(ctx context.Context) ([]RateBudget, error) {
	var out []RateBudget
	err := r.s.DB.SelectContext(ctx, &out, `SELECT key AS "key", coalesce(limit_total, 0) AS "limit",
		CASE WHEN window_ends IS NOT NULL AND window_ends <= clock_timestamp() THEN coalesce(limit_total, 0)
			ELSE greatest(coalesce(limit_total, 0) - used, 0) END AS "remaining",
		coalesce(blocked_until > clock_timestamp(), false) AS "blocked"
		FROM zendesk_rate_limits WHERE updated_at > now() - interval '1 hour' ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("read the shared rate-limit budgets: %w", err)
	}
	return out, nil
}
