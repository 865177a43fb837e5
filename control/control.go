// Package control does what the CRM's buttons do: create, edit, activate, deactivate and delete integrations,
// "Schedule Sync", "Reset", "Check progress", and the case listings. The starter CLI is a thin shell over it,
// and the end-to-end tests drive it directly.
package control

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/internal/oauthtoken"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/workflows"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// Control holds the connections the buttons need.
type Control struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	Key       *secrets.Key
	// PerPage is the export page size the workers use (0: Zendesk's maximum), for previews to page as a pass does.
	PerPage int
	// HTTPClient, when set, is used for requests to Zendesk (tests point it at the simulator; a preview counts
	// its requests with it).
	HTTPClient *http.Client
}

// IntegrationSpec is what `integration create` takes.
type IntegrationSpec struct {
	Name, URL, Email, Token, DefaultUserEmail, Owner string
	TwoWay                                           bool
	Priority                                         string
	Interval                                         time.Duration
	SyncFrom                                         *time.Time
	// Auth is "token" (the default) or "oauth"; OAuth takes OAuthClientID and OAuthClientSecret instead of Token.
	Auth, OAuthClientID, OAuthClientSecret string
	// Mapping, when set, is the integration's custom field and tag mapping (`--mapping FILE`).
	Mapping *MappingFile
}

// MappingFile is a mapping file as read (mapping.ParseFile) with its text, kept to show it as written.
type MappingFile struct {
	Mapping *mapping.Mapping
	Source  string
}

// IntegrationEdit holds the settings to change; nil leaves one as it is.
type IntegrationEdit struct {
	Name, URL, Email, Token, DefaultUserEmail, Owner, Priority *string
	TwoWay                                                     *bool
	Interval                                                   *time.Duration
	SyncFrom                                                   *time.Time
	// Mapping replaces the mapping; an empty one removes it. Cases keep their attributes until a remap.
	Mapping *MappingFile
}

// IntegrationView is `integration show -o json`: never the token.
type IntegrationView struct {
	ID               int64  `json:"id"`
	Name             string `json:"name"`
	URL              string `json:"url"`
	Email            string `json:"email"`
	DefaultUserEmail string `json:"default_user_email"`
	Owner            string `json:"owner"`
	TwoWay           bool   `json:"two_way"`
	Priority         string `json:"priority"`
	Interval         string `json:"interval"`
	Active           bool   `json:"active"`
	WorkflowID       string `json:"workflow_id"`
	Auth             string `json:"auth"` // "token" or "oauth"
	// Webhook says whether Zendesk webhook calls are accepted (`integration webhook`); View leaves it false, the
	// caller fills it (Control.WebhookOn).
	Webhook bool `json:"webhook"`
	// Mapping is the custom field and tag mapping in force (null: none, OroCRM's maps only).
	Mapping *mapping.Mapping `json:"mapping"`
}

// View renders an integration for output.
func View(in *store.Integration) IntegrationView {
	v := IntegrationView{ID: in.ID, Name: in.Name, URL: in.URL, Email: in.Email, DefaultUserEmail: in.DefaultUserEmail,
		Owner: in.OwnerEmail, TwoWay: in.TwoWay, Priority: in.Priority, Interval: in.Interval().String(),
		Active: in.Active, WorkflowID: contract.IntegrationWorkflowID(in.ID), Auth: authOf(in)}
	// A stored mapping that no longer reads is shown as none here; the sync reports it as an error.
	v.Mapping, _ = in.CustomMapping()
	return v
}

func (c *Control) key() (*secrets.Key, error) {
	if c.Key == nil {
		return nil, secrets.ErrNoKey
	}
	return c.Key, nil
}

