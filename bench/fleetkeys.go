package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// fleetKeys are the keys of many integrations on several workers (issue 11), embedded in results.
type fleetKeys struct {
	MultiTicketsPerS    *float64        `json:"multi_tickets_per_s"`
	MultiToSingleRatio  *float64        `json:"multi_to_single_ratio"`
	PushP95UnderLoadS   *float64        `json:"push_p95_under_load_s"`
	IdleCPUPct          *float64        `json:"idle_cpu_pct"`
	IdleRequestsPerPass *float64        `json:"idle_requests_per_pass"`
	Multi               *multiResult    `json:"multi,omitempty"`
	PushLoad            *pushLoadResult `json:"push_under_load,omitempty"`
	Idle                *idleResult     `json:"idle,omitempty"`
}

// fleetSizes are the sizes of the fleet measurements; the by default, smaller when quick, each overridable
// from the environment (see README "Benchmark").
type fleetSizes struct {
	MultiIntegrations, MultiTickets, MultiWorkers int
	LoadN, LoadSamples                            int
	IdleIntegrations                              int
	IdleInterval, IdleWindow                      time.Duration
	Skip                                          map[string]bool
}

func fleetSizesFromEnv(quick bool) (fleetSizes, error) {
	pick := func(full, small int) int {
		if quick {
			return small
		}
		return full
	}
	s := fleetSizes{
		MultiIntegrations: envInt("BENCH_MULTI_INTEGRATIONS", pick(100, 10)),
		MultiTickets:      envInt("BENCH_MULTI_TICKETS", pick(1000, 200)),
		MultiWorkers:      envInt("BENCH_MULTI_WORKERS", 2),
		LoadN:             envInt("BENCH_LOAD_N", pick(100000, 10000)),
		LoadSamples:       envInt("BENCH_LOAD_SAMPLES", 40),
		IdleIntegrations:  envInt("BENCH_IDLE_INTEGRATIONS", pick(500, 20)),
		Skip:              map[string]bool{},
	}
	var err error
	if s.IdleInterval, err = envDuration("BENCH_IDLE_INTERVAL", time.Minute); err != nil {
		return s, err
	}
	if s.IdleWindow, err = envDuration("BENCH_IDLE_WINDOW", time.Duration(pick(5, 1))*time.Minute); err != nil {
		return s, err
	}
	for _, part := range strings.Split(os.Getenv("BENCH_SKIP"), ",") {
		switch part = strings.TrimSpace(part); part {
		case "":
		case "multi", "push_load", "idle":
			s.Skip[part] = true
		default:
			return s, fmt.Errorf("BENCH_SKIP: unknown part %q (multi, push_load, idle)", part)
		}
	}
	return s, nil
}

func envDuration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: not a positive duration (e.g. 90s, 5m): %q", name, v)
	}
	return d, nil
}

// multiResult is many small first syncs started together on several workers.
type multiResult struct {
	Integrations int     `json:"integrations"`
	TicketsEach  int     `json:"tickets_each"`
	Workers      int     `json:"workers"`
	Seconds      float64 `json:"seconds"`
	TicketsPerS  float64 `json:"tickets_per_s"`
	// Done* are when the first, the median and the last integration's first sync ended, from the start: how evenly
	// the workers shared out the work.
	FirstDoneS        float64 `json:"first_done_s"`
	MedianDoneS       float64 `json:"median_done_s"`
	LastDoneS         float64 `json:"last_done_s"`
	Requests          int     `json:"requests"`
	Got429            int     `json:"got_429"`
	SingleN           int     `json:"single_n"`
	SingleTicketsPerS float64 `json:"single_tickets_per_s"`
	SingleSource      string  `json:"single_source"`
	Ratio             float64 `json:"ratio"`
}

