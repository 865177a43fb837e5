package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// idleResult is what many waiting integrations cost a worker between and during their passes.
type idleResult struct {
	Integrations int     `json:"integrations"`
	Interval     string  `json:"interval"`
	Window       string  `json:"window"`
	SetupSeconds float64 `json:"setup_seconds"`
	CPUSeconds   float64 `json:"worker_cpu_seconds"`
	CPUPct       float64 `json:"worker_cpu_pct_of_one_core"`
	WorkerRSSMB  float64 `json:"worker_peak_rss_mb"`
	// Passes ran entirely inside the window; RequestsPerPass is their mean of the Zendesk requests the worker
	// counted (sync_passes.requests), SimRequestsPerPass the simulators' count of the whole window over them.
	Passes             int     `json:"passes"`
	RequestsPerPass    float64 `json:"requests_per_pass"`
	SimRequests        int     `json:"sim_requests"`
	SimRequestsPerPass float64 `json:"sim_requests_per_pass"`
}

// idle syncs sz.IdleIntegrations small integrations on one worker process, lets them wait at sz.IdleInterval, and
// measures over sz.IdleWindow the worker's CPU (/proc/<pid>/stat: user + system) and the requests of each pass.
func idle(ctx context.Context, e *env, sz fleetSizes) (*idleResult, error) {
	r := &idleResult{Integrations: sz.IdleIntegrations, Interval: sz.IdleInterval.String(), Window: sz.IdleWindow.String()}
	f, err := e.newFleet(ctx, "idle", 1)
	if err != nil {
		return nil, err
	}
	defer f.stop()
	setup := time.Now()
	idx := make([]int, 0, sz.IdleIntegrations)
	for range sz.IdleIntegrations {
		i, err := f.add(ctx, zendeskLimits(sim.Options{Tickets: 5, Users: 5, CommentsPerTicket: 1}), sz.IdleInterval, false)
		if err != nil {
			return nil, err
		}
		idx = append(idx, i)
	}
	if err := f.activate(ctx, idx); err != nil {
		return nil, err
	}
	if err := f.waitFirstSyncs(ctx, f.ids, 20*time.Minute); err != nil {
		return nil, err
	}
	r.SetupSeconds = round(time.Since(setup).Seconds(), 1)
	for _, s := range f.sims {
		s.ResetCounters()
	}
	w := f.workers[0]
	var from, to time.Time
	if err := f.store.DB.GetContext(ctx, &from, `SELECT now()`); err != nil {
		return nil, err
	}
	cpu0, err := cpuSeconds(w.pid())
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(sz.IdleWindow):
	}
	cpu1, err := cpuSeconds(w.pid())
	if err != nil {
		return nil, err
	}
	wall := time.Since(t0).Seconds()
	if err := f.store.DB.GetContext(ctx, &to, `SELECT now()`); err != nil {
		return nil, err
	}
	r.CPUSeconds = round(cpu1-cpu0, 2)
	r.CPUPct = round((cpu1-cpu0)/wall*100, 2)
	if r.WorkerRSSMB, err = peakRSSMB(w.pid()); err != nil {
		return nil, err
	}
	r.WorkerRSSMB = round(r.WorkerRSSMB, 1)
	return r, f.passesIn(ctx, from, to, r)
}

// passesIn counts the passes (not first syncs) that started and ended between from and to, and their requests.
func (f *fleet) passesIn(ctx context.Context, from, to time.Time, r *idleResult) error {
	var row struct {
		N        int   `db:"n"`
		Requests int64 `db:"requests"`
	}
	if err := f.store.DB.GetContext(ctx, &row, `SELECT count(*) AS n, COALESCE(sum(requests), 0) AS requests
		FROM sync_passes WHERE NOT first_sync AND started_at >= $1 AND ended_at <= $2`, from, to); err != nil {
		return fmt.Errorf("passes of the idle window: %w", err)
	}
	r.Passes = row.N
	for _, s := range f.sims {
		r.SimRequests += apiRequests(s.Counters())
	}
	if row.N == 0 {
		// A window shorter than the interval measures the waiting alone: no pass, no requests per pass.
		return nil
	}
	r.RequestsPerPass = round(float64(row.Requests)/float64(row.N), 3)
	r.SimRequestsPerPass = round(float64(r.SimRequests)/float64(row.N), 3)
	return nil
}