// CreateIntegration validates the settings, seals the token and stores the integration (inactive).
func (c *Control) CreateIntegration(ctx context.Context, s IntegrationSpec) (*store.Integration, error) {
	in := &store.Integration{Priority: string(mapping.Remote), IntervalSeconds: 300}
	edit := IntegrationEdit{Name: &s.Name, URL: &s.URL, Email: &s.Email, Token: &s.Token,
		DefaultUserEmail: &s.DefaultUserEmail, Owner: &s.Owner, TwoWay: &s.TwoWay, SyncFrom: s.SyncFrom}
	if s.Priority != "" {
		edit.Priority = &s.Priority
	}
	if s.Interval != 0 {
		edit.Interval = &s.Interval
	}
	oauth, err := c.oauthClient(s)
	if err != nil {
		return nil, err
	}
	if oauth == nil && s.Token == "" {
		return nil, invalidf("--token is required (or --auth oauth --oauth-client-id ID)")
	}
	if err := c.apply(ctx, in, edit); err != nil {
		return nil, err
	}
	in.OAuthClient = oauth
	id, err := c.Store.CreateIntegration(ctx, in)
	if err != nil {
		return nil, err
	}
	if s.Mapping != nil {
		if err := c.Store.SetMapping(ctx, id, s.Mapping.Mapping, s.Mapping.Source); err != nil {
			return nil, err
		}
	}
	return c.Store.Integration(ctx, id)
}

// EditIntegration changes settings and tells a running workflow, so new credentials resume a stopped sync.
func (c *Control) EditIntegration(ctx context.Context, name string, e IntegrationEdit) (*store.Integration, error) {
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := c.apply(ctx, in, e); err != nil {
		return nil, err
	}
	if err := c.Store.UpdateIntegration(ctx, in); err != nil {
		return nil, err
	}
	if e.Mapping != nil {
		if err := c.Store.SetMapping(ctx, in.ID, e.Mapping.Mapping, e.Mapping.Source); err != nil {
			return nil, err
		}
	}
	// Only a running workflow has anything to re-read; an inactive integration needs no Temporal at all.
	if in.Active {
		if err := c.signal(ctx, in.ID, contract.SignalSettingsChanged); err != nil {
			return nil, err
		}
	}
	return c.Store.Integration(ctx, in.ID)
}

// apply validates an edit onto an integration. Every error names the setting at fault.
func (c *Control) apply(ctx context.Context, in *store.Integration, e IntegrationEdit) error {
	if e.Name != nil {
		n := strings.TrimSpace(*e.Name)
		if n == "" {
			return invalidf("--name must not be empty")
		}
		in.Name = n
	}
	if e.URL != nil {
		u, err := zendesk.NormalizeURL(*e.URL)
		if err != nil {
			return InvalidError{fmt.Errorf("--url: %w", err)}
		}
		in.URL = u
	}
	if e.Email != nil {
		if mapping.NormalizeEmail(*e.Email) == "" {
			return invalidf("--email %q is not an email address", *e.Email)
		}
		in.Email = strings.TrimSpace(*e.Email)
	}
	if e.Token != nil && *e.Token != "" && in.Auth == store.AuthOAuth {
		return invalidf("integration %q authenticates with OAuth: it has no API token; renew its grant with "+
			"`starter integration connect %s`", in.Name, in.Name)
	}
	if e.Token != nil && *e.Token != "" {
		k, err := c.key()
		if err != nil {
			return err
		}
		sealed, err := k.Seal(*e.Token)
		if err != nil {
			return err
		}
		in.TokenEnc = sealed
	}
	if e.DefaultUserEmail != nil {
		d := strings.TrimSpace(*e.DefaultUserEmail)
		if d != "" && mapping.NormalizeEmail(d) == "" {
			return invalidf("--default-user-email %q is not an email address", d)
		}
		in.DefaultUserEmail = d
	}
	if e.Owner != nil {
		if strings.TrimSpace(*e.Owner) == "" {
			return invalidf("--owner is required: the email of an existing CRM user (add one with `starter user add`)")
		}
		u, err := c.Store.CRMUserByEmail(ctx, *e.Owner)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("--owner %s is not a CRM user (add it with `starter user add --email %s --name ...`)", *e.Owner, *e.Owner)
		}
		if err != nil {
			return err
		}
		in.OwnerUserID, in.OwnerEmail = u.ID, u.Email
	}
	if e.Priority != nil {
		if *e.Priority != string(mapping.Remote) && *e.Priority != string(mapping.Local) {
			return invalidf("--priority must be remote or local, not %q", *e.Priority)
		}
		in.Priority = *e.Priority
	}
	if e.TwoWay != nil {
		in.TwoWay = *e.TwoWay
	}
	if e.Interval != nil {
		if err := ValidateInterval(*e.Interval); err != nil {
			return err
		}
		in.IntervalSeconds = int(e.Interval.Round(time.Second) / time.Second)
	}
	if e.SyncFrom != nil {
		if err := ValidateSyncFrom(*e.SyncFrom, time.Now()); err != nil {
			return err
		}
		in.SyncFrom = sql.NullTime{Time: *e.SyncFrom, Valid: true}
	}
	return nil
}

