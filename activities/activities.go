// Package activities holds what the sync's three flows share: the dependencies of every activity (Activities),
// the Zendesk client cache, the people directory, record cleaning, the mapping of errors to what the workflow's
// retry policy understands, heartbeats, metrics, and the lifecycle activities (settings, position, end of a pass,
// errors, reset). The flows themselves are rooms of their own: importing (fetch and apply Zendesk's export pages,
// retry failed tickets), pushing (send local case changes to Zendesk) and publishing (create a ticket for a
// case). Every activity takes IDs and positions and returns positions and counters; tickets never travel
// through Temporal.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/internal/oauthtoken"
	"github.com/zendesk-sync/zendesk-sync/internal/opsmetrics"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// Error types the workflow recognises (defined once, in package contract).
const (
	errCredentialsRejected = contract.ErrCredentialsRejected
	errMalformedPage       = contract.ErrMalformedPage
	errStalePage           = contract.ErrStalePage
	errRateLimited         = contract.ErrRateLimited
	// errPermanent is a deterministic failure (a Zendesk 4xx, a PostgreSQL constraint or encoding error, a
	// mapping bug) that stopped retrying after PermanentAttempts attempts.
	errPermanent = contract.ErrPermanentFailure
)

// PermanentAttempts is how many attempts a deterministic failure (a malformed page included) gets before it fails
// its activity for good. More than one, because a failure that looks deterministic may still be a race (a unique violation between two
// writers) or a proxy's passing hiccup; few, because the same request or rows give the same answer again.
const PermanentAttempts = 3

// Activities holds the dependencies of every activity, shared by the rooms (each room's Activities embeds it).
// Its lifecycle methods are activities; the worker registers them and the rooms' by their contract names.
type Activities struct {
	Store *store.Store
	Key   *secrets.Key
	// HTTPClient, when set, is used for Zendesk requests (tests point it at the simulator).
	HTTPClient *http.Client
	// PerPage is the export page size; 0 means Zendesk's maximum, 1000.
	PerPage int
	Logger  *slog.Logger
	// AfterCasesRead, when set (tests only), runs in a ticket page's transaction right after the page's cases
	// were read and before they are written, so a test can land a CRM edit exactly there.
	AfterCasesRead func(caseIDs []int64)

	// BeforeApply, set by tests only, runs inside a page's apply transaction (e.g. to panic like a mapping bug).
	BeforeApply func(kind string)

	mu      sync.Mutex
	clients map[int64]cachedClient
	// requests are the Zendesk requests counted and not yet written to their passes (FlushRequestCounts).
	requests requestTally
}

// cachedClient keeps one Zendesk client per integration and settings version, so the client's pacing state
// (rate-limit headers, Retry-After) is shared by every activity of that account.
type cachedClient struct {
	version int
	client  *zendesk.Client
}

// Log is the logger activities log to.
func (a *Activities) Log() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

// Client is the integration's Zendesk client, shared by every activity of the integration while its settings stay
// the same; a token that cannot be opened is rejected credentials.
func (a *Activities) Client(in *store.Integration) (*zendesk.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[in.ID]; ok && c.version == in.SettingsVersion {
		return c.client, nil
	}
	if a.Key == nil {
		return nil, secrets.ErrNoKey
	}
	// The account's rate-limit budget is shared with the other workers through PostgreSQL.
	cfg := zendesk.Config{URL: in.URL, HTTPClient: a.countingClient(in.ID),
		Logger: a.Log().With("integration", in.Name), Limiter: a.Store.RateLimits(),
		Hooks: opsmetrics.ZendeskHooks(in.Name)}
	if in.Auth == store.AuthOAuth {
		cfg.Tokens = oauthtoken.New(a.Store, a.Key, in, a.HTTPClient)
	} else {
		token, err := a.Key.Open(in.TokenEnc)
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("integration %q: %v", in.Name, err), errCredentialsRejected, nil)
		}
		cfg.Email, cfg.Token = in.Email, token
	}
	c, err := zendesk.New(cfg)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("integration %q: %v", in.Name, err),
			errCredentialsRejected, nil)
	}
	if a.clients == nil {
		a.clients = map[int64]cachedClient{}
	}
	a.clients[in.ID] = cachedClient{version: in.SettingsVersion, client: c}
	return c, nil
}

// LoadSettings returns the integration's non-secret settings.
func (a *Activities) LoadSettings(ctx context.Context, ref contract.IntegrationRef) (contract.Settings, error) {
	integrationID := ref.IntegrationID
	in, err := a.Store.Integration(ctx, integrationID)
	if errors.Is(err, store.ErrNotFound) {
		// A deleted integration behaves as an inactive one: its workflow ends.
		return contract.Settings{}, nil
	}
	if err != nil {
		return contract.Settings{}, err
	}
	return settingsOf(in), nil
}

