package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zendesk-sync/zendesk-sync/preview"
)

// runDryRun is `sync NAME --dry-run`: what the next pass would change, totals first, details after.
func (a *app) runDryRun(cmd *cobra.Command, name string) error {
	r, err := a.control().DryRun(cmd.Context(), name)
	if err != nil {
		return err
	}
	if a.json() {
		return a.printJSON(r)
	}
	t := r.Totals
	fmt.Fprintf(a.out, "dry-run of the next pass of %s: nothing was written\n", name)
	if err := a.fields("tickets read", fmt.Sprintf("%d (%d Zendesk requests, those of a pass)", r.TicketsRead, r.Requests),
		"cases", fmt.Sprintf("%d to create, %d to update, %d with nothing to do", t.Create, t.Update, t.None),
		"pushes", fmt.Sprintf("%d to Zendesk", t.Pushes), "conflicts", fmt.Sprint(t.Conflicts),
		"contacts to create", fmt.Sprint(t.ContactsToCreate),
		"agents falling back to the owner", fmt.Sprint(t.AgentsFallingBack),
		"comments to add", fmt.Sprint(t.CommentsToAdd), "failures", fmt.Sprint(t.Failures)); err != nil {
		return err
	}
	for _, c := range r.Cases {
		writePlan(a.out, c, "")
	}
	for _, p := range r.Pushes {
		writePlan(a.out, p, "push ")
	}
	for _, c := range r.Conflicts {
		fmt.Fprintf(a.out, "conflict  case %d, ticket %d, %s: local %s, Zendesk %s → %s wins (decided at the %s)\n",
			c.CaseID, c.TicketID, c.Field, showStr(c.Local), showStr(c.Remote), c.Winner, c.Step)
	}
	for _, c := range r.ContactsToCreate {
		fmt.Fprintf(a.out, "contact to create  %s (%s)\n", c.Email, strings.TrimSpace(c.FirstName+" "+c.LastName))
	}
	for _, ag := range r.AgentsFallingBack {
		fmt.Fprintf(a.out, "agent falling back to the owner  %s (%s, Zendesk user %d): %d ticket(s)\n",
			ag.Email, ag.Name, ag.ZendeskID, ag.Tickets)
	}
	return nil
}

// writePlan prints one case's (or push's) action and changes; unchanged cases are left out unless a note says why.
func writePlan(w io.Writer, p preview.CasePlan, prefix string) {
	if p.Action == preview.ActionNone && p.Note == "" {
		return
	}
	head := fmt.Sprintf("%s%s  ticket %d", prefix, p.Action, p.TicketID)
	if p.CaseID != nil {
		head = fmt.Sprintf("%s%s  case %d, ticket %d", prefix, p.Action, *p.CaseID, p.TicketID)
	}
	if p.Note != "" {
		head += ": " + p.Note
	}
	fmt.Fprintln(w, head)
	fields := make([]string, 0, len(p.Changes))
	for f := range p.Changes {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		c := p.Changes[f]
		fmt.Fprintf(w, "    %s: %s → %s\n", f, showStr(c.Old), showStr(c.New))
	}
	if p.Comments > 0 {
		fmt.Fprintf(w, "    + %d comment(s)\n", p.Comments)
	}
}

// showStr renders a value on one line: quoted (HTML left as it is, unlike showValue's JSON), nil as "(none)".
func showStr(s *string) string {
	if s == nil {
		return "(none)"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(*s); err != nil {
		return *s
	}
	return truncate(oneLine(strings.TrimSuffix(b.String(), "\n")), 80)
}

func (a *app) integrationPreviewCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "preview NAME [--limit TICKETS]",
		Short: "Show what the first sync would create, before activating (reads at most --limit tickets)",
		Long: "Show what the first sync would create, before activating (reads at most --limit tickets).\n\n" +
			"Reads the start of the Zendesk ticket export (from --sync-from, if set) as the first sync would, but at\n" +
			"most --limit tickets (Zendesk is asked for pages no larger than what is left), so it stays cheap on a\n" +
			"large account, and writes nothing anywhere. It reports the tickets read, the cases to create, contacts\n" +
			"matched and to create, agents matched to CRM users and unmatched (the owner stands in for them), and\n" +
			"the cases' status and priority spread. Works on an inactive integration.",
		Example: "  starter integration preview acme\n  starter integration preview acme --limit 200 -o json",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit <= 0 {
				return usagef("--limit must be a positive number of tickets, not %d", limit)
			}
			p, err := a.control().PreviewFirstSync(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(p)
			}
			return a.printFirstSync(p)
		},
	}
	cmd.Flags().IntVar(&limit, "limit", preview.DefaultLimit, "read at most this many `TICKETS`")
	return needs(cmd, needStore, needKey)
}

// maxAgentsShown bounds the unmatched agents the preview's text lists (most tickets first).
const maxAgentsShown = 10

func (a *app) printFirstSync(p preview.FirstSync) error {
	read := fmt.Sprintf("%d (the whole export)", p.TicketsRead)
	if !p.Complete {
		read = fmt.Sprintf("%d (stopped at --limit %d: the account has more)", p.TicketsRead, p.Limit)
	}
	fmt.Fprintf(a.out, "first sync of %s, previewed: nothing was written\n", p.Integration)
	if err := a.fields("tickets read", read, "zendesk requests", fmt.Sprint(p.Requests),
		"cases to create", fmt.Sprint(p.CasesToCreate), "tickets without a case", fmt.Sprint(p.TicketsWithoutCase),
		"contacts", fmt.Sprintf("%d matched, %d to create", p.ContactsMatched, p.ContactsToCreate),
		"agents", fmt.Sprintf("%d matched, %d unmatched (the owner stands in)", len(p.AgentsMatched), len(p.AgentsUnmatched)),
		"status", spread(p.Status), "priority", spread(p.Priority), "failures", fmt.Sprint(p.Failures)); err != nil {
		return err
	}
	for i, ag := range p.AgentsUnmatched {
		if i == maxAgentsShown {
			fmt.Fprintf(a.out, "... and %d more unmatched agents (-o json lists them all)\n", len(p.AgentsUnmatched)-i)
			break
		}
		fmt.Fprintf(a.out, "unmatched agent  %s (%s, Zendesk user %d): %d ticket(s)\n", ag.Email, ag.Name, ag.ZendeskID, ag.Tickets)
	}
	return nil
}

// spread is "open 12, resolved 3", most first; "-" when empty.
func spread(m map[string]int) string {
	keys := preview.SortedKeys(m)
	if len(keys) == 0 {
		return "-"
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
