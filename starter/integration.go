package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

func (a *app) integrationCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "integration",
		Short:   "Create, list, edit, activate, deactivate, delete and check Zendesk integrations",
		Example: "  starter integration list\n  starter integration show acme -o json",
		Args:    noArgs,
		RunE:    groupRun,
	}
	cmd.AddCommand(a.integrationCreateCmd(), a.integrationListCmd(), a.integrationShowCmd(), a.integrationEditCmd(),
		a.integrationActivateCmd(), a.integrationDeactivateCmd(), a.integrationDeleteCmd(), a.integrationCheckCmd(),
		a.integrationPreviewCmd())
	cmd.AddCommand(a.integrationHistoryCmd(), a.integrationWebhookCmd())
	cmd.AddCommand(a.integrationConnectCmd(), a.integrationRemapCmd())
	return cmd
}

// integrationFlags are the settings flags `create` and `edit` share.
type integrationFlags struct {
	name, url, email, token, defaultUser, owner, priority, syncFrom, mapping string
	twoWay                                                                   bool
	interval                                                                 time.Duration
}

func (f *integrationFlags) bind(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.name, "name", "", "integration name (how every other command refers to it)")
	fs.StringVar(&f.url, "url", "", "Zendesk URL, e.g. https://acme.zendesk.com (http:// only for loopback hosts)")
	fs.StringVar(&f.email, "email", "", "Zendesk API user's email")
	fs.StringVar(&f.token, "token", "", "Zendesk API token (stored encrypted, never shown)")
	fs.StringVar(&f.defaultUser, "default-user-email", "", "Zendesk user that authors tickets and comments no agent matches")
	fs.StringVar(&f.owner, "owner", "", "email of the CRM user owning the integration's cases and contacts")
	fs.BoolVar(&f.twoWay, "two-way", false, "push CRM-side case changes back to Zendesk")
	fs.StringVar(&f.priority, "priority", "remote", "which side wins a field changed on both: remote or local")
	fs.DurationVar(&f.interval, "interval", 5*time.Minute, "time between incremental syncs, at least 1s "+
		"(create and edit check it alike: 0 is refused, leave the flag out for the default)")
	fs.StringVar(&f.syncFrom, "sync-from", "", "first sync starts at this date (2006-01-02 or RFC 3339; not in the future)")
	fs.StringVar(&f.mapping, "mapping", "", "YAML file mapping Zendesk custom fields and tags to case attributes, "+
		"and overriding the status/priority maps (see the README; an empty file removes the mapping)")
}

// readMapping reads and checks a mapping file; a file that cannot be read or does not validate is a usage error
// naming the file and each line at fault.
func readMapping(path string) (*control.MappingFile, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--mapping: %v", err)
	}
	m, err := mapping.ParseFile(src)
	var fe mapping.FileErrors
	if errors.As(err, &fe) {
		lines := make([]string, len(fe))
		for i, e := range fe {
			lines[i] = fmt.Sprintf("%s:%d: %s", path, e.Line, e.Msg)
		}
		return nil, usagef("--mapping: the mapping file is not valid:\n%s", strings.Join(lines, "\n"))
	}
	if err != nil {
		return nil, usagef("--mapping %s: %v", path, err)
	}
	return &control.MappingFile{Mapping: m, Source: string(src)}, nil
}

// parseDate takes a day or a full RFC 3339 timestamp; a day means its midnight UTC.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--sync-from %q is not a date (2006-01-02 or RFC 3339)", s)
}