// multi starts sz.MultiIntegrations first syncs of sz.MultiTickets tickets together on sz.MultiWorkers worker
// processes, each account with Zendesk's limits, and compares the rate with one integration's first sync of as many
// tickets (the run's own when it has one of that size).
func multi(ctx context.Context, e *env, sz fleetSizes, single *syncResult) (*multiResult, error) {
	r := &multiResult{Integrations: sz.MultiIntegrations, TicketsEach: sz.MultiTickets, Workers: sz.MultiWorkers}
	total := sz.MultiIntegrations * sz.MultiTickets
	if single == nil || single.N != total {
		var err error
		if single, err = oneSync(ctx, e, fmt.Sprintf("single-%d", total), total); err != nil {
			return nil, fmt.Errorf("the single-integration reference: %w", err)
		}
		r.SingleSource = "its own first sync of as many tickets, one integration, one worker"
	} else {
		r.SingleSource = "the run's first sync at N, one integration, one worker"
	}
	r.SingleN, r.SingleTicketsPerS = single.N, round(single.TicketsPerS, 1)
	f, err := e.newFleet(ctx, "multi", sz.MultiWorkers)
	if err != nil {
		return nil, err
	}
	defer f.stop()
	idx := make([]int, 0, sz.MultiIntegrations)
	for range sz.MultiIntegrations {
		i, err := f.add(ctx, zendeskLimits(sim.Options{Tickets: sz.MultiTickets, DisableRequestLog: true}), time.Hour, false)
		if err != nil {
			return nil, err
		}
		idx = append(idx, i)
	}
	t0 := time.Now()
	if err := f.activate(ctx, idx); err != nil {
		return nil, err
	}
	done, err := f.doneTimes(ctx, t0, 10*time.Minute+time.Duration(total)*5*time.Millisecond)
	if err != nil {
		return nil, err
	}
	r.Seconds = round(done[len(done)-1], 2)
	r.TicketsPerS = round(float64(total)/done[len(done)-1], 1)
	r.FirstDoneS, r.MedianDoneS, r.LastDoneS = round(done[0], 2), round(done[len(done)/2], 2), round(done[len(done)-1], 2)
	for _, s := range f.sims {
		c := s.Counters()
		r.Requests += apiRequests(c)
		r.Got429 += c["429"]
	}
	r.Ratio = round(r.TicketsPerS/single.TicketsPerS, 3)
	return r, nil
}

