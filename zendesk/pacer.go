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
}

func newPacer() *pacer { return &pacer{} }

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
	exhausted := false
	var reset time.Duration
	resetKnown := false
	note := func(remaining int, r time.Duration, known bool) {
		if remaining > 0 {
			return
		}
		exhausted = true
		if known {
			resetKnown = true
			reset = max(reset, r)
		}
	}
	if v, ok := parseInt(h.Get("X-Rate-Limit-Remaining")); ok {
		note(v, 0, false)
	}
	if v, ok := parseInt(h.Get("Ratelimit-Remaining")); ok {
		r, known := parseSeconds(h.Get("Ratelimit-Reset"))
		note(v, r, known)
	}
	for k, vs := range h {
		if !strings.HasPrefix(strings.ToLower(k), "zendesk-ratelimit-") || len(vs) == 0 {
			continue
		}
		_, remaining, r, known, ok := parseZendeskRateLimit(vs[0])
		if ok {
			note(remaining, r, known)
		}
	}
	if !exhausted {
		return
	}
	if !resetKnown {
		reset = unknownResetWait
	}
	log.InfoContext(ctx, "zendesk: rate limit exhausted, pausing requests", "pause", reset)
	p.block(time.Now().Add(reset))
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