func (a *app) integrationCreateCmd() *cobra.Command {
	var f integrationFlags
	var o oauthFlags
	var noCheck bool
	cmd := &cobra.Command{
		Use:   "create --name N --url URL --email E (--token T | --auth oauth --oauth-client-id ID) --owner E [flags]",
		Short: "Connect a Zendesk account (created inactive; activate it to start syncing)",
		Long: "Connect a Zendesk account (created inactive; activate it to start syncing).\n\n" +
			"Once stored, its credentials are tried against Zendesk with one request (up to " + createCheckTimeout.String() + "):\n" +
			"a rejected token is a warning on stderr (the integration is kept: fix it with `integration edit`),\n" +
			"an unreachable Zendesk says to run `starter integration check NAME` later. --no-check skips the try.",
		Example: "  starter integration create --name acme --url https://acme.zendesk.com --email agent@acme.com \\\n" +
			"      --token \"$ZENDESK_TOKEN\" --owner admin@example.com --two-way --interval 10m --sync-from 2024-01-01\n" +
			"  ZENDESK_OAUTH_CLIENT_SECRET=... starter integration create --name acme --url https://acme.zendesk.com \\\n" +
			"      --email admin@acme.com --owner admin@example.com --auth oauth --oauth-client-id zendesk_sync",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Checked here too: control reads a zero interval as "not given", but a typed 0 is refused as on edit.
			if err := control.ValidateInterval(f.interval); err != nil {
				return err
			}
			spec := control.IntegrationSpec{Name: f.name, URL: f.url, Email: f.email, Token: f.token,
				DefaultUserEmail: f.defaultUser, Owner: f.owner, TwoWay: f.twoWay, Priority: f.priority,
				Interval: f.interval}
			if err := o.apply(&spec); err != nil {
				return err
			}
			if f.syncFrom != "" {
				t, err := parseDate(f.syncFrom)
				if err != nil {
					return err
				}
				spec.SyncFrom = &t
			}
			if cmd.Flags().Changed("mapping") {
				mf, err := readMapping(f.mapping)
				if err != nil {
					return err
				}
				spec.Mapping = mf
			}
			in, err := a.control().CreateIntegration(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if err := a.printIntegration(in); err != nil {
				return err
			}
			if in.Auth == store.AuthOAuth {
				fmt.Fprintf(a.errOut, "next: authorize it with `starter integration connect %s`, then activate it\n", in.Name)
				return nil
			}
			if noCheck {
				fmt.Fprintf(a.errOut, "connection not checked: run `starter integration check %s` before activating it\n", in.Name)
				return nil
			}
			a.checkCreated(cmd.Context(), in.Name)
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().BoolVar(&noCheck, "no-check", false, "do not try the credentials against Zendesk now "+
		"(run \"starter integration check NAME\" later)")
	o.bind(cmd)
	for _, name := range []string{"name", "url", "email", "owner"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return needs(cmd, needStore, needKey)
}

// createCheckTimeout bounds the credentials check after create: a slow or unreachable Zendesk must not hold the
// command, whose work (storing the integration) is done.
const createCheckTimeout = 10 * time.Second

// checkCreated tries a new integration's credentials and says on stderr what it found; the integration is kept
// whatever the answer, so the command still succeeds.
func (a *app) checkCreated(ctx context.Context, name string) {
	cctx, cancel := context.WithTimeout(ctx, createCheckTimeout)
	defer cancel()
	err := a.control().Check(cctx, name)
	var ce *zendesk.CredentialsError
	switch {
	case err == nil:
		fmt.Fprintf(a.errOut, "connection checked: Zendesk accepted the credentials of %s\n", name)
	case errors.As(err, &ce):
		fmt.Fprintf(a.errOut, "warning: Zendesk rejected the credentials of %s (%v)\n"+
			"fix them with `starter integration edit %s --email ... --token ...` before activating it\n", name, err, name)
	default:
		fmt.Fprintf(a.errOut, "warning: could not check the connection to Zendesk (%v)\n"+
			"run `starter integration check %s` once Zendesk is reachable\n", err, name)
	}
}

func (a *app) integrationListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the integrations",
		Example: "  starter integration list\n  starter integration list -o json",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ins, err := a.store.Integrations(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				views := make([]control.IntegrationView, 0, len(ins)) // [] rather than null when there are none
				for i := range ins {
					v := control.View(&ins[i])
					if v.Webhook, err = a.control().WebhookOn(cmd.Context(), ins[i].ID); err != nil {
						return err
					}
					views = append(views, v)
				}
				return a.printJSON(views)
			}
			tw := a.table()
			fmt.Fprintln(tw, "NAME\tURL\tACTIVE\tTWO-WAY\tPRIORITY\tINTERVAL")
			for i := range ins {
				in := &ins[i]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, in.URL, yesNo(in.Active), yesNo(in.TwoWay),
					in.Priority, in.Interval())
			}
			return tw.Flush()
		},
	}
	return needs(cmd, needStore)
}

func (a *app) integrationShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "show NAME",
		Short:   "Show an integration's settings (never its token)",
		Example: "  starter integration show acme\n  starter integration show acme -o json",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := a.integration(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printIntegration(in)
		},
	}
	return needs(cmd, needStore)
}

func (a *app) integrationEditCmd() *cobra.Command {
	var f integrationFlags
	cmd := &cobra.Command{
		Use:   "edit NAME [flags]",
		Short: "Change an integration's settings; only the flags given change",
		Example: "  starter integration edit acme --priority local\n" +
			"  starter integration edit acme --token \"$NEW_TOKEN\"   # a sync stopped by rejected credentials resumes\n" +
			"  starter integration edit acme --mapping acme-fields.yaml && starter integration remap acme",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var e control.IntegrationEdit
			fs := cmd.Flags()
			// Pointers only for the flags typed, so an edit never resets a setting to the flag's default.
			str := func(name string, v *string) *string {
				if fs.Changed(name) {
					return v
				}
				return nil
			}
			e.Name, e.URL, e.Email, e.Token = str("name", &f.name), str("url", &f.url), str("email", &f.email), str("token", &f.token)
			e.DefaultUserEmail, e.Owner, e.Priority = str("default-user-email", &f.defaultUser), str("owner", &f.owner), str("priority", &f.priority)
			if fs.Changed("two-way") {
				e.TwoWay = &f.twoWay
			}
			if fs.Changed("interval") {
				e.Interval = &f.interval
			}
			if fs.Changed("sync-from") {
				t, err := parseDate(f.syncFrom)
				if err != nil {
					return err
				}
				e.SyncFrom = &t
			}
			if e.Token != nil && *e.Token == "" {
				return usagef("--token must not be empty")
			}
			if fs.Changed("mapping") {
				mf, err := readMapping(f.mapping)
				if err != nil {
					return err
				}
				e.Mapping = mf
			}
			in, err := a.control().EditIntegration(cmd.Context(), args[0], e)
			if err != nil {
				return err
			}
			return a.printIntegration(in)
		},
	}
	f.bind(cmd)
	return needs(cmd, needStore, needTemporal, mayUseKey)
}

