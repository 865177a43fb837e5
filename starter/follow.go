package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/control"
)

// pollEvery is how often `progress --follow` asks the workflow.
const pollEvery = 500 * time.Millisecond

// totalTimeout bounds the one Zendesk request that gives a first sync's total; without an answer the bar counts
// without a total rather than wait.
const totalTimeout = 10 * time.Second

func (a *app) progressCmd() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "progress NAME [--follow]",
		Short: "Check progress: the live state of an integration's sync",
		Long: "Check progress: the live state of an integration's sync, from its workflow (or, when no workflow\n" +
			"answers, from the database, which the output then says).\n\n" +
			"--follow draws a progress bar until the first sync is done, or until the sync under way ends: tickets\n" +
			"against the account's total (Zendesk's ticket count) with the rate in tickets/s and the time left, then\n" +
			"the comments step. An idle integration (waiting for its next sync) prints its state and exits at once.\n" +
			"The bar is drawn only when stdout is a terminal; otherwise a line is printed per step. Ctrl-C stops\n" +
			"following quietly (the sync goes on).",
		Example: "  starter progress acme\n  starter progress acme -o json\n" +
			"  starter progress acme --follow   # a progress bar until the first sync (or the sync under way) ends",
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
			p, err := a.follow(cmd.Context(), c, args[0])
			if errors.Is(err, errInterrupted) {
				return nil // Ctrl-C: the user stopped watching, nothing failed
			}
			if p.Integration != "" {
				if perr := a.printProgress(p); perr != nil && err == nil {
					err = perr
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "poll and draw a progress bar until the sync ends")
	// The key opens the integration's token for the one request that counts its tickets; without it the bar
	// has no total.
	return needs(cmd, needStore, needTemporal, mayUseKey)
}

// errInterrupted ends a follow stopped by Ctrl-C.
var errInterrupted = errors.New("interrupted")

// follow polls progress until the first sync is done (when it was not at the start), else until the sync under
// way ends; an idle integration returns at once. Transient errors are shown and followed through; only states
// that cannot end by themselves stop it.
func (a *app) follow(ctx context.Context, c *control.Control, name string) (control.ProgressView, error) {
	p, err := c.Progress(ctx, name)
	if err != nil {
		return p, err
	}
	if err := stuck(p); err != nil {
		return p, err
	}
	if p.FirstSyncDone && p.Phase == contract.PhaseWaiting {
		fmt.Fprintf(a.errOut, "nothing to follow: %s is waiting for its next sync (`starter sync %s` starts one now)\n",
			name, name)
		return p, nil
	}
	done := followEnd(p)
	var total int64 = -1
	if !p.FirstSyncDone {
		total = a.ticketTotal(ctx, c, name)
	}
	d := newDisplay(a.errOut, a.animate(), p, total)
	defer d.close()

	ticker := time.NewTicker(pollEvery)
	defer ticker.Stop()
	for {
		d.update(p, time.Now())
		if err := stuck(p); err != nil {
			return p, err
		}
		if done(p) {
			return p, nil
		}
		select {
		case <-ctx.Done():
			d.interrupt()
			return p, errInterrupted
		case <-ticker.C:
		}
		next, err := c.Progress(ctx, name)
		if ctx.Err() != nil {
			d.interrupt()
			return p, errInterrupted
		}
		if err != nil {
			return p, err
		}
		p = next
	}
}

// followEnd says when following what p shows is over: the first sync done, when it was not; else the end of the
// pass under way.
func followEnd(p control.ProgressView) func(control.ProgressView) bool {
	if !p.FirstSyncDone {
		return func(p control.ProgressView) bool { return p.FirstSyncDone }
	}
	startSyncs, startLast := p.SyncsCompleted, p.LastSyncAt
	return func(p control.ProgressView) bool {
		// SyncsCompleted comes from the workflow; last_sync_at also moves when the figures come from the database.
		return p.SyncsCompleted > startSyncs || (p.LastSyncAt != nil && (startLast == nil || p.LastSyncAt.After(*startLast)))
	}
}

// ticketTotal is the account's ticket count, or -1 (said on stderr) when Zendesk cannot tell in time.
func (a *app) ticketTotal(ctx context.Context, c *control.Control, name string) int64 {
	tctx, cancel := context.WithTimeout(ctx, totalTimeout)
	defer cancel()
	n, err := c.TicketTotal(tctx, name)
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(a.errOut, "(no total for the progress bar: %v)\n", err)
		}
		return -1
	}
	return n
}

// animate says whether to draw a bar: only for a person watching, i.e. when stdout and stderr are terminals.
func (a *app) animate() bool { return isTerminal(a.out) && isTerminal(a.errOut) }

// isTerminal says whether w is a terminal; a variable so tests can draw the bar into a buffer.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
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
		if strings.Contains(msg, "starter integration connect") {
			return fmt.Errorf("integration %q: %s", p.Integration, msg) // OAuth: the message says what to run
		}
		return fmt.Errorf("integration %q: %s (fix them with `starter integration edit %s --email ... --token ...`)",
			p.Integration, msg, p.Integration)
	}
	return nil
}
