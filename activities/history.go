package activities

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// countingClient is the HTTP client of an integration's Zendesk client: a.HTTPClient (or a default one) whose
// requests are counted in the integration's running sync pass (`starter integration history`).
func (a *Activities) countingClient(integrationID int64) *http.Client {
	var c http.Client
	if a.HTTPClient != nil {
		c = *a.HTTPClient
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = &requestCounter{base: base, tally: &a.requests, integrationID: integrationID}
	return &c
}

// requestTally holds the Zendesk requests counted in memory and not yet added to their passes. Writing each
// request's count as it happens would put a PostgreSQL round trip in every Zendesk request's path.
type requestTally struct {
	mu      sync.Mutex
	pending map[int64]int
	// flushing is held by a flush from taking the counts until they are written: a flush that ends a pass (EndSync)
	// so waits for the counts of that pass another activity's flush took just before, which it would otherwise
	// write after the pass was closed, into no pass.
	flushing sync.Mutex
}

func (t *requestTally) add(integrationID int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending == nil {
		t.pending = map[int64]int{}
	}
	t.pending[integrationID]++
}

func (t *requestTally) take() map[int64]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.pending
	t.pending = nil
	return p
}

// takeOf takes the requests counted for one integration.
func (t *requestTally) takeOf(integrationID int64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.pending[integrationID]
	delete(t.pending, integrationID)
	return n
}

// requestCounter counts every request sent to Zendesk, answered or not, retries and 429s included.
type requestCounter struct {
	base          http.RoundTripper
	tally         *requestTally
	integrationID int64
}

func (r *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	r.tally.add(r.integrationID)
	return r.base.RoundTrip(req)
}

// FlushRequestCounts adds the requests counted since the last flush to their integrations' open passes. The worker
// calls it as each activity ends, so a pass's requests are recorded before the workflow can close the pass; the
// end of a pass flushes too. Counting is bookkeeping: a failed write is logged, never an activity's failure.
func (a *Activities) FlushRequestCounts(ctx context.Context) {
	a.requests.flushing.Lock()
	defer a.requests.flushing.Unlock()
	pending := a.requests.take()
	if len(pending) == 0 || a.Store == nil {
		return
	}
	// The activity's context may be ending (cancelled, timed out): the count is still worth writing.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for id, n := range pending {
		if err := a.Store.CountRequests(ctx, id, n); err != nil {
			a.Log().Debug("could not count Zendesk requests", "integration_id", id, "requests", n, "error", err)
		}
	}
}
