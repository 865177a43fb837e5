package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/zendesk-sync/zendesk-sync/store"
)

// The starter names itself to PostgreSQL (application_name, through lib/pq's PGAPPNAME), so a case it edits shows
// "<database user> via starter" in the case's history. A name the user set is kept.
func init() {
	if os.Getenv("PGAPPNAME") == "" {
		_ = os.Setenv("PGAPPNAME", "starter")
	}
}

func (a *app) caseHistoryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "history ID",
		Short: "Show every change of a case, oldest first, with its source",
		Long: "Show every change of a case, oldest first, with its source.\n\n" +
			"Every change of the case and of its Zendesk ticket link is listed with each field's old → new value.\n" +
			"Sources: import (a Zendesk ticket applied; ref names the ticket), push\n" +
			"(an update sent to Zendesk: the request and Zendesk's answer; ticket.* fields are what was sent),\n" +
			"conflict (a field changed on both sides: both values and the rule that decided), local (the CRM,\n" +
			"starter or plain SQL: ref is the database user and its application), publish (the ticket created).\n" +
			"Changes are kept for RETENTION (30 days by default), see the README.",
		Example: "  starter case history 42\n  starter case history 42 -o json",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseCaseID(args[0])
			if err != nil {
				return err
			}
			h, err := a.store.CaseHistory(cmd.Context(), id)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(h)
			}
			for _, e := range h {
				fmt.Fprintf(a.out, "%s  %-8s  %s\n", e.At.Local().Format("2006-01-02 15:04:05"), e.Source, deref(e.Ref, "-"))
				for _, f := range sortedFields(e.Changes) {
					c := e.Changes[f]
					fmt.Fprintf(a.out, "    %s: %s → %s\n", f, showValue(c.Old), showValue(c.New))
				}
			}
			return nil
		},
	}
	return needs(cmd, needStore)
}

func sortedFields(m map[string]store.FieldChange) []string {
	out := make([]string, 0, len(m))
	for f := range m {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// showValue renders a history value on one line: strings quoted, no value as "(none)".
func showValue(v any) string {
	if v == nil {
		return "(none)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return truncate(oneLine(string(b)), 80)
}

func (a *app) integrationHistoryCmd() *cobra.Command {
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "history NAME [--since 1h]",
		Short: "Summarise an integration's sync passes: start, end, requests, counts, error",
		Long: "Summarise an integration's sync passes: start, end, requests, counts, error.\n\n" +
			"Lists the passes that started or ended within --since (and a pass still running): when each started and ended, the Zendesk requests it sent, the tickets, cases and comments it\n" +
			"wrote, the records it skipped, and why it failed. Passes are kept for RETENTION (30 days by default).",
		Example: "  starter integration history acme\n  starter integration history acme --since 24h -o json",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if since <= 0 {
				return usagef("--since must be a positive duration such as 1h, not %s", since)
			}
			in, err := a.store.IntegrationByName(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ps, err := a.store.Passes(cmd.Context(), in.ID, time.Now().Add(-since))
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(ps)
			}
			return a.printPasses(ps)
		},
	}
	cmd.Flags().DurationVar(&since, "since", time.Hour, "how far back to look")
	return needs(cmd, needStore)
}

func (a *app) printPasses(ps []store.Pass) error {
	tw := a.table()
	fmt.Fprintln(tw, "STARTED\tENDED\tSECONDS\tKIND\tREQUESTS\tTICKETS\tCREATED\tUPDATED\tCOMMENTS\tFAILURES\tERROR")
	for _, p := range ps {
		ended, kind := "running", "incremental"
		if p.EndedAt != nil {
			ended = p.EndedAt.Local().Format("15:04:05")
		}
		if p.FirstSync {
			kind = "first sync"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", p.StartedAt.Local().Format("2006-01-02 15:04:05"),
			ended, p.Seconds, kind, p.Requests, p.Tickets, p.CasesCreated, p.CasesUpdated, p.Comments, p.Failures,
			truncate(oneLine(deref(p.Error, "-")), 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ps) == 0 {
		fmt.Fprintln(a.out, "no sync pass in that time")
	}
	return nil
}