// Activate marks the integration active and makes sure its workflow runs; activating twice is harmless.
//
// It signals settings-changed with start: a workflow still running (e.g. one just told to deactivate) gets the
// signal, re-reads the active flag and goes on instead of ending, and a workflow that has ended is started again.
// Because the signal follows the flag's write, the run never ends on a flag older than the activation (see
// workflows: runner.end), so an activate right after a deactivate always leaves exactly one running workflow.
func (c *Control) Activate(ctx context.Context, name string) (*store.Integration, error) {
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return nil, err
	}
	// The flag goes first because the workflow reads it on start; if Temporal cannot be reached it is put back as it
	// was, so the integration never looks active without a workflow.
	was := in.Active
	if err := c.Store.SetActive(ctx, in.ID, true); err != nil {
		return nil, err
	}
	in.Active = true
	id := contract.IntegrationWorkflowID(in.ID)
	opts := client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                c.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.IntegrationKey.ValueSet(in.Name),
			workflows.PhaseKey.ValueSet(contract.PhaseFirstSync)),
		StaticSummary: fmt.Sprintf("Zendesk integration %q · %s", in.Name, in.URL),
	}
	if _, err := c.Temporal.SignalWithStartWorkflow(ctx, id, contract.SignalSettingsChanged, nil, opts,
		workflows.IntegrationWorkflow, contract.Input{IntegrationID: in.ID, Name: in.Name}); err != nil {
		return nil, c.restoreActive(ctx, in, was, fmt.Errorf("activate %q: could not start or reach its workflow "+
			"(is Temporal reachable?): %w", in.Name, err))
	}
	return in, nil
}

// Deactivate stops the integration's syncs: the workflow ends its loop cleanly. If the workflow cannot be told
// (Temporal unreachable), nothing changes: the integration stays active, and the error says so.
func (c *Control) Deactivate(ctx context.Context, name string) (*store.Integration, error) {
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return nil, err
	}
	// The flag goes first: the workflow re-reads it before it ends, and a later activate must find it written.
	was := in.Active
	if err := c.Store.SetActive(ctx, in.ID, false); err != nil {
		return nil, err
	}
	in.Active = false
	if err := c.signal(ctx, in.ID, contract.SignalDeactivate); err != nil {
		return nil, c.restoreActive(ctx, in, was, fmt.Errorf("deactivate %q: could not tell its workflow to stop "+
			"(is Temporal reachable?): %w", in.Name, err))
	}
	return in, nil
}

// restoreActive puts the active flag back after Temporal could not be told of a change, and says so in err.
func (c *Control) restoreActive(ctx context.Context, in *store.Integration, was bool, err error) error {
	if rerr := c.Store.SetActive(context.WithoutCancel(ctx), in.ID, was); rerr != nil {
		return fmt.Errorf("%w; and putting the active flag back to %t failed too: %v", err, was, rerr)
	}
	in.Active = was
	state := "inactive"
	if was {
		state = "active"
	}
	return fmt.Errorf("%w (nothing changed: the integration is still %s)", err, state)
}