// runFleet measures the fleet keys into res, skipping the parts sz.Skip names.
func runFleet(ctx context.Context, e *env, sz fleetSizes, res *results, logf func(string, ...interface{}),
	fail func(string, error)) {
	if !sz.Skip["multi"] && ctx.Err() == nil {
		logf("multi: %d integrations × %d tickets (each its own account, Zendesk's limits), first syncs together on %d workers",
			sz.MultiIntegrations, sz.MultiTickets, sz.MultiWorkers)
		if m, err := multi(ctx, e, sz, res.Sync); err != nil {
			fail("multi", err)
		} else {
			res.Multi, res.MultiTicketsPerS, res.MultiToSingleRatio = m, ptr(m.TicketsPerS), ptr(m.Ratio)
			logf("  multi: %.1f s, %.0f tickets/s (single %.0f: ratio %.3f); done first %.1f s, median %.1f s, last %.1f s; %d 429s",
				m.Seconds, m.TicketsPerS, m.SingleTicketsPerS, m.Ratio, m.FirstDoneS, m.MedianDoneS, m.LastDoneS, m.Got429)
		}
	}
	if !sz.Skip["push_load"] && ctx.Err() == nil {
		logf("push under load: local edits of a small integration while a %d-ticket first sync runs on the same worker", sz.LoadN)
		if p, err := pushUnderLoad(ctx, e, sz); err != nil {
			fail("push under load", err)
		} else {
			res.PushLoad, res.PushP95UnderLoadS = p, ptr(p.P95)
			logf("  push under load: %d edits, p50 %.3f s, p95 %.3f s, max %.3f s; big sync pages %d → %d (done: %v)",
				len(p.Samples), p.P50, p.P95, p.Max, p.LoadPagesAtStart, p.LoadPagesAtEnd, p.LoadDone)
		}
	}
	if !sz.Skip["idle"] && ctx.Err() == nil {
		logf("idle: %d waiting integrations at a %s interval, worker CPU over %s", sz.IdleIntegrations, sz.IdleInterval, sz.IdleWindow)
		if i, err := idle(ctx, e, sz); err != nil {
			fail("idle", err)
		} else {
			res.Idle, res.IdleCPUPct = i, ptr(i.CPUPct)
			if i.Passes > 0 {
				res.IdleRequestsPerPass = ptr(i.RequestsPerPass)
			}
			logf("  idle: setup %.0f s; worker CPU %.2f s = %.2f%% of a core; %d passes, %.2f requests each (simulators: %.2f); RSS %.1f MB",
				i.SetupSeconds, i.CPUSeconds, i.CPUPct, i.Passes, i.RequestsPerPass, i.SimRequestsPerPass, i.WorkerRSSMB)
		}
	}
	judgeFleet(res)
}

// judgeFleet fills targets_met for the fleet keys (issue 11's targets).
func judgeFleet(r *results) {
	set := func(name string, v *float64, ok func(float64) bool) {
		if v == nil {
			r.Targets[name] = nil
			return
		}
		r.Targets[name] = ptr(ok(*v))
	}
	set("multi_to_single_ge_0.8", r.MultiToSingleRatio, func(v float64) bool { return v >= 0.8 })
	set("push_p95_under_load_le_1s", r.PushP95UnderLoadS, func(v float64) bool { return v <= 1 })
	set("idle_cpu_le_10pct", r.IdleCPUPct, func(v float64) bool { return v <= 10 })
	set("idle_requests_per_pass_le_2", r.IdleRequestsPerPass, func(v float64) bool { return v <= 2 })
}

// printFleetRows adds the scale-out rows to the results table.
func printFleetRows(tw io.Writer, r *results) {
	fmt.Fprintf(tw, "8. signals per local change (3 relays)\t%s\t1.0\t%s\n", fmtF(r.SignalsPerChange, "%.2f"),
		met(r.Targets["signals_per_change"]))
	fmt.Fprintf(tw, "   429s beyond the first of a window (2 workers, 1 account)\t%s\t0\t%s\n", fmtI(r.RateLimit429sMulti),
		met(r.Targets["ratelimit_429s_multi"]))
	multi := "multi first syncs (tickets/s)"
	if m := r.Multi; m != nil {
		multi = fmt.Sprintf("multi: %d × %d tickets on %d workers (tickets/s)", m.Integrations, m.TicketsEach, m.Workers)
	}
	fmt.Fprintf(tw, "9. %s\t%s\t-\t-\n", multi, fmtF(r.MultiTicketsPerS, "%.0f"))
	fmt.Fprintf(tw, "   multi / single\t%s\t≥ 0.80\t%s\n", fmtF(r.MultiToSingleRatio, "%.3f"), met(r.Targets["multi_to_single_ge_0.8"]))
	load := "push p95 under a first sync (s)"
	if p := r.PushLoad; p != nil {
		load = fmt.Sprintf("push p95 under a %d-ticket first sync (s)", p.LoadN)
	}
	fmt.Fprintf(tw, "10. %s\t%s\t≤ 1\t%s\n", load, fmtF(r.PushP95UnderLoadS, "%.3f"), met(r.Targets["push_p95_under_load_le_1s"]))
	idle := "idle worker CPU (% of a core)"
	if i := r.Idle; i != nil {
		idle = fmt.Sprintf("idle: %d integrations at %s, worker CPU (%% of a core)", i.Integrations, i.Interval)
	}
	fmt.Fprintf(tw, "11. %s\t%s\t≤ 10\t%s\n", idle, fmtF(r.IdleCPUPct, "%.2f"), met(r.Targets["idle_cpu_le_10pct"]))
	fmt.Fprintf(tw, "    requests per idle pass\t%s\t2\t%s\n", fmtF(r.IdleRequestsPerPass, "%.2f"),
		met(r.Targets["idle_requests_per_pass_le_2"]))
}
