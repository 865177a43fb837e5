package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/control"
)

func (a *app) syncCmd() *cobra.Command {
	var wait, dryRun bool
	cmd := &cobra.Command{
		Use:   "sync NAME [--wait | --dry-run]",
		Short: "Schedule Sync: ask for an incremental sync now (--dry-run: show what it would change)",
		Long: "Schedule Sync: ask for an incremental sync now (--dry-run: show what it would change).\n\n" +
			"--dry-run reads Zendesk as the next pass would (from the same export positions, with the requests of a\n" +
			"pass, no more) and writes nothing anywhere: no position moves, no case, contact, ticket or comment is\n" +
			"written, nothing is sent to Zendesk. It prints totals first, then per case the action (create, update)\n" +
			"with each field's old → new value, the pushes a two-way integration would send, conflicts and which\n" +
			"side the integration's priority makes win, contacts to create and agents the owner stands in for.\n" +
			"It needs the secret key (it reads Zendesk from here, like `integration check`), not the worker, and\n" +
			"is safe while a pass runs.",
		Example: "  starter sync acme             # returns once the request is accepted\n" +
			"  starter sync acme --wait      # blocks until that sync ends, prints what it did\n" +
			"  starter sync acme --dry-run   # what the next pass would change; writes nothing\n" +
			"  starter sync acme --dry-run -o json",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if dryRun && wait {
				return usagef("--dry-run and --wait cannot be combined: a dry-run runs no sync to wait for")
			}
			if dryRun {
				return a.runDryRun(cmd, name)
			}
			res, err := a.control().SyncNow(cmd.Context(), name, wait)
			// A failed sync still did (and counted) something: show it, then report the reason.
			if wait && (err == nil || res.Error != "") {
				if perr := a.printSyncResult(name, res); perr != nil && err == nil {
					err = perr
				}
			}
			if err != nil {
				return err
			}
			if !wait {
				if a.json() {
					return a.printJSON(map[string]interface{}{"integration": name, "requested": true})
				}
				_, err = fmt.Fprintf(a.out, "sync of %s requested\n", name)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the sync ends and print what it did")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what the next pass would change, and write nothing")
	return needs(cmd, needStore, needTemporal, mayUseKey)
}

func (a *app) printSyncResult(name string, res contract.SyncResult) error {
	if a.json() {
		return a.printJSON(res)
	}
	c := res.Counters
	verb := "done"
	if res.Error != "" {
		verb = "failed"
	}
	_, err := fmt.Fprintf(a.out, "sync of %s %s: %d tickets, %d cases created, %d updated, %d comments, %d failures, %d pushed, %d pages\n",
		name, verb, c.TicketsSynced, c.CasesCreated, c.CasesUpdated, c.CommentsSynced, c.Failures, c.Pushed, c.Pages)
	return err
}

func (a *app) resetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "reset NAME",
		Short:   "Reset: run a full first sync again (re-reads the whole account)",
		Example: "  starter reset acme && starter progress acme --follow",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := a.control().Reset(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(res)
			}
			_, err = fmt.Fprintf(a.out, "reset of %s started: generation %d\n", args[0], res.Generation)
			return err
		},
	}
	return needs(cmd, needStore, needTemporal)
}

func (a *app) printProgress(p control.ProgressView) error {
	if a.json() {
		return a.printJSON(p)
	}
	lastSync, lastErr := "never", "none"
	if p.LastSyncAt != nil {
		lastSync = p.LastSyncAt.Local().Format(time.RFC3339)
	}
	if p.LastError != nil {
		lastErr = *p.LastError
	}
	kv := []string{"integration", p.Integration, "active", yesNo(p.Active), "phase", p.Phase,
		"first sync done", yesNo(p.FirstSyncDone), "tickets synced", fmt.Sprint(p.TicketsSynced),
		"cases created", fmt.Sprint(p.CasesCreated), "cases updated", fmt.Sprint(p.CasesUpdated),
		"comments synced", fmt.Sprint(p.CommentsSynced), "failures", fmt.Sprint(p.Failures),
		"last sync at", lastSync, "last error", lastErr}
	if r := retryingText(p); r != "" {
		kv = append(kv, "retrying", r)
	}
	if p.Source == "database" {
		// Said in words: figures from the database may be a page behind, or from before the worker stopped.
		kv = append(kv, "source", "database: "+p.SourceNote)
	}
	return a.fields(kv...)
}

// retryingText says which step is failing and being retried right now (the last error is its failure), or "".
func retryingText(p control.ProgressView) string {
	if p.Attempts == 0 {
		return ""
	}
	step := "a sync step"
	if p.Retrying != nil {
		step = *p.Retrying
	}
	s := fmt.Sprintf("%s, attempt %d (retried until it succeeds)", step, p.Attempts)
	if p.NextAttemptAt != nil {
		s += ", next at " + p.NextAttemptAt.Local().Format(time.TimeOnly)
	}
	return s
}
