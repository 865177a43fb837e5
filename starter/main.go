// Command starter is the CLI that does what the CRM's buttons do: it manages integrations, asks for syncs and
// resets, shows progress, and edits cases. It is a thin shell over package control; this package only parses
// flags, opens the connections a command needs, and renders the results as text or JSON.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/zendesk-sync/zendesk-sync/config"
	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
)

func main() {
	// Ctrl-C stops a `progress --follow` or `sync --wait` cleanly instead of killing it mid-write.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes: 1 for a failed command, 2 for a command line that could not be understood.
const (
	exitFailure = 1
	exitUsage   = 2
)

// run executes one command line and returns the process exit code; tests call it in-process.
func run(ctx context.Context, args []string, out, errOut io.Writer) int {
	root, a := newRoot(out, errOut)
	defer a.close()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(errOut, "starter: %v\n", err)
	var ue usageError
	// Cobra parses flags and validates arguments before it calls PersistentPreRunE, so an error that arrives
	// before our hook ran is a malformed command line, whatever cobra's own error type. A flag value control
	// finds malformed is one too.
	if errors.As(err, &ue) || !a.started || control.IsInvalid(err) {
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(errOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	return exitFailure
}

// usageError marks an error as the user's command line being wrong (exit code 2).
type usageError struct{ error }

func usagef(format string, args ...interface{}) error { return usageError{fmt.Errorf(format, args...)} }

// What a command needs before it runs, kept in cobra annotations so the one pre-run hook opens only those.
const (
	needStore    = "store"
	needTemporal = "temporal"
	needKey      = "key"    // the secret key must be configured
	mayUseKey    = "maykey" // the key is loaded when configured; control reports ErrNoKey if it turns out to be needed
)

// app holds the settings and the connections opened for the running command.
type app struct {
	cfg      config.Config
	settings config.Set // cfg's flags; resolved against the environment in prepare
	output   string
	out      io.Writer
	errOut   io.Writer
	started  bool // PersistentPreRunE ran: later errors are the command's, not the command line's

	store    *store.Store
	temporal client.Client
	key      *secrets.Key
}

func newRoot(out, errOut io.Writer) (*cobra.Command, *app) {
	a := &app{out: out, errOut: errOut}
	root := &cobra.Command{
		Use:   "starter",
		Short: "Manage Zendesk integrations, their syncs and the CRM's cases",
		Long: "Manage Zendesk integrations, their syncs and the CRM's cases.\n\n" +
			"starter does what the CRM's buttons do: create and activate Zendesk integrations, schedule syncs,\n" +
			"reset them, follow their progress, and edit CRM cases. Each setting comes from its flag, else its\n" +
			"environment variable, else its default; help texts name the variable, never its value.",
		Example: "  starter user add --email admin@example.com --name Admin\n" +
			"  starter integration create --name acme --url https://acme.zendesk.com --email agent@acme.com --token T --owner admin@example.com\n" +
			"  starter integration activate acme\n" +
			"  starter progress acme --follow",
		SilenceErrors:     true, // run prints errors once, as "starter: <message>"
		SilenceUsage:      true, // a failed sync is not a reason to dump the usage text
		PersistentPreRunE: a.prepare,
		// A bare `starter` is a usage error rather than a help page with exit code 0, so scripts notice.
		Args: noArgs,
		RunE: groupRun,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	a.settings.BindConfig(&a.cfg)
	a.settings.BindPFlags(root.PersistentFlags())
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "text", "output format: text or json")
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// Every command's help names the secret-key variables (subcommands inherit the template).
	root.SetHelpTemplate(root.HelpTemplate() + "\n" + config.SecretKeyHelp + "\n\n" + exitCodesHelp + "\n")

	root.AddCommand(a.integrationCmd(), a.syncCmd(), a.resetCmd(), a.progressCmd(), a.caseCmd(), a.failuresCmd(),
		a.userCmd(), a.conflictsCmd())
	return root, a
}

// exitCodesHelp is in every command's help (the template adds it), as DESIGN.md's contract says.
const exitCodesHelp = `Exit codes:
  0  success
  1  the command failed (e.g. an integration, case or user that does not exist, Zendesk, PostgreSQL or
     Temporal unreachable, a sync that failed)
  2  the command line is wrong: an unknown command or flag, a missing argument or flag, a malformed value`

// noArgs rejects stray arguments of group commands as an unknown subcommand, suggesting the nearest ones.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, which it only sets on its own lookup path
	}
	if sugg := cmd.SuggestionsFor(args[0]); len(sugg) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(sugg, "\n\t")
	}
	return usageError{errors.New(msg)}
}