// doneTimes waits for every first sync of the fleet and returns when each ended (seconds after t0, as seen by
// polling), in order.
func (f *fleet) doneTimes(ctx context.Context, t0 time.Time, timeout time.Duration) ([]float64, error) {
	var done []float64
	for len(done) < len(f.ids) {
		n, err := f.firstSyncsDone(ctx, f.ids)
		if err != nil {
			return nil, err
		}
		for len(done) < n {
			done = append(done, time.Since(t0).Seconds())
		}
		if len(done) == len(f.ids) {
			break
		}
		for _, w := range f.workers {
			if w.exited() {
				return nil, fmt.Errorf("%s: a worker exited: %v\n%s", f.label, w.err, w.tail(20))
			}
		}
		if time.Since(t0) > timeout {
			return nil, fmt.Errorf("%s: %d of %d first syncs done after %s", f.label, n, len(f.ids), timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return done, nil
}

// pushLoadResult is the latency of a small integration's local edits while another's big first sync runs.
type pushLoadResult struct {
	LoadN   int       `json:"load_n"`
	Workers int       `json:"workers"`
	Samples []float64 `json:"samples_s"`
	P50     float64   `json:"p50_s"`
	P95     float64   `json:"p95_s"`
	Max     float64   `json:"max_s"`
	// LoadPagesAtStart and LoadPagesAtEnd are the big first sync's applied pages when the first edit was made and
	// after the last edit reached Zendesk: it ran all along when LoadDone is false.
	LoadPagesAtStart int64 `json:"load_pages_at_start"`
	LoadPagesAtEnd   int64 `json:"load_pages_at_end"`
	LoadDone         bool  `json:"load_done_before_last_sample"`
}

// pushUnderLoad syncs a small two-way integration, starts the first sync of sz.LoadN tickets of another on the same
// worker, and times local edits of the small one (UPDATE → the simulator's ticket shows it), one every half second,
// while the big one runs.
func pushUnderLoad(ctx context.Context, e *env, sz fleetSizes) (*pushLoadResult, error) {
	f, err := e.newFleet(ctx, "pushload", 1)
	if err != nil {
		return nil, err
	}
	defer f.stop()
	small, err := f.add(ctx, zendeskLimits(sim.Options{Tickets: 200}), time.Hour, true)
	if err != nil {
		return nil, err
	}
	big, err := f.add(ctx, sim.Options{Tickets: sz.LoadN, DisableRequestLog: true}, time.Hour, false)
	if err != nil {
		return nil, err
	}
	if err := f.activate(ctx, []int{small}); err != nil {
		return nil, err
	}
	if err := f.waitFirstSyncs(ctx, f.ids[small:small+1], 5*time.Minute); err != nil {
		return nil, err
	}
	targets, err := f.openTickets(ctx, small, sz.LoadSamples)
	if err != nil {
		return nil, err
	}
	if err := f.activate(ctx, []int{big}); err != nil {
		return nil, err
	}
	r := &pushLoadResult{LoadN: sz.LoadN, Workers: 1}
	// The clock starts once the big first sync is applying pages, not while it reads its settings.
	for r.LoadPagesAtStart < 2 {
		if r.LoadPagesAtStart, err = f.pages(ctx, big); err != nil {
			return nil, err
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := f.timeEdits(ctx, small, targets, r); err != nil {
		return nil, err
	}
	if r.LoadPagesAtEnd, err = f.pages(ctx, big); err != nil {
		return nil, err
	}
	n, err := f.firstSyncsDone(ctx, f.ids[big:big+1])
	r.LoadDone = n == 1
	sorted := append([]float64(nil), r.Samples...)
	sort.Float64s(sorted)
	pick := func(q float64) float64 { return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))] }
	r.P50, r.P95, r.Max = pick(0.5), pick(0.95), sorted[len(sorted)-1]
	return r, err
}

type ticketTarget struct{ caseID, ticketID int64 }

// openTickets lists up to n cases of integration i whose tickets Zendesk still lets an agent change.
func (f *fleet) openTickets(ctx context.Context, i, n int) ([]ticketTarget, error) {
	var ts []ticketTarget
	rows, err := f.store.DB.QueryxContext(ctx, `SELECT c.id, t.zendesk_id FROM cases c JOIN zd_tickets t ON t.case_id = c.id
		WHERE c.integration_id = $1 AND t.status IN ('new', 'open', 'pending', 'hold') ORDER BY c.id LIMIT $2`, f.ids[i], n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var t ticketTarget
		if err := rows.Scan(&t.caseID, &t.ticketID); err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("no open ticket to edit")
	}
	return ts, rows.Err()
}

func (f *fleet) pages(ctx context.Context, i int) (int64, error) {
	var n int64
	err := f.store.DB.GetContext(ctx, &n, `SELECT pages FROM sync_state WHERE integration_id = $1`, f.ids[i])
	return n, err
}

// timeEdits edits each target's case subject and times it until the simulator's ticket carries it.
func (f *fleet) timeEdits(ctx context.Context, i int, targets []ticketTarget, r *pushLoadResult) error {
	marker := "under load " + randHex(3) + " "
	for k, t := range targets {
		subject := fmt.Sprintf("%s%d", marker, k)
		t0 := time.Now()
		if _, err := f.ctl.UpdateCase(ctx, t.caseID, control.CaseUpdate{Subject: &subject}); err != nil {
			return err
		}
		for {
			raw, ok := f.sims[i].Ticket(t.ticketID)
			if ok && strings.Contains(string(raw), `"subject":"`+subject+`"`) {
				break
			}
			if time.Since(t0) > time.Minute {
				return fmt.Errorf("case %d: the edit did not reach Zendesk within a minute", t.caseID)
			}
			time.Sleep(5 * time.Millisecond)
		}
		r.Samples = append(r.Samples, round(time.Since(t0).Seconds(), 3))
		time.Sleep(500 * time.Millisecond)
	}
	return nil
}
