package control

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/zendesk-sync/zendesk-sync/preview"
	"github.com/zendesk-sync/zendesk-sync/store"
)

// DryRun shows what the integration's next pass would do, reading Zendesk as that pass would (the same export
// positions, the same requests, no more) and writing nothing anywhere: no position moves, no row is written, no
// Zendesk write, no pass recorded. Like Check it reads Zendesk from here, with the integration's credentials
// unsealed by the deployment key, so it needs no worker and never touches the running workflow; it is safe while
// a pass runs (its PostgreSQL reads are read-only transactions that take no locks).
func (c *Control) DryRun(ctx context.Context, name string) (preview.DryRun, error) {
	d, in, err := c.previewDeps(ctx, name)
	if err != nil {
		return preview.DryRun{}, err
	}
	return preview.NextPass(ctx, d, in)
}

// PreviewFirstSync shows what the integration's first sync would create, reading at most limit tickets (0: the
// default, 1,000). It works on an inactive integration and writes nothing.
func (c *Control) PreviewFirstSync(ctx context.Context, name string, limit int) (preview.FirstSync, error) {
	d, in, err := c.previewDeps(ctx, name)
	if err != nil {
		return preview.FirstSync{}, err
	}
	return preview.FirstSyncPreview(ctx, d, in, limit)
}

func (c *Control) previewDeps(ctx context.Context, name string) (preview.Deps, *store.Integration, error) {
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return preview.Deps{}, nil, err
	}
	// The integration's own client (its credentials, as Check uses them), on a transport that counts requests.
	base := http.DefaultTransport
	if c.HTTPClient != nil && c.HTTPClient.Transport != nil {
		base = c.HTTPClient.Transport
	}
	counter := &requestCounter{base: base}
	counted := *c
	counted.HTTPClient = &http.Client{Transport: counter}
	zc, err := counted.zendesk(in)
	if err != nil {
		return preview.Deps{}, nil, err
	}
	return preview.Deps{Store: c.Store, Client: zc, PerPage: c.PerPage,
		Requests: func() int { return int(counter.n.Load()) }}, in, nil
}

// requestCounter counts the requests a preview sends, for its report (the cost of a dry-run is stated, not guessed).
type requestCounter struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (r *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	r.n.Add(1)
	return r.base.RoundTrip(req)
}