func settingsOf(in *store.Integration) contract.Settings {
	return contract.Settings{Name: in.Name, Active: in.Active, IntervalSeconds: in.IntervalSeconds, TwoWay: in.TwoWay,
		Priority: in.Priority, SettingsVersion: in.SettingsVersion}
}

// SyncPosition reads where the integration's streams stand.
func (a *Activities) SyncPosition(ctx context.Context, ref contract.IntegrationRef) (contract.Position, error) {
	integrationID := ref.IntegrationID
	in, err := a.Store.Integration(ctx, integrationID)
	if err != nil {
		return contract.Position{}, err
	}
	st, err := a.Store.StartPass(ctx, integrationID)
	if err != nil {
		return contract.Position{}, err
	}
	return PositionOf(in, st), nil
}

// PositionOf is where the integration's streams stand in st, as the workflow is told.
func PositionOf(in *store.Integration, st *store.SyncState) contract.Position {
	return contract.Position{Generation: st.Generation, TicketCursor: st.TicketCursor,
		EventsFrom: strconv.FormatInt(st.EventsStartTime, 10), FirstSyncDone: st.FirstSyncDone,
		Settings: settingsOf(in)}
}

// EndSync records that a sync pass ended well, in one call. The pass proved the credentials work, so local changes
// parked for them resume; the requests of the pass not counted in it yet are added as it closes (the flush lock
// makes a flush that took them just before write them first).
func (a *Activities) EndSync(ctx context.Context, in contract.EndSyncInput) error {
	a.requests.flushing.Lock()
	defer a.requests.flushing.Unlock()
	return a.Store.EndSyncedPass(ctx, in.IntegrationID, in.FirstSyncDone, a.requests.takeOf(in.IntegrationID))
}

// RecordError records why a sync pass stopped, for progress and the CLI.
func (a *Activities) RecordError(ctx context.Context, in contract.ErrorInput) error {
	a.FlushRequestCounts(ctx)
	if err := a.Store.FailPass(ctx, in.IntegrationID, in.Message); err != nil {
		return err
	}
	return a.Store.SetLastError(ctx, in.IntegrationID, in.Message)
}

// ResetSync rewinds the streams for a full first sync and returns the new generation.
func (a *Activities) ResetSync(ctx context.Context, ref contract.IntegrationRef) (int, error) {
	return a.Store.ResetSync(ctx, ref.IntegrationID)
}

