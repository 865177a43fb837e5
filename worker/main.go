// Command worker runs the zendesk-sync Temporal worker: it polls the task queue, runs the integration workflows
// and their activities, relays local changes, prunes expired bookkeeping, serves Prometheus metrics, and stops
// gracefully on SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/config"
	"github.com/zendesk-sync/zendesk-sync/relay"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/workflows"
)

// Exit codes: 1 for a failure, 2 for a command line or setting that could not be understood.
const (
	exitFailure = 1
	exitUsage   = 2
)

// The worker's own settings (the connection settings are config's, shared with the starter).
var (
	metricsAddrSetting = config.Setting{Flag: "metrics-addr", Env: "METRICS_ADDR", Default: "127.0.0.1:9464",
		Usage: "Prometheus metrics `address` (host:port, /metrics); empty to disable"}
	perPageSetting = config.Setting{Flag: "per-page", Default: "0",
		Usage: "Zendesk export page `size` (0 = 1000, the maximum)"}
	logJSONSetting = config.Setting{Flag: "log-json", Env: "LOG_FORMAT", Default: "false", Source: "on when $LOG_FORMAT is json",
		Usage: "JSON logs instead of text"}
	stopTimeoutSetting = config.Setting{Flag: "stop-timeout", Env: "WORKER_STOP_TIMEOUT", Default: "20s",
		Usage: "on SIGTERM or SIGINT, how long (a `duration`) running activities may take to finish before they " +
			"are cancelled; keep it below the grace period of whatever sends the signal"}
	retentionSetting = config.Setting{Flag: "retention", Env: "RETENTION", Default: "720h",
		Usage: "how long (a `duration`) processed outbox rows, conflict decisions and resolved failures are kept " +
			"before the hourly prune deletes them; 0 disables pruning"}
)

// pruneEvery is how often the worker prunes expired bookkeeping. Several workers may prune; an advisory lock lets
// one at a time do it.
const pruneEvery = time.Hour

// closeGrace bounds the wait, after the stop timeout has cancelled them, for activities to return before the
// connections they use are closed.
const closeGrace = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// options is the worker's command line and environment, resolved.
type options struct {
	cfg         config.Config
	metricsAddr string
	perPage     int
	logJSON     bool
	stopTimeout time.Duration
	retention   time.Duration
}

// parseArgs reads the flags, then the environment. done means the caller should exit with code (help or a
// usage error, already printed).
func parseArgs(args []string, errOut io.Writer) (o options, code int, done bool) {
	var set config.Set
	set.BindConfig(&o.cfg)
	set.String(&o.metricsAddr, metricsAddrSetting)
	set.Int(&o.perPage, perPageSetting)
	set.Bool(&o.logJSON, logJSONSetting, func(v string) bool { return v == "json" })
	set.Duration(&o.stopTimeout, stopTimeoutSetting)
	set.Duration(&o.retention, retentionSetting)

	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(errOut)
	set.BindFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(errOut, "Usage: worker [flags]\n\n"+
			"Runs the zendesk-sync Temporal worker: the integration workflows and their activities, the outbox\n"+
			"relay of two-way integrations, the hourly prune of expired bookkeeping and the Prometheus metrics.\n"+
			"SIGTERM or SIGINT stops it gracefully. Each setting comes from its flag, else its environment\n"+
			"variable, else its default.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(errOut, "\n%s\n", config.SecretKeyHelp)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, 0, true
		}
		return o, exitUsage, true // the flag package printed the error and the usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(errOut, "worker: unexpected argument %q (the worker takes flags only; see worker --help)\n", fs.Arg(0))
		return o, exitUsage, true
	}
	if err := set.Resolve(); err != nil {
		fmt.Fprintf(errOut, "worker: %v\n", err)
		return o, exitUsage, true
	}
	return o, 0, false
}

// run is the whole worker; it returns the process exit code once ctx ends and everything has stopped.
func run(ctx context.Context, args []string, errOut io.Writer) int {
	o, code, done := parseArgs(args, errOut)
	if done {
		return code
	}
	var handler slog.Handler = slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelInfo})
	if o.logJSON {
		handler = slog.NewJSONHandler(errOut, &slog.HandlerOptions{Level: slog.LevelInfo})
	}
	logger := slog.New(handler)
	slog.SetDefault(logger)
	if err := serve(ctx, o, logger); err != nil {
		if ctx.Err() != nil {
			// Stopped while starting (e.g. still waiting for PostgreSQL): what failed was cut short by the stop.
			logger.Info("worker stopped while starting", "error", err)
			return 0
		}
		fmt.Fprintln(errOut, "worker:", err)
		return exitFailure
	}
	return 0
}

