package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zendesk-sync/zendesk-sync/control"
)

func (a *app) caseCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "case",
		Short:   "List, show, create, update and comment CRM cases",
		Example: "  starter case list --integration acme -o json\n  starter case show 42",
		Args:    noArgs,
		RunE:    groupRun,
	}
	cmd.AddCommand(a.caseListCmd(), a.caseShowCmd(), a.caseCreateCmd(), a.caseUpdateCmd(), a.caseCommentCmd(),
		a.casePublishCmd())
	cmd.AddCommand(a.caseHistoryCmd())
	return cmd
}

// caseRow is the part of the case JSON (rendered by the store) that the list table shows.
type caseRow struct {
	ID          int64   `json:"id"`
	Integration *string `json:"integration"`
	Subject     string  `json:"subject"`
	Status      string  `json:"status"`
	Priority    string  `json:"priority"`
	Ticket      *struct {
		ID       int64   `json:"id"`
		URL      *string `json:"url"`
		Status   *string `json:"status"`
		Priority *string `json:"priority"`
	} `json:"ticket"`
}

func deref(s *string, none string) string {
	if s == nil || *s == "" {
		return none
	}
	return *s
}

// oneLine keeps a user-typed value from breaking a table row.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// casePageSize is how many cases one query reads: the listing streams, so its memory does not grow with the CRM.
const casePageSize = 500

func (a *app) caseListCmd() *cobra.Command {
	var integration string
	var limit int
	var after int64
	cmd := &cobra.Command{
		Use:   "list [--integration N] [--limit N] [--after ID]",
		Short: "List cases, of every integration or of one, by id, page by page",
		Example: "  starter case list\n  starter case list --integration acme -o json | jq '.[].subject'\n" +
			"  starter case list --limit 50               # the first 50\n" +
			"  starter case list --limit 50 --after 4711  # the next 50: the cases after id 4711",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 || after < 0 {
				return usagef("--limit and --after must not be negative")
			}
			var w listWriter
			if a.json() {
				w = a.jsonArray()
			} else {
				w = a.caseTable()
			}
			last, more, err := a.eachCase(cmd.Context(), integration, after, limit, w.item)
			if err != nil {
				return err
			}
			if err := w.end(); err != nil {
				return err
			}
			if more {
				fmt.Fprintf(a.errOut, "more cases follow: add --after %d for the next page\n", last)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&integration, "integration", "", "only the cases of this integration")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many cases (0: all of them)")
	cmd.Flags().Int64Var(&after, "after", 0, "only the cases with an id above this one (the last id of the previous page)")
	return needs(cmd, needStore)
}

// eachCase calls fn for the cases after the given id, by id, up to limit (0: all), reading a page at a time. It
// returns the last id given to fn and whether more cases follow it.
func (a *app) eachCase(ctx context.Context, integration string, after int64, limit int,
	fn func(json.RawMessage) error) (last int64, more bool, err error) {
	last = after
	for n := 0; limit == 0 || n < limit; {
		size := casePageSize
		if limit > 0 && limit-n < size {
			size = limit - n
		}
		page, err := a.control().CasePage(ctx, integration, last, size)
		if err != nil {
			return last, false, err
		}
		for _, raw := range page {
			var row struct {
				ID int64 `json:"id"`
			}
			if err := json.Unmarshal(raw, &row); err != nil {
				return last, false, fmt.Errorf("decode case: %w", err)
			}
			if err := fn(raw); err != nil {
				return last, false, err
			}
			last = row.ID
		}
		n += len(page)
		if len(page) < size {
			return last, false, nil
		}
	}
	next, err := a.control().CasePage(ctx, integration, last, 1)
	return last, len(next) > 0, err
}

// listWriter prints a listing one item at a time.
type listWriter struct {
	item func(json.RawMessage) error
	end  func() error
}

// jsonArray writes one JSON array, item by item, in the style of printJSON (two-space indent), so a streamed
// listing reads like any other JSON the starter prints.
func (a *app) jsonArray() listWriter {
	n := 0
	return listWriter{
		item: func(raw json.RawMessage) error {
			var buf bytes.Buffer
			sep := ",\n  "
			if n == 0 {
				sep = "[\n  "
			}
			buf.WriteString(sep)
			if err := json.Indent(&buf, raw, "  ", "  "); err != nil {
				return fmt.Errorf("render case: %w", err)
			}
			n++
			_, err := a.out.Write(buf.Bytes())
			return err
		},
		end: func() error {
			end := "\n]\n"
			if n == 0 {
				end = "[]\n"
			}
			_, err := io.WriteString(a.out, end)
			return err
		},
	}
}

// caseTable prints cases as a table.
func (a *app) caseTable() listWriter {
	tw := a.table()
	fmt.Fprintln(tw, "ID\tINTEGRATION\tSTATUS\tPRIORITY\tTICKET\tSUBJECT")
	return listWriter{
		item: func(raw json.RawMessage) error {
			var r caseRow
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decode case: %w", err)
			}
			ticket := "-"
			if r.Ticket != nil {
				ticket = strconv.FormatInt(r.Ticket.ID, 10)
			}
			_, err := fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, deref(r.Integration, "-"), r.Status, r.Priority,
				ticket, truncate(oneLine(r.Subject), 50))
			return err
		},
		end: tw.Flush,
	}
}

func parseCaseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("case ID must be a positive number, not %q", s)
	}
	return id, nil
}

