// Package workerapp is the one way to run a zendesk-sync worker: the Temporal worker with the integration workflows
// and their activities, the outbox relay, the pruner of expired bookkeeping and the metrics server, started
// together and stopped gracefully together. The worker binary, the end-to-end tests and the benchmark all run it,
// so what they test is what ships.
package workerapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/config"
	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/internal/opsmetrics"
	"github.com/zendesk-sync/zendesk-sync/internal/webhook"
	"github.com/zendesk-sync/zendesk-sync/relay"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/workflows"
)

// Config is what a worker runs with: the connection settings shared with the starter and the worker's own.
type Config struct {
	config.Config
	// MetricsAddr is where /metrics is served (host:port); empty: not served.
	MetricsAddr string
	// PerPage is the Zendesk export page size (0: Zendesk's maximum).
	PerPage int
	// StopTimeout is how long running activities may take to finish once the worker stops.
	StopTimeout time.Duration
	// Retention is how long processed bookkeeping is kept before the pruner deletes it; 0 disables pruning.
	Retention time.Duration
	// RelayRescan is the relay's safety-net scan interval (0: the relay's default).
	RelayRescan time.Duration
	// WebhookAddr is where the Zendesk webhook receiver listens (host:port); empty: not served. When another
	// process (another worker on this host) holds the address, this worker runs without it: see webhookListener.
	WebhookAddr string
	// ActivitySlots is the most interactive activities (pushes, settings, small incremental passes: the task
	// queue's) this worker runs at once; 0: DefaultActivitySlots.
	ActivitySlots int
	// BulkActivitySlots is the most bulk activities (first-sync pages: the bulk queue's) this worker runs at once;
	// 0: DefaultBulkActivitySlots.
	BulkActivitySlots int
}

// Deps is what a worker is given rather than builds. Only Key is required.
type Deps struct {
	Key    *secrets.Key
	Logger *slog.Logger // nil: slog.Default()
	// Store, when nil, is opened from Config.DatabaseURL and closed when Run returns; a given store is left open.
	Store *store.Store
	// Temporal, when nil, is dialled from Config and closed when Run returns; a given client is left open.
	Temporal client.Client
	// Activities, when set, are registered instead of those built from Store, Key, PerPage and Logger (tests set
	// hooks on them).
	Activities *activities.Activities
	// WebhookListener, when set, serves the webhook receiver instead of Config.WebhookAddr (tests listen on port 0);
	// Run closes it.
	WebhookListener net.Listener
}

// pruneEvery is how often the worker prunes expired bookkeeping. Several workers may prune; an advisory lock lets
// one at a time do it.
const pruneEvery = time.Hour

// DefaultActivitySlots is the most interactive activities one worker runs at once: the SDK's default, stated so
// that the metrics can show it (zendesk_sync_activity_slots) and an operator can tell a full worker from an idle one.
const DefaultActivitySlots = 1000

// DefaultBulkActivitySlots is the most bulk activities (page fetch and apply of first syncs) one worker runs at once.
// Enough for a few first syncs to pipeline (each keeps a fetch and an apply running) and keep 2 cores and their share
// of PostgreSQL busy; few enough that the interactive activities beside them still find CPU and database
// connections (the store's pool is 20). More first syncs than that wait in the bulk queue, not in the worker.
const DefaultBulkActivitySlots = 8

// closeGrace bounds the wait, after the stop timeout has cancelled them, for activities to return before the
// connections they use are closed.
const closeGrace = 10 * time.Second

// storeOpenTimeout is how long Run waits for PostgreSQL to accept connections (e.g. while it starts beside the
// worker).
const storeOpenTimeout = 30 * time.Second

// connect opens the store and the Temporal client deps does not bring; closeConns closes what it opened.
func connect(ctx context.Context, cfg Config, deps Deps, logger *slog.Logger) (st *store.Store, c client.Client,
	closeConns func(), err error) {
	st, c = deps.Store, deps.Temporal
	var opened []func()
	closeConns = func() {
		for i := len(opened) - 1; i >= 0; i-- {
			opened[i]()
		}
	}
	if st == nil {
		if st, err = store.Open(ctx, cfg.DatabaseURL, storeOpenTimeout); err != nil {
			return nil, nil, nil, err
		}
		opened = append(opened, func() { st.Close() })
	}
	if c == nil {
		c, err = client.DialContext(ctx, client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace,
			Logger: tlog.NewStructuredLogger(logger),
			// The workflows carry cursors, ids and counters, never pages of records, so the worker's requests to
			// Temporal are small: gzip (the SDK's default) saved little on them and was about a tenth of the CPU of
			// a worker of waiting integrations (bench/results/PROFILE.md, round 4).
			ConnectionOptions: client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionNone{}}})
		if err != nil {
			closeConns()
			return nil, nil, nil, fmt.Errorf("connect to Temporal at %s: %w", cfg.TemporalAddress, err)
		}
		opened = append(opened, c.Close)
	}
	return st, c, closeConns, nil
}

