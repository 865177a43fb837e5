// Command bench measures the first sync at scale against this machine's own ceiling (issue 6): a PostgreSQL COPY
// of the same rows, then the real stack (Temporal dev server, the worker binary as its own process, the simulator
// over HTTP, PostgreSQL), the API requests it made, the worker's peak RSS, an incremental sync of 1,000 changed
// tickets and a run against Zendesk-like rate limits scaled in time. It prints one table and writes
// bench/results/latest.json plus a dated copy.
//
//	go run ./bench                 # N = 100,000 (BENCH_N), about 10 minutes on 2 cores
//	BENCH_N=10000 go run ./bench
//	BENCH_QUICK=1 go run ./bench   # smoke run: N = 2,000, no separate 10k run, results/quick.json only
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	mrand "math/rand/v2"

	"go.temporal.io/sdk/client"

	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// results is bench/results/latest.json.
type results struct {
	N                int                `json:"n"`
	Quick            bool               `json:"quick"`
	Cores            int                `json:"cores"`
	CPUModel         string             `json:"cpu_model"`
	GoVersion        string             `json:"go_version"`
	Postgres         string             `json:"postgres_version"`
	Temporal         string             `json:"temporal"`
	Kernel           string             `json:"kernel"`
	MemTotalMB       int                `json:"mem_total_mb"`
	StartedAt        string             `json:"started_at"`
	TotalSeconds     float64            `json:"total_seconds"`
	CopyTicketsPerS  *float64           `json:"copy_tickets_per_s"`
	SyncTicketsPerS  *float64           `json:"sync_tickets_per_s"`
	SyncToCopyRatio  *float64           `json:"sync_to_copy_ratio"`
	Requests         *int               `json:"requests"`
	MinRequests      *int               `json:"min_requests"`
	OroRequests      *int               `json:"oro_requests"`
	RequestsToMin    *float64           `json:"requests_to_min_ratio"`
	RSSMB            map[string]float64 `json:"rss_mb"`
	Incremental1000S *float64           `json:"incremental_1000_s"`
	RateLimitedShare *float64           `json:"ratelimited_share"`
	RateLimited429s  *int               `json:"ratelimited_429s"`
	RateLimitedExtra *int               `json:"ratelimited_429s_after_first_in_window"`
	TwoWayP50S       *float64           `json:"twoway_p50_s"`
	TwoWayP95S       *float64           `json:"twoway_p95_s"`
	// HistoryEventsMax is the most history events any run of the benchmark's workflows reached (each continues
	// as new; Temporal stops a run at 51,200 events).
	HistoryEventsMax *int               `json:"history_events_max"`
	HistoryRuns      *int               `json:"history_runs"`
	Ceiling          *ceilingResult     `json:"ceiling,omitempty"`
	Sync             *syncResult        `json:"sync,omitempty"`
	Sync10k          *syncResult        `json:"sync_10000,omitempty"`
	Incremental      *incrementalResult `json:"incremental,omitempty"`
	TwoWay           *twoWayResult      `json:"twoway,omitempty"`
	RateLimited      *rateLimitedResult `json:"ratelimited,omitempty"`
	Targets          map[string]*bool   `json:"targets_met"`
	Errors           []string           `json:"errors,omitempty"`
	scaleOutKeys                        // bench/scaleout.go
	webhookKeys                         // bench/webhooks.go
	fleetKeys                           // bench/fleetkeys.go, bench/idle.go
	// ScaleOnly marks a run of the scale-out keys alone (BENCH_ONLY=scale): written to scale.json, not latest.json.
	ScaleOnly bool `json:"scale_only,omitempty"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(strings.ReplaceAll(v, "_", "")); err == nil && n > 0 {
			return n
		}
	}
	return def
}

func run() error {
	quickEnv := os.Getenv("BENCH_QUICK")
	quick := flag.Bool("quick", quickEnv != "" && quickEnv != "0", "smoke run (env BENCH_QUICK=1): N=2000, no 10k run")
	nFlag := flag.Int("n", 0, "tickets (env BENCH_N; default 100000, 2000 when quick)")
	outDir := flag.String("results", "", "results directory (default <repo>/bench/results)")
	keep := flag.Bool("keep-logs", false, "keep the temporary directory with the worker and Temporal logs")
	profileOnly := flag.Bool("profile", false, "only run a first sync of N with the worker hosted in-process under a CPU "+
		"profile (bench/results/cpu-<N>.pprof); no table, no latest.json")
	only := flag.String("only", os.Getenv("BENCH_ONLY"), "run one piece only (env BENCH_ONLY): webhook = a first sync "+
		"of N (default 2000), then 200 Zendesk changes through webhooks, its keys merged into latest.json; scale = the "+
		"scale-out keys (signals, shared budget, multi, push under load, idle), written to results/scale.json")
	firstOnly := flag.Bool("first-sync", false, "only the COPY ceiling, the first sync of N and its incremental: "+
		"prints sync / COPY; no table, no latest.json")
	flag.Parse()
	if *only != "" && *only != "scale" && *only != "webhook" {
		return fmt.Errorf("-only / BENCH_ONLY: %q is not a part that runs alone (webhook, scale)", *only)
	}
	sizes, err := fleetSizesFromEnv(*quick)
	if err != nil {
		return err
	}

	n := *nFlag
	if n == 0 {
		def := 100000
		if *quick || *only != "" {
			def = 2000
		}
		n = envInt("BENCH_N", def)
	}
	repo, err := repoRoot()
	if err != nil {
		return err
	}
	if *outDir == "" {
		*outDir = filepath.Join(repo, "bench", "results")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cl := &cleanups{}
	defer cl.run()

	tmp, err := os.MkdirTemp("", "zs-bench-")
	if err != nil {
		return err
	}
	cl.add(func() {
		if *keep {
			fmt.Fprintln(os.Stderr, "bench: logs kept in", tmp)
			return
		}
		_ = os.RemoveAll(tmp)
	})

	began := time.Now()
	res := &results{N: n, Quick: *quick, Cores: runtime.NumCPU(), GoVersion: runtime.Version(), RSSMB: map[string]float64{},
		StartedAt: began.UTC().Format(time.RFC3339), Targets: map[string]*bool{}}
	res.CPUModel, res.MemTotalMB = cpuInfo()
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		res.Kernel = strings.TrimSpace(string(out))
	}
	logf := func(format string, args ...interface{}) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] "+format+"\n", append([]interface{}{time.Since(began).Seconds()}, args...)...)
	}
	fail := func(what string, err error) {
		msg := fmt.Sprintf("%s: %v", what, err)
		res.Errors = append(res.Errors, msg)
		logf("FAILED %s", msg)
	}

	admin, err := sql.Open("postgres", adminURL())
	if err != nil {
		return err
	}
	cl.add(func() { admin.Close() })
	if err := admin.PingContext(ctx); err != nil {
		return fmt.Errorf("PostgreSQL at %s: %w (start it, or set TEST_DATABASE_URL)", adminURL(), err)
	}
	_ = admin.QueryRowContext(ctx, `SELECT version()`).Scan(&res.Postgres)
	dbs := &databases{admin: admin, cl: cl}

	logf("building the worker")
	workerBin := filepath.Join(tmp, "worker")
	if err := buildWorker(ctx, repo, workerBin); err != nil {
		return err
	}
	logf("starting Temporal")
	ts, err := startTemporal(ctx, tmp, cl)
	if err != nil {
		return err
	}
	res.Temporal = ts.kind
	tc, err := client.DialContext(ctx, client.Options{HostPort: ts.hostPort, Namespace: ts.namespace,
		Logger: quietLogger{}})
	if err != nil {
		return err
	}
	cl.add(tc.Close)
	keyHex := randHex(32)
	key, err := secrets.ParseKey(keyHex)
	if err != nil {
		return err
	}
	e := &env{tmp: tmp, workerBin: workerBin, temporal: ts, tc: tc, dbs: dbs, cl: cl, keyHex: keyHex, key: key,
		seed: 42, idBase: 1000 + mrand.Int64N(1_000_000_000)}

	if *profileOnly {
		_, err := profileSync(ctx, e, n, *outDir)
		return err
	}
	switch *only {
	case "webhook":
		return runWebhookOnly(ctx, e, n, *outDir, logf)
	case "scale":
		res.ScaleOnly = true
		runScaleOut(ctx, dbs, res, logf, fail)
		runFleet(ctx, e, sizes, res, logf, fail)
		res.TotalSeconds = round(time.Since(began).Seconds(), 1)
		printTable(os.Stdout, res)
		return writeResults(*outDir, res, began)
	}

	// 4. Memory at 10k, with its own worker and database, when N is something else.
	if !*quick && !*firstOnly && n != 10000 {
		logf("first sync of 10,000 tickets (worker RSS at 10k)")
		if r, err := oneSync(ctx, e, "10k", 10000); err != nil {
			fail("first sync at 10k", err)
		} else {
			res.Sync10k = r
			res.RSSMB["10000"] = round(r.RSSMB, 1)
			logf("  10k: %.1f s, %.0f tickets/s, peak RSS %.1f MB", r.Seconds, r.TicketsPerS, r.RSSMB)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// 1. Ceiling.
	logf("COPY ceiling for %d tickets", n)
	if c, err := runCeiling(ctx, dbs, n, e.seed, cl); err != nil {
		fail("COPY ceiling", err)
	} else {
		res.Ceiling = c
		res.CopyTicketsPerS = ptr(round(float64(c.Tickets)/c.CopySeconds, 0))
		logf("  COPY: %d tickets, %d comments in %.2f s: %.0f tickets/s", c.Tickets, c.Comments, c.CopySeconds,
			*res.CopyTicketsPerS)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// 2, 3, 4, 5. First sync at N, then the incremental.
	logf("first sync of %d tickets through the real stack", n)
	st, err := e.newStack(ctx, strconv.Itoa(n), simOptions(n))
	if err != nil {
		fail("set up the first sync", err)
	} else {
		r, err := st.firstSync(ctx)
		if err != nil {
			fail("first sync", err)
		} else {
			res.Sync = r
			res.SyncTicketsPerS = ptr(round(r.TicketsPerS, 0))
			if res.CopyTicketsPerS != nil {
				res.SyncToCopyRatio = ptr(round(r.TicketsPerS / *res.CopyTicketsPerS, 3))
			}
			res.Requests = &r.Requests
			minReq := ceilDiv(n, 1000) + ceilDiv(r.Events, 1000)
			oro := ceilDiv(n, 100) + ceilDiv(r.Users, 100) + n
			res.MinRequests, res.OroRequests = &minReq, &oro
			res.RequestsToMin = ptr(round(float64(r.Requests)/float64(minReq), 3))
			res.RSSMB[strconv.Itoa(n)] = round(r.RSSMB, 1)
			logf("  sync: %.1f s, %.0f tickets/s, %d requests (min %d), peak RSS %.1f MB, %d cases, %d case comments",
				r.Seconds, r.TicketsPerS, r.Requests, minReq, r.RSSMB, r.Cases, r.CaseComments)
			changes := min(1000, n/2)
			logf("incremental: %d changed tickets", changes)
			inc, err := st.incremental(ctx, changes)
			if err != nil {
				fail("incremental", err)
			}
			if inc != nil {
				res.Incremental = inc
				res.Incremental1000S = ptr(round(inc.Seconds, 3))
				logf("  incremental: %d cases changed %.2f s after the sync request (sync-now returned after %s s)",
					inc.Changed, inc.Seconds, fmtF(inc.SyncCall, "%.2f"))
			}
			// 7. Two-way latency on the same stack.
			logf("two-way: 40 local edits, one after another")
			if *firstOnly {
				logf("  (skipped: -first-sync)")
			} else if tw, err := st.twoWay(ctx, 40); err != nil {
				fail("two-way latency", err)
			} else {
				res.TwoWay = tw
				res.TwoWayP50S, res.TwoWayP95S = ptr(tw.P50), ptr(tw.P95)
				logf("  two-way: p50 %.3f s, p95 %.3f s", tw.P50, tw.P95)
			}
			// 8. Zendesk → CRM through webhooks, on the same stack (two-way on: the pushes above are done).
			logf("webhooks: 200 Zendesk changes at %d/s", webhookRate)
			if w, err := st.webhooks(ctx, 200); err != nil {
				fail("webhook latency", err)
			} else {
				res.setWebhook(w)
				logf("  webhook: p50 %.3f s, p95 %.3f s; %d export requests", w.P50, w.P95, w.ExportRequests)
			}
		}
		st.stop()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if *firstOnly {
		printPhases(os.Stdout, res.Sync)
		logf("sync / COPY: %s", fmtF(res.SyncToCopyRatio, "%.3f"))
		if len(res.Errors) > 0 {
			return errors.New(strings.Join(res.Errors, "; "))
		}
		return nil
	}

	// 6. Rate-limited.
	// Zendesk allows 10 export requests a minute. The "minute" is scaled down to rateWindow (20 s: close enough
	// to the real one that the pacing's per-window costs weigh as they would, short enough for a few windows in a
	// benchmark), and never so far that the limits stop binding: at least twice the time this machine's
	// unthrottled sync took for 10 requests (else the run measures the worker, not the pacing). The window used
	// is in the results.
	nRL := min(rateLimitedMaxN, max(2000, n/10))
	window := rateWindow
	if res.Sync != nil && res.Sync.Requests > 0 {
		perReq := time.Duration(res.Sync.Seconds / float64(res.Sync.Requests) * float64(time.Second))
		window = max(window, (20 * perReq).Round(time.Second))
	}
	logf("rate-limited first sync of %d tickets (10 export requests per %s window, 700 requests per window)", nRL, window)
	if rl, err := rateLimited(ctx, e, nRL, window); err != nil {
		fail("rate-limited run", err)
	} else {
		res.RateLimited = rl
		res.RateLimitedShare = ptr(round(rl.Share, 3))
		res.RateLimited429s = &rl.Got429
		res.RateLimitedExtra = &rl.Extra429
		logf("  rate-limited: %.1f s, %d export requests over %.1f s (limits allow %.1f s): share %.1f%%, %d 429s",
			rl.Seconds, rl.ExportOK, rl.SpanSeconds, rl.MinSpanSeconds, rl.Share*100, rl.Got429)
	}

	if e.historyRuns > 0 {
		res.HistoryEventsMax, res.HistoryRuns = ptr(e.historyMax), ptr(e.historyRuns)
	}
	if e.historyErr != nil {
		fail("history length", e.historyErr)
	}
	runScaleOut(ctx, dbs, res, logf, fail)
	runFleet(ctx, e, sizes, res, logf, fail)
	res.TotalSeconds = round(time.Since(began).Seconds(), 1)
	judge(res)
	printTable(os.Stdout, res)
	return writeResults(*outDir, res, began)
}

// rateWindow is the rate-limit window of the rate-limited run (Zendesk's is a minute), and rateLimitedMaxN the
// most tickets it syncs: 10,000 tickets take 39 export requests, four windows.
const (
	rateWindow      = 20 * time.Second
	rateLimitedMaxN = 10000
)

// rateLimitedTarget is the share of the time the limits allow that the rate-limited run must reach.
const rateLimitedTarget = 0.97

func oneSync(ctx context.Context, e *env, label string, n int) (*syncResult, error) {
	st, err := e.newStack(ctx, label, simOptions(n))
	if err != nil {
		return nil, err
	}
	defer st.stop()
	return st.firstSync(ctx)
}

func simOptions(n int) sim.Options {
	return sim.Options{Tickets: n, CommentsPerTicket: 3, DisableRequestLog: true}
}

func sortInts(v []int)       { sort.Ints(v) }
func sortStrings(v []string) { sort.Strings(v) }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func ptr[T any](v T) *T { return &v }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func cpuInfo() (string, int) {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := 0
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(rest)
				if len(f) > 0 {
					kb, _ := strconv.Atoi(f[0])
					mem = kb / 1024
				}
			}
		}
	}
	return model, mem
}

// judge fills targets_met from the targets.
func judge(r *results) {
	set := func(name string, ok *bool) { r.Targets[name] = ok }
	if r.SyncToCopyRatio != nil {
		set("sync_ge_50pct_of_copy", ptr(*r.SyncToCopyRatio >= 0.5))
	} else {
		set("sync_ge_50pct_of_copy", nil)
	}
	if r.Requests != nil && r.MinRequests != nil {
		set("requests_le_1.1x_min", ptr(float64(*r.Requests) <= 1.1*float64(*r.MinRequests)))
	} else {
		set("requests_le_1.1x_min", nil)
	}
	if len(r.RSSMB) > 0 {
		lo, hi := math.Inf(1), 0.0
		for _, v := range r.RSSMB {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		// "About the same": the largest within 25% (and 20 MB) of the smallest.
		flat := len(r.RSSMB) < 2 || hi <= math.Max(lo*1.25, lo+20)
		set("rss_le_200mb", ptr(hi <= 200))
		if len(r.RSSMB) >= 2 {
			set("rss_flat", ptr(flat))
		} else {
			set("rss_flat", nil)
		}
	} else {
		set("rss_le_200mb", nil)
		set("rss_flat", nil)
	}
	if r.HistoryEventsMax != nil {
		set("history_events_lt_10k", ptr(*r.HistoryEventsMax < 10000))
	}
	if r.Incremental1000S != nil {
		set("incremental_lt_3s", ptr(*r.Incremental1000S < 3))
	} else {
		set("incremental_lt_3s", nil)
	}
	if r.RateLimitedShare != nil {
		set("ratelimited_ge_97pct", ptr(*r.RateLimitedShare >= rateLimitedTarget))
		set("ratelimited_no_extra_429", ptr(*r.RateLimitedExtra == 0))
	} else {
		set("ratelimited_ge_97pct", nil)
		set("ratelimited_no_extra_429", nil)
	}
	if r.TwoWayP95S != nil {
		set("twoway_p95_lt_5s", ptr(*r.TwoWayP95S < 5))
	} else {
		set("twoway_p95_lt_5s", nil)
	}
}

func met(b *bool) string {
	switch {
	case b == nil:
		return "n/a"
	case *b:
		return "yes"
	default:
		return "NO"
	}
}

func fmtF(v *float64, format string) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf(format, *v)
}

func fmtI(v *int) string {
	if v == nil {
		return "n/a"
	}
	return strconv.Itoa(*v)
}

func printTable(w *os.File, r *results) {
	fmt.Fprintf(w, "\nzendesk-sync benchmark · N = %d tickets (users ≈ N/5, 3 comments per ticket) · %d cores · %s\n",
		r.N, r.Cores, r.CPUModel)
	fmt.Fprintf(w, "%s · %s · Temporal %s\n\n", r.GoVersion, strings.SplitN(r.Postgres, " on ", 2)[0], r.Temporal)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tvalue\ttarget\tmet?")
	fmt.Fprintln(tw, "------\t-----\t------\t----")
	fmt.Fprintf(tw, "1. COPY ceiling (tickets/s)\t%s\t-\t-\n", fmtF(r.CopyTicketsPerS, "%.0f"))
	fmt.Fprintf(tw, "2. first sync (tickets/s)\t%s\t-\t-\n", fmtF(r.SyncTicketsPerS, "%.0f"))
	fmt.Fprintf(tw, "   sync / COPY\t%s\t≥ 0.50\t%s\n", fmtF(r.SyncToCopyRatio, "%.3f"), met(r.Targets["sync_ge_50pct_of_copy"]))
	reqs := fmtI(r.Requests)
	if r.RequestsToMin != nil {
		reqs += fmt.Sprintf(" (%.2f× min)", *r.RequestsToMin)
	}
	fmt.Fprintf(tw, "3. API requests\t%s\t≤ 1.1× min\t%s\n", reqs, met(r.Targets["requests_le_1.1x_min"]))
	fmt.Fprintf(tw, "   minimum (export endpoints)\t%s\t-\t-\n", fmtI(r.MinRequests))
	fmt.Fprintf(tw, "   OroCRM pattern\t%s\t-\t-\n", fmtI(r.OroRequests))
	keys := make([]int, 0, len(r.RSSMB))
	for k := range r.RSSMB {
		n, _ := strconv.Atoi(k)
		keys = append(keys, n)
	}
	sortInts(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "4. worker peak RSS at %d (MB)\t%.1f\t≤ 200\t%s\n", k, r.RSSMB[strconv.Itoa(k)],
			met(r.Targets["rss_le_200mb"]))
	}
	if len(keys) >= 2 {
		fmt.Fprintf(tw, "   RSS flat as N grows\t%.1f → %.1f\t≈ same\t%s\n", r.RSSMB[strconv.Itoa(keys[0])],
			r.RSSMB[strconv.Itoa(keys[len(keys)-1])], met(r.Targets["rss_flat"]))
	}
	inc := "incremental: 1,000 changed tickets (s)"
	if r.Incremental != nil && r.Incremental.Changed != 1000 {
		inc = fmt.Sprintf("incremental: %d changed tickets (s)", r.Incremental.Changed)
	}
	fmt.Fprintf(tw, "5. %s\t%s\t< 3\t%s\n", inc, fmtF(r.Incremental1000S, "%.2f"), met(r.Targets["incremental_lt_3s"]))
	rlN := ""
	if r.RateLimited != nil {
		rlN = fmt.Sprintf(" (N=%d, 10 exports/%s)", r.RateLimited.N, r.RateLimited.Window)
	}
	fmt.Fprintf(tw, "6. rate-limited share of allowed%s\t%s\t≥ 97%%\t%s\n", rlN, fmtPct(r.RateLimitedShare),
		met(r.Targets["ratelimited_ge_97pct"]))
	fmt.Fprintf(tw, "   429s (after the first in a window)\t%s (%s)\t0 after first\t%s\n", fmtI(r.RateLimited429s),
		fmtI(r.RateLimitedExtra), met(r.Targets["ratelimited_no_extra_429"]))
	fmt.Fprintf(tw, "7. two-way latency p50 / p95 (s)\t%s / %s\tp95 < 5\t%s\n", fmtF(r.TwoWayP50S, "%.3f"),
		fmtF(r.TwoWayP95S, "%.3f"), met(r.Targets["twoway_p95_lt_5s"]))
	fmt.Fprintf(tw, "8. webhook: Zendesk change → case, p95 (s)\t%s\t≤ 2\t%s\n", fmtF(r.WebhookP95S, "%.3f"),
		met(r.Targets["webhook_p95_le_2s"]))
	fmt.Fprintf(tw, "   export requests those changes caused\t%s\t0\t%s\n", fmtI(r.WebhookExportRequests),
		met(r.Targets["webhook_export_requests_0"]))
	fmt.Fprintf(tw, "   most history events in one run (%s runs)\t%s\t< 10,000\t%s\n", fmtI(r.HistoryRuns),
		fmtI(r.HistoryEventsMax), met(r.Targets["history_events_lt_10k"]))
	printFleetRows(tw, r)
	_ = tw.Flush()
	printPhases(w, r.Sync)
	if c := r.Ceiling; c != nil {
		fmt.Fprintf(w, "COPY ceiling rows: %d tickets, %d cases, %d users, %d contacts, %d comments (%.0f MB raw JSON); "+
			"COPY %.2f s (export paging, not timed: %.1f s)\n", c.Tickets, c.Cases, c.Users, c.Contacts, c.Comments,
			float64(c.Bytes)/1e6, c.CopySeconds, c.FetchSeconds)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "ERROR: %s\n", e)
	}
	fmt.Fprintf(w, "total benchmark time %.0f s\n", r.TotalSeconds)
}

// printPhases prints where the first sync's time went, from its workflow history.
func printPhases(w *os.File, s *syncResult) {
	if s == nil || s.Phases == nil {
		return
	}
	fmt.Fprintf(w, "\nfirst sync at %d, from the workflow history: tickets stream %.1f s, comments stream %.1f s, "+
		"%d workflow tasks (%.1f s scheduled→completed)\n", s.N, s.Phases.TicketsStream, s.Phases.CommentStream,
		s.Phases.WorkflowTasks, s.Phases.WFTaskSeconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  activity\tcount\trun s (sum)\tmean ms\tmax ms\tqueued s (sum)\tretries")
	names := make([]string, 0, len(s.Phases.Activities))
	for k := range s.Phases.Activities {
		names = append(names, k)
	}
	sortStrings(names)
	for _, k := range names {
		a := s.Phases.Activities[k]
		mean := 0.0
		if a.Count > 0 {
			mean = a.RunSeconds / float64(a.Count) * 1000
		}
		fmt.Fprintf(tw, "  %s\t%d\t%.1f\t%.0f\t%.0f\t%.1f\t%d\n", k, a.Count, a.RunSeconds, mean, a.MaxSeconds*1000,
			a.QueueSeconds, a.Retries)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "  requests by endpoint: %s\n", endpoints(s.ByEndpoint))
}

func fmtPct(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", *v*100)
}

func endpoints(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func writeResults(dir string, r *results, began time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if r.Quick || r.ScaleOnly {
		p := filepath.Join(dir, "quick.json")
		if r.ScaleOnly && !r.Quick {
			p = filepath.Join(dir, "scale.json")
		}
		fmt.Fprintln(os.Stderr, "bench: quick or scale-only run: results in", p, "(latest.json untouched)")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		if len(r.Errors) > 0 {
			return errors.New(strings.Join(r.Errors, "; "))
		}
		return nil
	}
	dated := filepath.Join(dir, began.UTC().Format("2006-01-02T15-04-05Z")+".json")
	if err := os.WriteFile(dated, b, 0o644); err != nil {
		return err
	}
	latest := filepath.Join(dir, "latest.json")
	if err := os.WriteFile(latest, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "bench: results in", latest, "and", dated)
	if len(r.Errors) > 0 {
		return errors.New(strings.Join(r.Errors, "; "))
	}
	return nil
}