// groupRun makes a group command without a subcommand a usage error, showing what it offers.
func groupRun(cmd *cobra.Command, _ []string) error {
	cmd.SetOut(cmd.ErrOrStderr())
	_ = cmd.Usage()
	return usagef("%s needs a subcommand", cmd.CommandPath())
}

// exactArgs is cobra.ExactArgs reported as a usage error with the argument's name.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s takes %d argument(s) (%v), got %d", cmd.CommandPath(), len(names), names, len(args))
		}
		return nil
	}
}

func needs(cmd *cobra.Command, what ...string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	for _, w := range what {
		cmd.Annotations[w] = "yes"
	}
	return cmd
}

// prepare opens what the command needs, and nothing else, so `--help` and `user add` work without Temporal.
func (a *app) prepare(cmd *cobra.Command, _ []string) error {
	// Cobra checks required flags only after this hook; checking them here keeps a missing flag a usage error
	// (exit 2) and stops it before any connection is attempted.
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return usageError{err}
	}
	if err := a.settings.Resolve(); err != nil {
		return usageError{err}
	}
	a.started = true
	if a.output != "text" && a.output != "json" {
		return usagef("-o/--output must be text or json, not %q", a.output)
	}
	ann := cmd.Annotations
	if ann[needKey] != "" || ann[mayUseKey] != "" {
		k, err := secrets.LoadKey()
		switch {
		case err == nil:
			a.key = k
		case errors.Is(err, secrets.ErrNoKey) && ann[needKey] == "":
			// An edit that leaves the token alone needs no key; control says ErrNoKey if it does.
		default:
			return err
		}
	}
	if ann[needStore] != "" {
		st, err := store.Open(cmd.Context(), a.cfg.DatabaseURL, 10*time.Second)
		if err != nil {
			return err
		}
		a.store = st
	}
	if ann[needTemporal] != "" {
		// Lazy: nothing connects until the first call, so store-side refusals (unknown or inactive integration)
		// come back without Temporal being up, and a command never pays for a connection it does not use.
		c, err := client.NewLazyClient(client.Options{
			HostPort:  a.cfg.TemporalAddress,
			Namespace: a.cfg.TemporalNamespace,
			// The SDK logs every retry; the CLI reports the final error itself.
			Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		})
		if err != nil {
			return fmt.Errorf("temporal client for %s: %w", a.cfg.TemporalAddress, err)
		}
		a.temporal = &reachableClient{Client: c, addr: a.cfg.TemporalAddress}
	}
	return nil
}

func (a *app) control() *control.Control {
	return &control.Control{Store: a.store, Temporal: a.temporal, TaskQueue: a.cfg.TaskQueue, Key: a.key}
}

func (a *app) close() {
	if a.temporal != nil {
		a.temporal.Close()
	}
	if a.store != nil {
		_ = a.store.Close()
	}
}

func (a *app) json() bool { return a.output == "json" }

// printJSON writes v indented, one document per command, so both people and jq can read it.
func (a *app) printJSON(v interface{}) error {
	enc := json.NewEncoder(a.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printRaw writes JSON that PostgreSQL already rendered, indented like printJSON: one style for all output.
func (a *app) printRaw(raw json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("render JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := a.out.Write(buf.Bytes())
	return err
}

func (a *app) table() *tabwriter.Writer { return tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0) }

// fields prints "key: value" lines aligned, for the text form of one object.
func (a *app) fields(kv ...string) error {
	tw := a.table()
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[i], kv[i+1])
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