func serve(ctx context.Context, o options, logger *slog.Logger) error {
	key, err := secrets.LoadKey()
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, o.cfg.DatabaseURL, 30*time.Second)
	if err != nil {
		return err
	}
	defer st.Close()

	c, err := client.DialContext(ctx, client.Options{HostPort: o.cfg.TemporalAddress, Namespace: o.cfg.TemporalNamespace,
		Logger: tlog.NewStructuredLogger(logger)})
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s: %w", o.cfg.TemporalAddress, err)
	}
	defer c.Close()
	ensureSearchAttributes(ctx, c, o.cfg.TemporalNamespace, logger)

	// Everything started beside the Temporal worker is stopped and awaited before the connections it uses are
	// closed, also when the Temporal worker fails instead of being stopped.
	var bg sync.WaitGroup
	bgCtx, stopBg := context.WithCancel(ctx)
	defer func() { stopBg(); bg.Wait() }()

	// Wakes a two-way integration's workflow as soon as a case changes locally (outbox NOTIFY, with rescans).
	bg.Add(1)
	go func() {
		defer bg.Done()
		r := &relay.Relay{DatabaseURL: o.cfg.DatabaseURL, DB: st.DB, Temporal: c, Logger: logger}
		// Run returns ctx's error when the worker stops: that is the clean end, not a failure.
		if err := r.Run(bgCtx); err != nil && bgCtx.Err() == nil {
			logger.Error("outbox relay stopped", "error", err)
		}
	}()

	if o.retention > 0 {
		bg.Add(1)
		go func() {
			defer bg.Done()
			prune(bgCtx, st, store.PruneOptions{Retention: o.retention}, logger)
		}()
	} else {
		logger.Info("pruning disabled (retention 0)")
	}

	if o.metricsAddr != "" {
		stopMetrics := serveMetrics(o.metricsAddr, logger)
		defer stopMetrics()
	}

	inflight := &stoppingActivities{logger: logger}
	w := worker.New(c, o.cfg.TaskQueue, worker.Options{
		// Once the worker stops polling, running activities get this long to finish; then their contexts are
		// cancelled, and what did not finish is retried by another worker (activities are idempotent).
		WorkerStopTimeout: o.stopTimeout,
		Interceptors:      []interceptor.WorkerInterceptor{inflight},
	})
	workflows.Register(w, &activities.Activities{Store: st, Key: key, PerPage: o.perPage, Logger: logger})
	logger.Info("worker started", "temporal", o.cfg.TemporalAddress, "namespace", o.cfg.TemporalNamespace,
		"task_queue", o.cfg.TaskQueue, "stop_timeout", o.stopTimeout, "retention", o.retention)
	// Run stops polling when ctx ends and waits for running activities up to the stop timeout.
	interrupt := make(chan interface{})
	go func() { <-ctx.Done(); close(interrupt) }()
	if err := w.Run(interrupt); err != nil {
		return fmt.Errorf("run the Temporal worker: %w", err)
	}
	// Activities cancelled at the stop timeout may still be returning: let them, briefly, before their store and
	// client are closed under them.
	if !inflight.wait(closeGrace) {
		logger.Warn("activities still running after the stop timeout; closing their connections", "grace", closeGrace)
	}
	logger.Info("worker stopped")
	return nil
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

// serveMetrics serves /metrics until the returned function shuts it down (waiting briefly for open scrapes). A
// port that cannot be bound is reported, not fatal: the sync matters more than its metrics.
func serveMetrics(addr string, logger *slog.Logger) (stop func()) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Error("metrics not served: cannot listen", "addr", addr, "error", err)
		return func() {}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
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

// ensureSearchAttributes registers the attributes the workflow upserts; without them every upsert would fail the
// workflow task. A cluster that refuses (no permission) is reported, not fatal: an operator may add them.
func ensureSearchAttributes(ctx context.Context, c client.Client, ns string, logger *slog.Logger) {
	_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: ns,
		SearchAttributes: map[string]enumspb.IndexedValueType{
			workflows.IntegrationKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			workflows.PhaseKey.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		},
	})
	if err != nil && !isAlreadyExists(err) {
		logger.Warn("could not register search attributes; register them with `temporal operator search-attribute create`",
			"error", err)
	}
}