// Classify turns Zendesk and store errors into what the workflow's retry policy understands.
func (a *Activities) Classify(ctx context.Context, in *store.Integration, op string, err error) error {
	var cred *zendesk.CredentialsError
	var grant *zendesk.OAuthGrantError
	var rl *zendesk.RateLimitError
	var mal *zendesk.MalformedResponseError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &grant), errors.As(err, &cred):
		msg := fmt.Sprintf("credentials rejected by Zendesk for integration %q: %s", in.Name, err.Error())
		if in.Auth == store.AuthOAuth {
			msg = fmt.Sprintf("Zendesk refused the OAuth grant of integration %q (%s): reconnect with `starter integration connect %s`",
				in.Name, oauthReason(grant, cred), in.Name)
		}
		// Local changes cannot be pushed until the credentials work: parked, so the relay stops waking the
		// integration for them (they resume when the settings are saved or a sync ends well).
		if perr := a.Store.ParkOutbox(ctx, in.ID, msg, true); perr != nil {
			a.Log().Warn("could not park the outbox", "integration", in.Name, "error", perr)
		}
		return temporal.NewNonRetryableApplicationError(msg, errCredentialsRejected, nil)
	case errors.As(err, &rl):
		return temporal.NewApplicationErrorWithOptions(fmt.Sprintf("%s: %s", op, rl.Error()), errRateLimited,
			temporal.ApplicationErrorOptions{NextRetryDelay: rl.RetryAfter})
	case errors.As(err, &mal):
		if attempt(ctx) >= PermanentAttempts {
			msg := fmt.Sprintf("%s: Zendesk sent a malformed page %d times: %v", op, PermanentAttempts, mal)
			// The error below still reaches last_error and `sync --wait`; only the failures list would miss it.
			if ferr := a.Store.RecordFailure(ctx, in.ID, store.Failure{Kind: "page", Reason: msg}); ferr != nil {
				a.Log().Warn("could not record the malformed page as a failure", "integration", in.Name, "error", ferr)
			}
			return temporal.NewNonRetryableApplicationError(msg, errMalformedPage, nil)
		}
		return fmt.Errorf("%s: %w", op, err)
	case errors.Is(err, store.ErrStalePage):
		return temporal.NewNonRetryableApplicationError(err.Error(), errStalePage, nil)
	}
	if failure, ok := gaveUp(ctx, err); ok {
		msg := fmt.Sprintf("%s: %s", op, failure)
		a.Log().Error("sync step failed for good", "integration", in.Name, "error", msg)
		return temporal.NewNonRetryableApplicationError(msg, errPermanent, nil)
	}
	var ne *zendesk.NetworkError
	if errors.As(err, &ne) {
		// Said plainly: this is the message `starter progress` shows while the activity keeps retrying.
		return fmt.Errorf("%s: Zendesk is unreachable: %w", op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

type priorAttemptsKey struct{}

// WithPriorAttempts notes in an activity's context the attempts at the same step made before the activity ran
// (contract.PageRef.PriorAttempts), so that Classify counts them.
func WithPriorAttempts(ctx context.Context, n int32) context.Context {
	if n <= 0 {
		return ctx
	}
	return context.WithValue(ctx, priorAttemptsKey{}, n)
}

// attempt is the activity's attempt counted from the step's first, wherever that ran.
func attempt(ctx context.Context) int32 {
	n, _ := ctx.Value(priorAttemptsKey{}).(int32)
	return activity.GetInfo(ctx).Attempt + n
}

// GivenUp says whether err, a failure of one record within an activity, is deterministic and has now had its
// PermanentAttempts attempts (or Classify said so already), and describes it with why it stops: such a record is
// recorded as a failure and skipped, so that it does not hold back the records after it (Classify fails the whole
// step instead, for a failure of the step).
func GivenUp(ctx context.Context, err error) (string, bool) {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.Type() == errPermanent {
		return ae.Message(), true
	}
	return gaveUp(ctx, err)
}

// gaveUp says whether err is deterministic (permanentCause) and has had its PermanentAttempts attempts, and
// describes it with why it stops.
func gaveUp(ctx context.Context, err error) (string, bool) {
	why := permanentCause(err)
	if why == "" || attempt(ctx) < PermanentAttempts {
		return "", false
	}
	return fmt.Sprintf("%v (%s; gave up after %d attempts)", err, why, PermanentAttempts), true
}

// oauthReason says in a few words why an OAuth integration's credentials stopped working.
func oauthReason(grant *zendesk.OAuthGrantError, cred *zendesk.CredentialsError) string {
	switch {
	case grant != nil && grant.Code == "not_connected":
		return "it was never connected"
	case grant != nil && grant.Code == "rejected":
		code, _, _ := strings.Cut(grant.Description, ":")
		return "Zendesk answered " + code
	case grant != nil:
		return "Zendesk answered " + grant.Code
	case cred != nil:
		return fmt.Sprintf("HTTP %d even with a fresh access token", cred.StatusCode)
	}
	return "unknown"
}

// permanentCause says why err is deterministic (the same call fails the same way however often it is retried),
// or "" when retrying may help: network errors, 5xx, 429, 409 and PostgreSQL being down or busy are transient.
func permanentCause(err error) string {
	var nf *zendesk.NotFoundError
	var inv *zendesk.InvalidRecordError
	var closed *zendesk.ClosedTicketError
	var pe *pq.Error
	var bug *panicError
	switch {
	case errors.As(err, &bug):
		return "a bug in the sync's code"
	case errors.As(err, &nf):
		return "Zendesk answered 404"
	case errors.As(err, &closed):
		return "Zendesk refuses updates of closed tickets"
	case errors.As(err, &inv) && inv.StatusCode != http.StatusConflict:
		return fmt.Sprintf("Zendesk refused the request with HTTP %d", inv.StatusCode)
	case errors.As(err, &pe):
		// Class 22 (data exception: bad encoding, value too long, invalid input) and 23 (integrity constraint
		// violation) depend only on the rows written; anything else (connection, locks, resources) may pass.
		switch code := pe.SQLState(); {
		case strings.HasPrefix(code, "22"):
			return fmt.Sprintf("PostgreSQL cannot store the data (SQLSTATE %s)", code)
		case strings.HasPrefix(code, "23"):
			return fmt.Sprintf("PostgreSQL refused the rows: a constraint is violated (SQLSTATE %s)", code)
		}
	}
	return ""
}

// panicError is a panic recovered in mapping or applying code: a bug, reported like any other failure instead of
// crashing the worker's goroutine or being retried for ever.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// Guard runs fn and turns a panic into a *panicError, so a transaction fn runs in is rolled back as for any error.
func (a *Activities) Guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			pe := &panicError{value: r, stack: debug.Stack()}
			a.Log().Error("panic in sync code", "panic", fmt.Sprint(r), "stack", string(pe.stack))
			err = pe
		}
	}()
	return fn()
}

// KeepAlive heartbeats while a long call runs, so a lost worker is noticed within the heartbeat timeout even
// when the call is waiting out a rate limit.
func KeepAlive(ctx context.Context) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}