func (a *app) caseShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "show ID",
		Short:   "Show one case with its contact, comments and Zendesk ticket",
		Example: "  starter case show 42\n  starter case show 42 -o json",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseCaseID(args[0])
			if err != nil {
				return err
			}
			raw, err := a.control().Case(cmd.Context(), id)
			if err != nil {
				return err
			}
			return a.printCase(raw)
		},
	}
	return needs(cmd, needStore)
}

func (a *app) caseCreateCmd() *cobra.Command {
	var s control.CaseSpec
	cmd := &cobra.Command{
		Use:   "create --integration N --subject S [flags]",
		Short: "Create a CRM case (prints it)",
		Example: "  starter case create --integration acme --subject \"Printer on fire\" --priority high \\\n" +
			"      --assigned-to agent@example.com --contact-email jane@example.org --contact-name \"Dr. Jane Q. Doe\"",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := a.control().CreateCase(cmd.Context(), s)
			if err != nil {
				return err
			}
			return a.printCase(raw)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&s.Integration, "integration", "", "integration the case belongs to")
	fs.StringVar(&s.Subject, "subject", "", "subject")
	fs.StringVar(&s.Description, "description", "", "description (also the first comment once published)")
	fs.StringVar(&s.Status, "status", "", "open, in_progress, resolved or closed (default open)")
	fs.StringVar(&s.Priority, "priority", "", "low, normal or high (default normal)")
	fs.StringVar(&s.AssignedTo, "assigned-to", "", "email of the CRM user the case is assigned to")
	fs.StringVar(&s.Owner, "owner", "", "email of the CRM user owning the case (default: the integration's owner)")
	fs.StringVar(&s.ContactEmail, "contact-email", "", "contact's email (found or created)")
	fs.StringVar(&s.ContactName, "contact-name", "", "contact's full name, e.g. \"First Last\"")
	_ = cmd.MarkFlagRequired("integration")
	_ = cmd.MarkFlagRequired("subject")
	return needs(cmd, needStore)
}

func (a *app) caseUpdateCmd() *cobra.Command {
	var subject, description, status, priority, assignedTo string
	cmd := &cobra.Command{
		Use:   "update ID [flags]",
		Short: "Change a CRM case; only the flags given change (two-way integrations push it to Zendesk)",
		Example: "  starter case update 42 --status resolved\n" +
			"  starter case update 42 --priority high --assigned-to agent@example.com",
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseCaseID(args[0])
			if err != nil {
				return err
			}
			fs := cmd.Flags()
			// nil for untouched flags, so an update never blanks a field the user did not name.
			opt := func(name string, v *string) *string {
				if fs.Changed(name) {
					return v
				}
				return nil
			}
			u := control.CaseUpdate{Subject: opt("subject", &subject), Description: opt("description", &description),
				Status: opt("status", &status), Priority: opt("priority", &priority), AssignedTo: opt("assigned-to", &assignedTo)}
			if u == (control.CaseUpdate{}) {
				return usagef("nothing to update: give at least one of --subject, --description, --status, --priority, --assigned-to")
			}
			raw, err := a.control().UpdateCase(cmd.Context(), id, u)
			if err != nil {
				return err
			}
			return a.printCase(raw)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&subject, "subject", "", "new subject")
	fs.StringVar(&description, "description", "", "new description")
	fs.StringVar(&status, "status", "", "open, in_progress, resolved or closed")
	fs.StringVar(&priority, "priority", "", "low, normal or high")
	fs.StringVar(&assignedTo, "assigned-to", "", "email of the CRM user to assign")
	return needs(cmd, needStore)
}

func (a *app) caseCommentCmd() *cobra.Command {
	var body, author string
	var private bool
	cmd := &cobra.Command{
		Use:     "comment ID --body B [--private] [--author EMAIL]",
		Short:   "Add a comment to a CRM case",
		Example: "  starter case comment 42 --body \"Replaced the toner\" --author agent@example.com\n  starter case comment 42 --body \"internal note\" --private",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseCaseID(args[0])
			if err != nil {
				return err
			}
			raw, err := a.control().CommentCase(cmd.Context(), id, body, !private, author)
			if err != nil {
				return err
			}
			return a.printCase(raw)
		},
	}
	cmd.Flags().StringVar(&body, "body", "", "comment text")
	cmd.Flags().BoolVar(&private, "private", false, "an internal note rather than a public reply")
	cmd.Flags().StringVar(&author, "author", "", "email of the CRM user writing it")
	_ = cmd.MarkFlagRequired("body")
	return needs(cmd, needStore)
}

func (a *app) casePublishCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "publish ID",
		Short:   "Publish to Zendesk: create the Zendesk ticket of a CRM case (two-way integrations only)",
		Example: "  starter case publish 42\n  starter case publish 42 -o json",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseCaseID(args[0])
			if err != nil {
				return err
			}
			res, err := a.control().Publish(cmd.Context(), id)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(map[string]interface{}{"case_id": id, "ticket_id": res.TicketID, "url": res.URL,
					"already_published": res.Already})
			}
			if res.Already {
				fmt.Fprintf(cmd.OutOrStdout(), "case %d is already published as Zendesk ticket %d\n", id, res.TicketID)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "case %d published as Zendesk ticket %d\n", id, res.TicketID)
			return nil
		},
	}
	return needs(cmd, needStore, needTemporal)
}
