package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/lib/pq"

	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// webhookResult is how fast a Zendesk change reaches its case through a webhook (issue 12), and what it costs in
// export requests: none, the interval being an hour.
type webhookResult struct {
	Changes          int       `json:"changes"`
	RatePerS         float64   `json:"changes_per_s"`
	P50              float64   `json:"p50_s"`
	P95              float64   `json:"p95_s"`
	Max              float64   `json:"max_s"`
	ExportRequests   int       `json:"export_requests"`
	ShowManyRequests int       `json:"show_many_requests"`
	Samples          []float64 `json:"samples_s"`
}

// webhookKeys are the webhook keys of results (embedded there: their JSON fields are the results' own).
type webhookKeys struct {
	WebhookP95S           *float64       `json:"webhook_p95_s"`
	WebhookExportRequests *int           `json:"webhook_export_requests"`
	Webhook               *webhookResult `json:"webhook,omitempty"`
}

// webhookRate is how many Zendesk changes a second the benchmark makes: an agent team's busy hour, spread over
// distinct tickets.
const webhookRate = 10

// webhooks turns the stack's webhooks on, then changes `changes` distinct tickets in the simulator at webhookRate
// a second and times each change until its case row shows it.
func (st *stack) webhooks(ctx context.Context, changes int) (*webhookResult, error) {
	if _, err := st.ctl.EnableWebhook(ctx, st.name, "http://"+st.webhookAddr); err != nil {
		return nil, fmt.Errorf("turn webhooks on: %w", err)
	}
	var ids []int64
	if err := st.store.DB.SelectContext(ctx, &ids, `SELECT t.zendesk_id FROM zd_tickets t JOIN cases c ON c.id = t.case_id
		WHERE t.integration_id = $1 AND t.status IN ('new', 'open', 'pending', 'hold') ORDER BY t.zendesk_id LIMIT $2`,
		st.integID, changes); err != nil {
		return nil, err
	}
	if len(ids) < changes {
		return nil, fmt.Errorf("only %d open tickets to change, want %d", len(ids), changes)
	}
	st.sim.ResetCounters()
	marker := "webhook " + randHex(3) + " "
	start := make(map[int64]time.Time, len(ids))
	subject := func(id int64) string { return fmt.Sprintf("%s%d", marker, id) }
	done := map[int64]float64{}
	tick := time.NewTicker(time.Second / webhookRate)
	defer tick.Stop()
	next := 0
	deadline := time.Now().Add(time.Duration(changes/webhookRate)*time.Second + 60*time.Second)
	for len(done) < len(ids) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d changes never reached their case", len(ids)-len(done), len(ids))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
			if next < len(ids) {
				id := ids[next]
				s := subject(id)
				start[id] = time.Now()
				if err := st.sim.ChangeTicket(id, sim.TicketChange{Subject: &s}); err != nil {
					return nil, err
				}
				next++
			}
		case <-time.After(10 * time.Millisecond):
		}
		if err := st.collect(ctx, start, done, subject); err != nil {
			return nil, err
		}
	}
	return webhookStats(st, done, changes), nil
}

// collect notes the changed tickets whose case shows the change now.
func (st *stack) collect(ctx context.Context, start map[int64]time.Time, done map[int64]float64,
	subject func(int64) string) error {
	var pending []int64
	for id := range start {
		if _, ok := done[id]; !ok {
			pending = append(pending, id)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	var rows []struct {
		ID      int64  `db:"zendesk_id"`
		Subject string `db:"subject"`
	}
	if err := st.store.DB.SelectContext(ctx, &rows, `SELECT t.zendesk_id, c.subject FROM zd_tickets t
		JOIN cases c ON c.id = t.case_id WHERE t.integration_id = $1 AND t.zendesk_id = ANY($2)`,
		st.integID, pq.Array(pending)); err != nil {
		return err
	}
	now := time.Now()
	for _, r := range rows {
		if r.Subject == subject(r.ID) {
			done[r.ID] = round(now.Sub(start[r.ID]).Seconds(), 3)
		}
	}
	return nil
}

func webhookStats(st *stack, done map[int64]float64, changes int) *webhookResult {
	out := &webhookResult{Changes: changes, RatePerS: webhookRate}
	for _, s := range done {
		out.Samples = append(out.Samples, s)
	}
	sort.Float64s(out.Samples)
	pick := func(q float64) float64 { return out.Samples[min(len(out.Samples)-1, int(q*float64(len(out.Samples))))] }
	out.P50, out.P95, out.Max = pick(0.50), pick(0.95), out.Samples[len(out.Samples)-1]
	c := st.sim.Counters()
	out.ExportRequests = c["GET /api/v2/incremental/tickets/cursor.json"] + c["GET /api/v2/incremental/ticket_events.json"]
	out.ShowManyRequests = c["GET /api/v2/tickets/show_many.json"]
	return out
}

// setWebhook puts a webhook run into the results and judges it: p95 at most 2 s, no export request.
func (r *results) setWebhook(w *webhookResult) {
	r.Webhook = w
	r.WebhookP95S, r.WebhookExportRequests = ptr(w.P95), ptr(w.ExportRequests)
	r.Targets["webhook_p95_le_2s"] = ptr(w.P95 <= 2)
	r.Targets["webhook_export_requests_0"] = ptr(w.ExportRequests == 0)
}

// runWebhookOnly is `go run ./bench -only webhook`: a first sync of n tickets, then the webhook run; its keys are
// merged into the existing latest.json (every other key is kept as the last full run wrote it).
func runWebhookOnly(ctx context.Context, e *env, n int, dir string, logf func(string, ...interface{})) error {
	logf("webhook run only: first sync of %d tickets", n)
	st, err := e.newStack(ctx, "webhook", simOptions(n))
	if err != nil {
		return err
	}
	defer st.stop()
	if _, err := st.firstSync(ctx); err != nil {
		return err
	}
	logf("webhooks: 200 Zendesk changes at %d/s", webhookRate)
	w, err := st.webhooks(ctx, 200)
	if err != nil {
		return err
	}
	logf("  webhook: p50 %.3f s, p95 %.3f s, max %.3f s; %d export requests, %d show_many", w.P50, w.P95, w.Max,
		w.ExportRequests, w.ShowManyRequests)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p := filepath.Join(dir, "latest.json")
	// Read into the results type, so the file keeps the key order a full run writes.
	r := &results{}
	if b, err := os.ReadFile(p); err == nil {
		if err := json.Unmarshal(b, r); err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
	}
	if r.Targets == nil {
		r.Targets = map[string]*bool{}
	}
	r.setWebhook(w)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "bench: webhook keys merged into", p)
	return nil
}