func (a *app) integrationActivateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "activate NAME",
		Short:   "Start syncing an integration (starts its workflow; activating twice is harmless)",
		Example: "  starter integration activate acme && starter progress acme --follow",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := a.control().Activate(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(control.View(in))
			}
			_, err = fmt.Fprintf(a.out, "integration %s activated (workflow %s)\n", in.Name, control.View(in).WorkflowID)
			return err
		},
	}
	return needs(cmd, needStore, needTemporal)
}

func (a *app) integrationDeactivateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "deactivate NAME",
		Short:   "Stop an integration's syncs (its cases stay)",
		Example: "  starter integration deactivate acme",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := a.control().Deactivate(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(control.View(in))
			}
			_, err = fmt.Fprintf(a.out, "integration %s deactivated\n", in.Name)
			return err
		},
	}
	return needs(cmd, needStore, needTemporal)
}

func (a *app) integrationDeleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete an integration and its workflow; the cases it created stay",
		Example: "  starter integration delete acme",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.control().Delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(map[string]interface{}{"integration": args[0], "deleted": true})
			}
			_, err := fmt.Fprintf(a.out, "integration %s deleted\n", args[0])
			return err
		},
	}
	return needs(cmd, needStore, needTemporal)
}

func (a *app) integrationCheckCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "check NAME",
		Short:   "Try an integration's credentials against Zendesk",
		Example: "  starter integration check acme",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.control().Check(cmd.Context(), args[0]); err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(map[string]interface{}{"integration": args[0], "ok": true})
			}
			_, err := fmt.Fprintf(a.out, "credentials OK for %s\n", args[0])
			return err
		},
	}
	return needs(cmd, needStore, needKey)
}

// integration looks an integration up by name; the store's error already names it ("integration "x": not found").
func (a *app) integration(ctx context.Context, name string) (*store.Integration, error) {
	return a.store.IntegrationByName(ctx, name)
}

func (a *app) printIntegration(in *store.Integration) error {
	v := control.View(in)
	on, err := a.control().WebhookOn(context.Background(), in.ID)
	if err != nil {
		return err
	}
	v.Webhook = on
	if a.json() {
		return a.printJSON(v)
	}
	def := v.DefaultUserEmail
	if def == "" {
		def = "-"
	}
	syncFrom := "-"
	if in.SyncFrom.Valid {
		syncFrom = in.SyncFrom.Time.UTC().Format(time.RFC3339)
	}
	mp := "- (OroCRM's status and priority maps, no custom fields or tags)"
	if in.MappingSource.Valid {
		mp = "as given by --mapping:"
	}
	if err := a.fields("id", fmt.Sprint(v.ID), "name", v.Name, "url", v.URL, "email", v.Email,
		"default user email", def, "owner", v.Owner, "two-way", yesNo(v.TwoWay), "priority", v.Priority,
		"interval", v.Interval, "sync from", syncFrom, "active", yesNo(v.Active), "workflow id", v.WorkflowID,
		"auth", v.Auth, "webhook", yesNo(v.Webhook), "mapping", mp); err != nil {
		return err
	}
	if in.MappingSource.Valid {
		src := strings.TrimRight(in.MappingSource.String, "\n")
		_, err := fmt.Fprintln(a.out, "  "+strings.ReplaceAll(src, "\n", "\n  "))
		return err
	}
	return nil
}

func (a *app) integrationRemapCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remap NAME",
		Short: "Derive every case again from the mirrored tickets under the integration's current mapping",
		Long: "Derive every case again from the mirrored tickets under the integration's current mapping.\n\n" +
			"Run it after `integration edit NAME --mapping FILE`: Zendesk is not read again, the tickets as last\n" +
			"synced are. Only the cases whose values change are written. It runs as a workflow (zendesk-remap/<id>)\n" +
			"that resumes after a worker restart; running it while one runs waits for that one.",
		Example: "  starter integration edit acme --mapping acme-fields.yaml\n  starter integration remap acme\n" +
			"  starter integration remap acme -o json   # {\"cases_examined\": ..., \"cases_changed\": ...}",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := a.control().Remap(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(res)
			}
			_, err = fmt.Fprintf(a.out, "remapped %s: %d cases examined, %d changed\n", args[0], res.Examined, res.Changed)
			return err
		},
	}
	return needs(cmd, needStore, needTemporal)
}
