package activities

import (
	"context"
	"net/http"
	"time"

	"github.com/zendesk-sync/zendesk-sync/store"
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
	c.Transport = &requestCounter{base: base, store: a.Store, integrationID: integrationID, a: a}
	return &c
}

// requestCounter counts every request sent to Zendesk, answered or not, retries and 429s included.
type requestCounter struct {
	base          http.RoundTripper
	store         *store.Store
	integrationID int64
	a             *Activities
}

func (r *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if r.store != nil {
		// The count is bookkeeping: it must not fail or hold up the request it counts, nor die with its context.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), 5*time.Second)
		if cerr := r.store.CountRequests(ctx, r.integrationID, 1); cerr != nil {
			r.a.Log().Debug("could not count a Zendesk request", "error", cerr)
		}
		cancel()
	}
	return resp, err
}