// Run runs the worker until ctx ends, then stops it gracefully: the Temporal worker stops polling and gives running
// activities cfg.StopTimeout to finish, the relay, the pruner and the metrics server stop and are awaited, and only
// then are the connections closed. A clean stop returns nil.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	if deps.Key == nil {
		return errors.New("run the worker: no secret key")
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.Default()
	}
	// The metrics address is bound first: a port already taken is a setting to fix, reported before anything
	// connects, rather than a worker that runs unobserved.
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("serve metrics on %s (METRICS_ADDR or -metrics-addr; empty disables them): %w",
				cfg.MetricsAddr, err)
		}
		metricsLn = ln
		defer ln.Close() // closed by the server once it serves; this covers a return before
	}
	hookLn, err := webhookListener(cfg.WebhookAddr, deps.WebhookListener, logger)
	if err != nil {
		return err
	}
	if hookLn != nil {
		defer hookLn.Close() // closed by the server once it serves; this covers a return before
	}
	st, c, closeConns, err := connect(ctx, cfg, deps, logger)
	if err != nil {
		return err
	}
	defer closeConns()
	if err := EnsureSearchAttributes(ctx, c, cfg.TemporalNamespace); err != nil {
		// A cluster that refuses (no permission) is reported, not fatal: an operator may add them.
		logger.Warn("could not register search attributes; register them with `temporal operator search-attribute create`",
			"error", err)
	}

	// Everything started beside the Temporal worker is stopped and awaited before the connections it uses are
	// closed, also when the Temporal worker fails instead of being stopped.
	defer startBackground(ctx, cfg, st, c, logger)()

	if metricsLn != nil {
		stopMetrics := serveMetrics(metricsLn, st, logger)
		defer stopMetrics()
	}
	if hookLn != nil {
		// Stopped before the store and client it uses are closed (defers run last-in first-out).
		recv := &webhook.Receiver{Store: st, Key: deps.Key, Temporal: c, Logger: logger}
		defer recv.Serve(hookLn)()
	}

	ws, inflight := newWorkers(c, cfg, deps, st, logger)
	logger.Info("worker started", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace,
		"task_queue", cfg.TaskQueue, "bulk_task_queue", contract.BulkTaskQueue(cfg.TaskQueue),
		"activity_slots", slotsOr(cfg.ActivitySlots, DefaultActivitySlots),
		"bulk_activity_slots", slotsOr(cfg.BulkActivitySlots, DefaultBulkActivitySlots),
		"stop_timeout", cfg.StopTimeout, "retention", cfg.Retention)
	if err := runAll(ctx, ws); err != nil {
		return err
	}
	// Activities cancelled at the stop timeout may still be returning: let them, briefly, before their store and
	// client are closed under them.
	if !inflight.wait(closeGrace) {
		logger.Warn("activities still running after the stop timeout; closing their connections", "grace", closeGrace)
	}
	logger.Info("worker stopped")
	return nil
}

// startBackground starts what runs beside the Temporal worker: the outbox relay and the pruner. The returned
// function stops them and waits for them.
func startBackground(ctx context.Context, cfg Config, st *store.Store, c client.Client, logger *slog.Logger) (stop func()) {
	var bg sync.WaitGroup
	bgCtx, stopBg := context.WithCancel(ctx)
	// Wakes a two-way integration's workflow as soon as a case changes locally (outbox NOTIFY, with rescans).
	bg.Add(1)
	go func() {
		defer bg.Done()
		r := &relay.Relay{DatabaseURL: cfg.DatabaseURL, DB: st.DB, Temporal: c, Logger: logger, Rescan: cfg.RelayRescan}
		// Run returns ctx's error when the worker stops: that is the clean end, not a failure.
		if err := r.Run(bgCtx); err != nil && bgCtx.Err() == nil {
			logger.Error("outbox relay stopped", "error", err)
		}
	}()
	if cfg.Retention > 0 {
		bg.Add(1)
		go func() {
			defer bg.Done()
			prune(bgCtx, st, store.PruneOptions{Retention: cfg.Retention}, logger)
		}()
	} else {
		logger.Info("pruning disabled (retention 0)")
	}
	return func() { stopBg(); bg.Wait() }
}

