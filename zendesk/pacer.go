package zendesk

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// When a limit is exhausted and Zendesk did not say when it resets, wait one window: account limits are per minute.
const unknownResetWait = 60 * time.Second

// pacer holds every request of a Client until a moment Zendesk told us to wait for (Retry-After, or the reset of
// an exhausted limit). It is shared by all goroutines using the Client, so one 429 pauses them all instead of each
// drawing its own 429.
type pacer struct {
	mu        sync.Mutex
	notBefore time.Time
	// resets holds, per limit (header family), the earliest moment it is known to reset by: see resetBound.
	resets map[string]time.Time
}

func newPacer() *pacer { return &pacer{resets: map[string]time.Time{}} }

// resetBound narrows down when a limit resets from one more response. Zendesk gives the reset in whole seconds,
// rounded up, so one response only says the reset falls within the second before now+r: waiting for now+r after
// the response that exhausts the limit wastes half a second per window on average. Every response of the window
// bounds the same moment from a different point in time, so the earliest now+r seen is kept (never earlier than
// the reset: it stays a bound, and the first request after it is not refused). A response whose bound lies a
// whole granule past the kept one, or one received after the kept moment, belongs to a later window and starts
// afresh. A reset with a fraction is exact (granule 0).
func (p *pacer) resetBound(key string, now time.Time, r time.Duration) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	bound := now.Add(r)
	granule := time.Duration(0)
	if r%time.Second == 0 {
		granule = time.Second
	}
	if prev, ok := p.resets[key]; ok && now.Before(prev) && bound.Add(-granule).Before(prev) {
		bound = minTime(bound, prev)
	}
	p.resets[key] = bound
	return bound
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// block holds requests until t (never shortens an existing pause).
func (p *pacer) block(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.After(p.notBefore) {
		p.notBefore = t
	}
}

func (p *pacer) until() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.notBefore
}

// wait returns once requests may be sent. If the pause would outlast ctx's deadline it returns a *RateLimitError
// at once, so a caller with a deadline (a Temporal activity) fails fast and retries later instead of sleeping
// into its timeout.
func (p *pacer) wait(ctx context.Context) error {
	for {
		d := time.Until(p.until())
		if d <= 0 {
			return ctx.Err()
		}
		if dl, ok := ctx.Deadline(); ok && dl.Before(time.Now().Add(d)) {
			return &RateLimitError{RetryAfter: d, Message: "the rate-limit pause outlasts the context deadline"}
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
		// Loop: another goroutine may have extended the pause meanwhile.
	}
}

// observe reads the rate-limit headers of a response and, when any limit is exhausted, pauses until it resets.
// Zendesk sends several families; each may describe a different limit, and the lowest remaining one decides.
func (p *pacer) observe(ctx context.Context, log *slog.Logger, h http.Header) {
	now := time.Now()
	exhausted := false
	var until time.Time
	resetKnown := false
	note := func(key string, remaining int, r time.Duration, known bool) {
		var bound time.Time
		if known {
			bound = p.resetBound(key, now, r)
		}
		if remaining > 0 {
			return
		}
		exhausted = true
		if known {
			resetKnown = true
			if bound.After(until) {
				until = bound
			}
		}
	}
	if v, ok := parseInt(h.Get("X-Rate-Limit-Remaining")); ok {
		note("x-rate-limit", v, 0, false)
	}
	if v, ok := parseInt(h.Get("Ratelimit-Remaining")); ok {
		r, known := parseSeconds(h.Get("Ratelimit-Reset"))
		note("ratelimit", v, r, known)
	}
	for k, vs := range h {
		if !strings.HasPrefix(strings.ToLower(k), "zendesk-ratelimit-") || len(vs) == 0 {
			continue
		}
		_, remaining, r, known, ok := parseZendeskRateLimit(vs[0])
		if ok {
			note(strings.ToLower(k), remaining, r, known)
		}
	}
	if !exhausted {
		return
	}
	if !resetKnown {
		until = now.Add(unknownResetWait)
	}
	log.InfoContext(ctx, "zendesk: rate limit exhausted, pausing requests", "pause", time.Until(until))
	p.block(until)
}

// parseZendeskRateLimit reads "total=100; remaining=99; resets=41" (total is 0 when absent).
func parseZendeskRateLimit(v string) (total, remaining int, reset time.Duration, resetKnown, ok bool) {
	for part := range strings.SplitSeq(v, ";") {
		k, val, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "total":
			total, _ = parseInt(val)
		case "remaining":
			remaining, ok = parseInt(val)
		case "resets":
			reset, resetKnown = parseSeconds(val)
		}
	}
	return total, remaining, reset, resetKnown, ok
}

func parseInt(s string) (int, bool) {
	v, err := strconv.Atoi(strings.TrimSpace(s))
	return v, err == nil
}
