// Package workflows holds the integration workflow: one long-lived entity workflow per Zendesk integration that
// runs the first sync and then the incremental loop, and answers "sync now", "reset" and "progress". It only
// orchestrates: every byte of Zendesk data moves inside activities, and the workflow carries positions and counters.
//
// The names and types the workflow shares with activities, control and the relay are defined in package contract;
// the ones below are re-exported so a caller that starts or talks to the workflow needs this package only.
package workflows

import (
	"go.temporal.io/sdk/temporal"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// Names shared with the starter and the worker (defined in package contract).
const (
	TaskQueue = contract.TaskQueue

	IntegrationWorkflowName = contract.IntegrationWorkflowName
	PublishWorkflowName     = contract.PublishWorkflowName

	UpdateSyncNow         = contract.UpdateSyncNow
	UpdateReset           = contract.UpdateReset
	UpdateRetryFailures   = contract.UpdateRetryFailures
	QueryProgress         = contract.QueryProgress
	SignalSettingsChanged = contract.SignalSettingsChanged
	SignalDeactivate      = contract.SignalDeactivate
	SignalLocalChange     = contract.SignalLocalChange
)

// Phases, as progress and the SyncPhase search attribute show them (defined in package contract).
const (
	PhaseFirstSync           = contract.PhaseFirstSync
	PhaseIncremental         = contract.PhaseIncremental
	PhaseWaiting             = contract.PhaseWaiting
	PhaseCredentialsRejected = contract.PhaseCredentialsRejected
	PhaseInactive            = contract.PhaseInactive
)

// Error types activities return and the workflow recognises (defined in package contract).
const (
	ErrCredentialsRejected = contract.ErrCredentialsRejected
	ErrMalformedPage       = contract.ErrMalformedPage
	ErrStalePage           = contract.ErrStalePage
	ErrPermanentFailure    = contract.ErrPermanentFailure
)

// Search attributes shown in the Web UI. They hold the integration's name and phase, never a secret.
var (
	IntegrationKey = temporal.NewSearchAttributeKeyKeyword("ZendeskIntegration")
	PhaseKey       = temporal.NewSearchAttributeKeyKeyword("SyncPhase")
)

// IntegrationWorkflowID is the one workflow ID of an integration.
func IntegrationWorkflowID(integrationID int64) string {
	return contract.IntegrationWorkflowID(integrationID)
}

// IntegrationIDFromWorkflowID is the inverse of IntegrationWorkflowID.
func IntegrationIDFromWorkflowID(id string) (int64, bool) {
	return contract.IntegrationIDFromWorkflowID(id)
}

// PublishWorkflowID is the one workflow ID per case: a second publish while one runs joins it.
func PublishWorkflowID(caseID int64) string { return contract.PublishWorkflowID(caseID) }
