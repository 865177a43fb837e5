package main

import (
	"context"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/control"
)

func (a *app) syncCmd() *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:   "sync NAME [--wait]",
		Short: "Schedule Sync: ask for an incremental sync now",
		Example: "  starter sync acme          # returns once the request is accepted\n" +
			"  starter sync acme --wait   # blocks until that sync ends, prints what it did",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
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
	return needs(cmd, needStore, needTemporal)
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

// pollEvery is how often `progress --follow` asks the workflow.
const pollEvery = 500 * time.Millisecond

func (a *app) progressCmd() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "progress NAME [--follow]",
		Short: "Check progress: the live state of an integration's sync",
		Example: "  starter progress acme\n  starter progress acme -o json\n" +
			"  starter progress acme --follow   # a progress bar until the first sync (or the next sync) ends",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := a.control()
			if !follow {
				p, err := c.Progress(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return a.printProgress(p)
			}
			p, ferr := a.follow(cmd.Context(), c, args[0])
			if p.Integration != "" {
				if err := a.printProgress(p); err != nil && ferr == nil {
					ferr = err
				}
			}
			return ferr
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "poll and draw a progress bar until the sync ends")
	return needs(cmd, needStore, needTemporal)
}

// follow polls progress until the first sync is done (when it was not at the start), else until the next sync
// ends. Transient errors are shown and followed through; only states that cannot end by themselves stop it.
func (a *app) follow(ctx context.Context, c *control.Control, name string) (control.ProgressView, error) {
	p, err := c.Progress(ctx, name)
	if err != nil {
		return p, err
	}
	if err := stuck(p); err != nil {
		return p, err
	}
	firstSync := !p.FirstSyncDone
	startSyncs, startLast := p.SyncsCompleted, p.LastSyncAt
	done := func(p control.ProgressView) bool {
		if firstSync {
			return p.FirstSyncDone
		}
		// SyncsCompleted comes from the workflow; last_sync_at also moves when the figures come from the database.
		return p.SyncsCompleted > startSyncs || (p.LastSyncAt != nil && (startLast == nil || p.LastSyncAt.After(*startLast)))
	}

	// The total is unknown (Zendesk's incremental export does not say), so the bar is a spinner counting tickets.
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(a.errOut),
		progressbar.OptionSetDescription(p.Phase),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("tickets"),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
	)
	defer func() {
		_ = bar.Finish()
		fmt.Fprintln(a.errOut) // the bar leaves the cursor on its line
	}()

	ticker := time.NewTicker(pollEvery)
	defer ticker.Stop()
	var lastErr string
	for {
		bar.Describe(p.Phase)
		_ = bar.Set64(p.TicketsSynced)
		if p.LastError != nil && *p.LastError != lastErr {
			lastErr = *p.LastError
			// Under the bar, once per new message: a transient error the workflow retries by itself.
			_ = bar.Clear()
			if r := retryingText(p); r != "" {
				fmt.Fprintf(a.errOut, "last error: %s (retrying: %s)\n", lastErr, r)
			} else {
				fmt.Fprintf(a.errOut, "last error: %s\n", lastErr)
			}
		}
		if err := stuck(p); err != nil {
			return p, err
		}
		if done(p) {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-ticker.C:
		}
		next, err := c.Progress(ctx, name)
		if err != nil {
			return p, err
		}
		p = next
	}
}

// stuck reports the states a sync does not leave without the user: following them would never end.
func stuck(p control.ProgressView) error {
	switch {
	case !p.Active || p.Phase == contract.PhaseInactive:
		return fmt.Errorf("integration %q is not active (run `starter integration activate %s`)", p.Integration, p.Integration)
	case p.Phase == contract.PhaseCredentialsRejected:
		msg := "credentials rejected"
		if p.LastError != nil {
			msg += ": " + *p.LastError
		}
		return fmt.Errorf("integration %q: %s (fix them with `starter integration edit %s --email ... --token ...`)",
			p.Integration, msg, p.Integration)
	}
	return nil
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
