// Command worker runs the zendesk-sync Temporal worker: it polls the task queue, runs the integration workflows
// and their activities, serves Prometheus metrics, and stops gracefully on SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/config"
	"github.com/zendesk-sync/zendesk-sync/relay"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/workflows"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := config.FromEnv()
	metricsAddr := envOr("METRICS_ADDR", "127.0.0.1:9464")
	perPage := 0
	fs := flag.NewFlagSet("worker", flag.ExitOnError)
	fs.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "PostgreSQL URL (env DATABASE_URL)")
	fs.StringVar(&cfg.TemporalAddress, "temporal-address", cfg.TemporalAddress, "Temporal frontend (env TEMPORAL_ADDRESS)")
	fs.StringVar(&cfg.TemporalNamespace, "namespace", cfg.TemporalNamespace, "Temporal namespace (env TEMPORAL_NAMESPACE)")
	fs.StringVar(&cfg.TaskQueue, "task-queue", cfg.TaskQueue, "task queue (env TASK_QUEUE)")
	fs.StringVar(&metricsAddr, "metrics-addr", metricsAddr, "Prometheus metrics address, empty to disable (env METRICS_ADDR)")
	fs.IntVar(&perPage, "per-page", 0, "Zendesk export page size (0 = 1000, the maximum)")
	logJSON := fs.Bool("log-json", os.Getenv("LOG_FORMAT") == "json", "JSON logs (env LOG_FORMAT=json)")
	_ = fs.Parse(os.Args[1:])

	var handler slog.Handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})
	if *logJSON {
		handler = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})
	}
	logger := slog.New(handler)
	slog.SetDefault(logger)

	key, err := secrets.LoadKey()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	st, err := store.Open(ctx, cfg.DatabaseURL, 30*time.Second)
	if err != nil {
		return err
	}
	defer st.Close()

	c, err := client.DialContext(ctx, client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace,
		Logger: tlog.NewStructuredLogger(logger)})
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s: %w", cfg.TemporalAddress, err)
	}
	defer c.Close()
	ensureSearchAttributes(ctx, c, cfg.TemporalNamespace, logger)

	// Wakes a two-way integration's workflow as soon as a case changes locally (outbox NOTIFY, with rescans).
	go func() {
		r := &relay.Relay{DatabaseURL: cfg.DatabaseURL, DB: st.DB, Temporal: c, Logger: logger}
		if err := r.Run(ctx); err != nil && ctx.Err() == nil {
			logger.Error("outbox relay stopped", "error", err)
		}
	}()

	if metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.Handler())
		srv := &http.Server{Addr: metricsAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics server stopped", "addr", metricsAddr, "error", err)
			}
		}()
		defer srv.Close()
		logger.Info("metrics served", "url", "http://"+metricsAddr+"/metrics")
	}

	w := worker.New(c, cfg.TaskQueue, worker.Options{})
	workflows.Register(w, &activities.Activities{Store: st, Key: key, PerPage: perPage, Logger: logger})
	logger.Info("worker started", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace, "task_queue", cfg.TaskQueue)
	// Run stops polling when ctx ends and waits for running activities up to the worker's stop timeout.
	interrupt := make(chan interface{})
	go func() { <-ctx.Done(); close(interrupt) }()
	if err := w.Run(interrupt); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	logger.Info("worker stopped")
	return nil
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

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
