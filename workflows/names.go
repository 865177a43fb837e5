// Package workflows holds the integration workflow: one long-lived entity workflow per Zendesk integration that
// runs the first sync and then the incremental loop, and answers "sync now", "reset" and "progress". It only
// orchestrates: every byte of Zendesk data moves inside activities, and the workflow carries positions and counters.
package workflows

import (
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"
)

// Names shared with the starter and the worker.
const (
	TaskQueue = "zendesk-sync"

	IntegrationWorkflowName = "IntegrationWorkflow"

	UpdateSyncNow = "sync-now"
	UpdateReset   = "reset"
	// UpdateRetryFailures fetches the failed tickets again by id and applies those that now sync.
	UpdateRetryFailures = "retry-failures"
	QueryProgress       = "progress"

	// SignalSettingsChanged tells a waiting workflow that the integration's settings (e.g. its token) changed.
	SignalSettingsChanged = "settings-changed"
	// SignalDeactivate ends the loop cleanly.
	SignalDeactivate = "deactivate"
	// SignalLocalChange wakes the workflow when a case changed locally (two-way sync).
	SignalLocalChange = "local-change"
)

// Phases, as progress and the SyncPhase search attribute show them.
const (
	PhaseFirstSync           = "first_sync"
	PhaseIncremental         = "incremental"
	PhaseWaiting             = "waiting"
	PhaseCredentialsRejected = "credentials_rejected"
	PhaseInactive            = "inactive"
)

// Error types activities return and the workflow recognises.
const (
	ErrCredentialsRejected = "CredentialsRejected"
	ErrMalformedPage       = "MalformedPage"
	ErrStalePage           = "StalePage"
	// ErrPermanentFailure is a deterministic failure (a Zendesk 4xx, a PostgreSQL constraint or encoding error, a
	// bug) that stopped retrying after a few attempts; always non-retryable, the pass records it as last_error.
	ErrPermanentFailure = "PermanentFailure"
)

// Search attributes shown in the Web UI. They hold the integration's name and phase, never a secret.
var (
	IntegrationKey = temporal.NewSearchAttributeKeyKeyword("ZendeskIntegration")
	PhaseKey       = temporal.NewSearchAttributeKeyKeyword("SyncPhase")
)

const workflowIDPrefix = "zendesk-integration/"

// IntegrationWorkflowID is the one workflow ID of an integration.
func IntegrationWorkflowID(integrationID int64) string {
	return workflowIDPrefix + strconv.FormatInt(integrationID, 10)
}

// IntegrationIDFromWorkflowID is the inverse of IntegrationWorkflowID.
func IntegrationIDFromWorkflowID(id string) (int64, bool) {
	if !strings.HasPrefix(id, workflowIDPrefix) {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(id, workflowIDPrefix), 10, 64)
	return n, err == nil
}