// Delete removes the integration, its workflow and its mirror rows; its cases stay.
func (c *Control) Delete(ctx context.Context, name string) error {
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return err
	}
	err = c.Temporal.TerminateWorkflow(ctx, contract.IntegrationWorkflowID(in.ID), "", "integration deleted")
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("stop the workflow of %q: %w", name, err)
	}
	return c.Store.DeleteIntegration(ctx, in.ID)
}

// Check tries the integration's credentials against Zendesk with one cheap read.
func (c *Control) Check(ctx context.Context, name string) error {
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return err
	}
	zc, err := c.zendesk(in)
	if err != nil {
		return err
	}
	if _, err := zc.SearchUsersByEmail(ctx, in.Email); err != nil {
		return fmt.Errorf("check %q: %w", name, err)
	}
	return nil
}

// TicketTotal asks Zendesk how many tickets the integration's account has (one request): the total of a first
// sync, approximately (Zendesk refreshes the count of a large account daily, and a --sync-from date imports fewer).
func (c *Control) TicketTotal(ctx context.Context, name string) (int64, error) {
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return 0, err
	}
	zc, err := c.zendesk(in)
	if err != nil {
		return 0, err
	}
	tc, err := zc.CountTickets(ctx)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", name, err)
	}
	return tc.Value, nil
}

// zendesk is a client with the integration's credentials, unsealed with the deployment's key.
func (c *Control) zendesk(in *store.Integration) (*zendesk.Client, error) {
	k, err := c.key()
	if err != nil {
		return nil, err
	}
	if in.Auth == store.AuthOAuth {
		return zendesk.New(zendesk.Config{URL: in.URL, Tokens: oauthtoken.New(c.Store, k, in, c.HTTPClient),
			HTTPClient: c.HTTPClient})
	}
	token, err := k.Open(in.TokenEnc)
	if err != nil {
		return nil, err
	}
	return zendesk.New(zendesk.Config{URL: in.URL, Email: in.Email, Token: token, HTTPClient: c.HTTPClient})
}

// SyncNow asks for an incremental sync; with wait it returns what that sync did, and an error if it failed.
func (c *Control) SyncNow(ctx context.Context, name string, wait bool) (contract.SyncResult, error) {
	var res contract.SyncResult
	in, err := c.activeIntegration(ctx, name)
	if err != nil {
		return res, err
	}
	req := contract.SyncRequest{Wait: wait}
	for {
		if err = c.update(ctx, in.ID, contract.UpdateSyncNow, &res, req); err != nil || !res.Pending {
			break
		}
		// The workflow continued as new in the middle of the pass this caller waits for (an update cannot
		// outlive its run): ask the next run for the same pass.
		req = contract.SyncRequest{Wait: true, WaitFor: res.Seq}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("%s: %w", contract.UpdateSyncNow, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err == nil && res.Error != "" {
		err = fmt.Errorf("sync of %q failed: %s", name, res.Error)
	}
	return res, err
}

// Reset starts a full first sync again.
func (c *Control) Reset(ctx context.Context, name string) (contract.ResetResult, error) {
	var res contract.ResetResult
	in, err := c.activeIntegration(ctx, name)
	if err != nil {
		return res, err
	}
	return res, c.update(ctx, in.ID, contract.UpdateReset, &res, contract.ResetRequest{Confirm: true})
}

func (c *Control) activeIntegration(ctx context.Context, name string) (*store.Integration, error) {
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return nil, err
	}
	if !in.Active {
		return nil, fmt.Errorf("integration %q is not active (run `starter integration activate %s`)", name, name)
	}
	return in, nil
}

func (c *Control) update(ctx context.Context, id int64, name string, out interface{}, args ...interface{}) error {
	h, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: contract.IntegrationWorkflowID(id), UpdateName: name, Args: args,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := h.Get(ctx, out); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// signal nudges the integration's workflow; a workflow that is not running has nothing to be told.
func (c *Control) signal(ctx context.Context, id int64, name string) error {
	err := c.Temporal.SignalWorkflow(ctx, contract.IntegrationWorkflowID(id), "", name, nil)
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("signal %s: %w", name, err)
	}
	return nil
}
