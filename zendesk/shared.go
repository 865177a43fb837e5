package zendesk

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// SharedLimiter shares an account's rate-limit budget between processes. Zendesk limits requests per account (and
// per export endpoint family), however many workers send them: with a SharedLimiter every Client of the account,
// in any process, reserves each request in one budget, and a 429 one of them draws holds back all of them. The
// client names the buckets (see bucketKeys); the store keeps them (store.RateLimits), so this package needs no
// database. A Client without one paces itself alone (its own pacer still applies either way).
type SharedLimiter interface {
	// Reserve counts one request against every bucket in keys and returns 0, or returns how long to wait before
	// asking again (a bucket is spent or blocked) and counts nothing.
	Reserve(ctx context.Context, keys []string) (time.Duration, error)
	// Observe records what a response said about one bucket: its limit, what remains, when it resets.
	Observe(ctx context.Context, key string, limit, remaining int, reset time.Duration) error
	// Block holds every bucket in keys for d (a 429's Retry-After).
	Block(ctx context.Context, keys []string, d time.Duration) error
}

// exportFamily is the endpoint family of Zendesk's incremental exports, which have a budget of their own
// (header Zendesk-RateLimit-Incremental-Exports) besides the account's.
const exportFamily = "incremental-exports"

// bucket is one limit a response described.
type bucket struct {
	key              string
	limit, remaining int
	reset            time.Duration
}

// bucketKeys names the budgets a request spends: the account's, and for an export its family's too. The key is the
// account URL, which is not secret.
func (c *Client) bucketKeys(r *request) []string {
	if strings.Contains(r.endpoint(), "/api/v2/incremental/") {
		return []string{c.base, c.base + " " + exportFamily}
	}
	return []string{c.base}
}

// reserveShared waits until the shared budget grants the request. A limiter that fails (PostgreSQL unreachable) is
// logged and bypassed: the client's own pacing still holds, and the request's other work will meet the same outage.
func (c *Client) reserveShared(ctx context.Context, r *request) error {
	if c.limiter == nil {
		return nil
	}
	keys := c.bucketKeys(r)
	for {
		d, err := c.limiter.Reserve(ctx, keys)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.log.WarnContext(ctx, "zendesk: shared rate-limit budget unavailable; pacing this process alone",
				"error", err)
			return nil
		}
		if d <= 0 {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok && dl.Before(time.Now().Add(d)) {
			return &RateLimitError{RetryAfter: d, Message: "the account's shared rate-limit budget is spent beyond the context deadline"}
		}
		if c.hooks.Wait != nil {
			c.hooks.Wait(d)
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// sharedBuckets reads the limits a response describes, among those the request spends.
func (c *Client) sharedBuckets(r *request, h http.Header) []bucket {
	var out []bucket
	limit, okL := parseInt(firstHeader(h, "X-Rate-Limit", "Ratelimit-Limit"))
	remaining, okR := parseInt(firstHeader(h, "X-Rate-Limit-Remaining", "Ratelimit-Remaining"))
	if okL && okR {
		reset, known := parseSeconds(h.Get("Ratelimit-Reset"))
		if !known {
			reset = unknownResetWait
		}
		out = append(out, bucket{key: c.base, limit: limit, remaining: remaining, reset: reset})
	}
	if keys := c.bucketKeys(r); len(keys) > 1 {
		if v := h.Get("Zendesk-Ratelimit-" + exportFamily); v != "" {
			if total, rem, reset, known, ok := parseZendeskRateLimit(v); ok && total > 0 {
				if !known {
					reset = unknownResetWait
				}
				out = append(out, bucket{key: keys[1], limit: total, remaining: rem, reset: reset})
			}
		}
	}
	return out
}

// observeShared records a response's rate-limit headers in the shared budget.
func (c *Client) observeShared(ctx context.Context, r *request, h http.Header) {
	if c.limiter == nil {
		return
	}
	for _, b := range c.sharedBuckets(r, h) {
		if c.hooks.Budget != nil {
			c.hooks.Budget(b.key, b.limit, b.remaining)
		}
		if err := c.limiter.Observe(ctx, b.key, b.limit, b.remaining, b.reset); err != nil && ctx.Err() == nil {
			c.log.WarnContext(ctx, "zendesk: could not record rate-limit headers in the shared budget", "error", err)
		}
	}
}

// blockShared holds the other workers back after a 429: the buckets its headers show spent, or, when they describe
// none, every bucket the request spends. A 429 whose headers show budget left (Zendesk's per-ticket update limit)
// concerns one ticket, not the account: it blocks nothing shared.
func (c *Client) blockShared(ctx context.Context, r *request, h http.Header, d time.Duration) {
	if c.limiter == nil {
		return
	}
	bs := c.sharedBuckets(r, h)
	keys := []string{}
	for _, b := range bs {
		if b.remaining <= 0 {
			keys = append(keys, b.key)
		}
	}
	if len(bs) == 0 {
		keys = c.bucketKeys(r)
	}
	if len(keys) == 0 {
		return
	}
	if err := c.limiter.Block(ctx, keys, d); err != nil && ctx.Err() == nil {
		c.log.WarnContext(ctx, "zendesk: could not record a rate-limit pause in the shared budget", "error", err)
	}
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}
