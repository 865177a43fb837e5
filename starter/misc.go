package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zendesk-sync/zendesk-sync/store"
)

func (a *app) failuresCmd() *cobra.Command {
	var retry bool
	cmd := &cobra.Command{
		Use:     "failures NAME [--retry]",
		Short:   "List the records an integration's sync skipped, with their reasons",
		Example: "  starter failures acme\n  starter failures acme -o json\n  starter failures acme --retry   # after a fix in Zendesk",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if retry {
				res, err := a.control().RetryFailures(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if a.json() {
					return a.printJSON(res)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "retried %d failed tickets: %d fixed, %d still failing\n", res.Retried,
					res.Fixed, res.StillFailing)
				return nil
			}
			fs, err := a.control().Failures(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				if fs == nil {
					fs = []store.Failure{} // [] rather than null when there are none
				}
				return a.printJSON(fs)
			}
			tw := a.table()
			fmt.Fprintln(tw, "ID\tKIND\tZENDESK_ID\tCREATED\tREASON")
			for _, f := range fs {
				zid := "-"
				if f.ZendeskID != nil {
					zid = fmt.Sprint(*f.ZendeskID)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", f.ID, f.Kind, zid, f.CreatedAt.Local().Format("2006-01-02 15:04:05"),
					oneLine(f.Reason))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&retry, "retry", false, "fetch the failed tickets again and apply those that now sync")
	// Temporal is dialled lazily: only --retry talks to the workflow.
	return needs(cmd, needStore, needTemporal)
}

func (a *app) userCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "user",
		Short:   "Manage CRM users (agents are matched to them by email)",
		Example: "  starter user add --email agent@example.com --name \"Ann Agent\"\n  starter user list",
		Args:    noArgs,
		RunE:    groupRun,
	}
	var email, name string
	add := &cobra.Command{
		Use:     "add --email E --name NAME",
		Short:   "Add a CRM user, so Zendesk agents with that email map to it",
		Example: "  starter user add --email agent@example.com --name \"Ann Agent\"",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := a.control().AddUser(cmd.Context(), email, name)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(struct {
					ID    int64  `json:"id"`
					Email string `json:"email"`
					Name  string `json:"name"`
				}{u.ID, u.Email, u.Name})
			}
			_, err = fmt.Fprintf(a.out, "user %s (%s) added with id %d\n", u.Email, u.Name, u.ID)
			return err
		},
	}
	add.Flags().StringVar(&email, "email", "", "the user's email")
	add.Flags().StringVar(&name, "name", "", "the user's full name")
	_ = add.MarkFlagRequired("email")
	_ = add.MarkFlagRequired("name")
	cmd.AddCommand(needs(add, needStore), a.userListCmd())
	return cmd
}

// userView is one line of `user list -o json`.
type userView struct {
	ID              int64    `json:"id"`
	Email           string   `json:"email"`
	Name            string   `json:"name"`
	SecondaryEmails []string `json:"secondary_emails"`
}

func (a *app) userListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the CRM users (the emails Zendesk agents are matched with)",
		Example: "  starter user list\n  starter user list -o json",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			us, err := a.store.CRMUsers(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				views := make([]userView, 0, len(us)) // [] rather than null when there are none
				for _, u := range us {
					views = append(views, userView{u.ID, u.Email, u.Name, append([]string{}, u.Secondary...)})
				}
				return a.printJSON(views)
			}
			tw := a.table()
			fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tOTHER EMAILS")
			for _, u := range us {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", u.ID, u.Email, oneLine(u.Name), strings.Join(u.Secondary, ", "))
			}
			return tw.Flush()
		},
	}
	return needs(cmd, needStore)
}

func (a *app) conflictsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "conflicts NAME",
		Short:   "List the conflict decisions of an integration's two-way sync (field, both values, winner, time)",
		Example: "  starter conflicts acme\n  starter conflicts acme -o json",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := a.control().Conflicts(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				if cs == nil {
					cs = []store.Conflict{}
				}
				return a.printJSON(cs)
			}
			tw := a.table()
			fmt.Fprintln(tw, "ID\tCASE\tTICKET\tFIELD\tLOCAL\tREMOTE\tWINNER\tDECIDED")
			for _, c := range cs {
				caseID := "-"
				if c.CaseID != nil {
					caseID = fmt.Sprint(*c.CaseID)
				}
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", c.ID, caseID, c.TicketID, c.Field, oneLine(deref(c.LocalValue, "")),
					oneLine(deref(c.RemoteValue, "")), c.Winner, c.DecidedAt.Local().Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	}
	return needs(cmd, needStore)
}