// newWorkers are the Temporal workers of this process, on one client: the interactive one on the task queue (the
// workflows and every activity) and the bulk one on its bulk queue (the activities only), each with its own activity
// slots, so a full bulk queue never holds an interactive activity back. Both share the interceptors (the graceful
// stop's count of running activities, returned, and the per-pass log) and the activities' request counting.
func newWorkers(c client.Client, cfg Config, deps Deps, st *store.Store, logger *slog.Logger) ([]worker.Worker, *stoppingActivities) {
	inflight := &stoppingActivities{logger: logger}
	passes := newPassLog(logger)
	slots, bulkSlots := slotsOr(cfg.ActivitySlots, DefaultActivitySlots), slotsOr(cfg.BulkActivitySlots, DefaultBulkActivitySlots)
	opsmetrics.ActivitySlots.Set(float64(slots))
	opsmetrics.BulkActivitySlots.Set(float64(bulkSlots))
	opts := func(slots int) worker.Options {
		return worker.Options{
			MaxConcurrentActivityExecutionSize: slots,
			// The first fetch of an incremental pass runs as a local activity in the workflow worker: the
			// interactive activities' limit (ACTIVITY_SLOTS) holds for those too.
			MaxConcurrentLocalActivityExecutionSize: slots,
			// Once the worker stops polling, running activities get this long to finish; then their contexts are
			// cancelled, and what did not finish is retried by another worker (activities are idempotent).
			WorkerStopTimeout: cfg.StopTimeout,
			Interceptors:      []interceptor.WorkerInterceptor{inflight, passes},
		}
	}
	acts := deps.Activities
	if acts == nil {
		acts = &activities.Activities{Store: st, Key: deps.Key, PerPage: cfg.PerPage, Logger: logger}
	}
	if acts.HTTPClient == nil {
		acts.HTTPClient = &http.Client{Transport: passes.transport(http.DefaultTransport)}
	}
	passes.flush = acts.FlushRequestCounts
	funcs := activityFuncs(acts)
	w := worker.New(c, cfg.TaskQueue, opts(slots))
	workflows.Register(w, funcs)
	bulkOpts := opts(bulkSlots)
	bulkOpts.DisableWorkflowWorker = true
	bulk := worker.New(c, contract.BulkTaskQueue(cfg.TaskQueue), bulkOpts)
	// Every activity, though the workflow sends only page activities there: the queue is the workflow's choice.
	workflows.RegisterActivities(bulk, funcs)
	return []worker.Worker{w, bulk}, inflight
}

func slotsOr(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

// runAll runs the workers until ctx ends (each then stops polling and waits for its running activities up to the
// stop timeout, together) or one of them fails, which stops the others.
func runAll(ctx context.Context, ws []worker.Worker) error {
	interrupt := make(chan interface{})
	var once sync.Once
	stop := func() { once.Do(func() { close(interrupt) }) }
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-interrupt:
		}
	}()
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(interrupt); err != nil {
				errs[i] = fmt.Errorf("run the Temporal worker: %w", err)
			}
			stop()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// webhookListener binds the webhook receiver's address. Any worker can receive a call (the receiver only signals the
// integration's workflow), so with several workers on one host the first to bind the address serves it and the
// others run without a receiver, saying so; elsewhere the address is a setting to fix, reported at once.
func webhookListener(addr string, given net.Listener, logger *slog.Logger) (net.Listener, error) {
	if given != nil {
		return given, nil
	}
	if addr == "" || addr == "off" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		logger.Info("webhook receiver not started in this worker: its address is taken (another worker on this host "+
			"serves it; WEBHOOK_ADDR, empty disables it)", "addr", addr)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("serve the webhook receiver on %s (WEBHOOK_ADDR or -webhook-addr; empty disables it): %w",
			addr, err)
	}
	return ln, nil
}

// prune deletes expired bookkeeping now and then every pruneEvery, until ctx ends.
func prune(ctx context.Context, st *store.Store, opts store.PruneOptions, logger *slog.Logger) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		res, err := st.Prune(ctx, opts)
		switch {
		case ctx.Err() != nil:
			return // stopping: a prune cut short is finished by the next run
		case err != nil:
			logger.Error("prune of expired bookkeeping failed; retrying at the next run", "error", err, "next_in", pruneEvery)
		case res.Skipped:
			logger.Debug("prune skipped: another worker is pruning")
		default:
			var total int64
			attrs := []any{}
			for table, n := range res.Tables {
				total += n.Rows
				attrs = append(attrs, table, n.Rows)
			}
			if total > 0 {
				logger.Info("pruned expired bookkeeping", append(attrs, "retention", opts.Retention)...)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// serveMetrics serves /metrics on ln until the returned function shuts it down (waiting briefly for open scrapes).
func serveMetrics(ln net.Listener, st *store.Store, logger *slog.Logger) (stop func()) {
	addr := ln.Addr().String()
	mux := http.NewServeMux()
	// The per-integration state read from PostgreSQL at each scrape is on a registry of this Run's own (its
	// collector holds this Run's store); the process-wide metrics are on the default one.
	reg := prometheus.NewRegistry()
	reg.MustRegister(opsmetrics.NewState(st.DB))
	mux.Handle("/metrics", promhttp.HandlerFor(prometheus.Gatherers{prometheus.DefaultGatherer, reg}, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "addr", addr, "error", err)
		}
	}()
	logger.Info("metrics served", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			logger.Warn("metrics server did not shut down cleanly", "error", err)
			_ = srv.Close()
		}
		<-done
	}
}

// EnsureSearchAttributes registers in namespace ns the attributes the workflow upserts; without them every upsert
// would fail the workflow task. Attributes already registered are no error.
func EnsureSearchAttributes(ctx context.Context, c client.Client, ns string) error {
	_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: ns,
		SearchAttributes: map[string]enumspb.IndexedValueType{
			workflows.IntegrationKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			workflows.PhaseKey.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		},
	})
	if err != nil && !isAlreadyExists(err) {
		return fmt.Errorf("register search attributes in namespace %s: %w", ns, err)
	}
	return nil
}
