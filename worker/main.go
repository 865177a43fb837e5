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
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/zendesk-sync/zendesk-sync/config"
	"github.com/zendesk-sync/zendesk-sync/internal/workerapp"
	"github.com/zendesk-sync/zendesk-sync/secrets"
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
	webhookAddrSetting = config.Setting{Flag: "webhook-addr", Env: "WEBHOOK_ADDR", Default: "127.0.0.1:9465",
		Usage: "Zendesk webhook receiver `address` (host:port, POST /webhooks/zendesk/<integration id>); empty or " +
			"off to disable. Several workers on one host: the first to bind it serves it"}
	perPageSetting = config.Setting{Flag: "per-page", Default: "0",
		Usage: "Zendesk export page `size` (0 = 1000, the maximum)"}
	logJSONSetting = config.Setting{Flag: "log-json", Env: "LOG_FORMAT", Default: "false", Source: "on when $LOG_FORMAT is json",
		Usage: "JSON logs instead of text"}
	stopTimeoutSetting = config.Setting{Flag: "stop-timeout", Env: "WORKER_STOP_TIMEOUT", Default: "20s",
		Usage: "on SIGTERM or SIGINT, how long (a `duration`) running activities may take to finish before they " +
			"are cancelled; keep it below the grace period of whatever sends the signal"}
	activitySlotsSetting = config.Setting{Flag: "activity-slots", Env: "ACTIVITY_SLOTS",
		Default: strconv.Itoa(workerapp.DefaultActivitySlots),
		Usage:   "the most interactive activities (pushes, settings, small incremental passes) this worker runs at once"}
	bulkActivitySlotsSetting = config.Setting{Flag: "bulk-activity-slots", Env: "BULK_ACTIVITY_SLOTS",
		Default: strconv.Itoa(workerapp.DefaultBulkActivitySlots),
		Usage: "the most bulk activities (first-sync page fetches and applies, from the <TASK_QUEUE>-bulk queue) " +
			"this worker runs at once; raise it when first syncs mostly wait on Zendesk's rate limits, lower it to " +
			"leave more CPU and database to the rest"}
	retentionSetting = config.Setting{Flag: "retention", Env: "RETENTION", Default: "720h",
		Usage: "how long (a `duration`) processed outbox rows, conflict decisions and resolved failures are kept " +
			"before the hourly prune deletes them; 0 disables pruning"}
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// options is the worker's command line and environment, resolved.
type options struct {
	workerapp.Config
	logJSON bool
}

// parseArgs reads the flags, then the environment. done means the caller should exit with code (help or a
// usage error, already printed).
func parseArgs(args []string, errOut io.Writer) (o options, code int, done bool) {
	var set config.Set
	set.BindConfig(&o.Config.Config)
	set.String(&o.MetricsAddr, metricsAddrSetting)
	set.String(&o.WebhookAddr, webhookAddrSetting)
	set.Int(&o.PerPage, perPageSetting)
	set.Bool(&o.logJSON, logJSONSetting, func(v string) bool { return v == "json" })
	set.Duration(&o.StopTimeout, stopTimeoutSetting)
	set.Duration(&o.Retention, retentionSetting)
	set.Int(&o.ActivitySlots, activitySlotsSetting)
	set.Int(&o.BulkActivitySlots, bulkActivitySlotsSetting)

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
	if o.ActivitySlots < 1 || o.BulkActivitySlots < 1 {
		fmt.Fprintf(errOut, "worker: activity slots must be at least 1 (-activity-slots %d, -bulk-activity-slots %d)\n",
			o.ActivitySlots, o.BulkActivitySlots)
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
	// The key is read first: a key that cannot be read stops the worker before it connects anywhere.
	key, err := secrets.LoadKey()
	if err != nil {
		return err
	}
	return workerapp.Run(ctx, o.Config, workerapp.Deps{Key: key, Logger: logger})
}
