// Package workflows holds the integration workflow: one long-lived entity workflow per Zendesk integration that
// runs the first sync and then the incremental loop, and answers "sync now", "reset" and "progress". It only
// orchestrates: every byte of Zendesk data moves inside activities, and the workflow carries positions and counters.
//
// The names and types the workflow shares with activities, control and the relay are defined in package contract;
// callers import it directly.
package workflows

import (
	"go.temporal.io/sdk/temporal"
)

// Search attributes shown in the Web UI. They hold the integration's name and phase, never a secret.
var (
	IntegrationKey = temporal.NewSearchAttributeKeyKeyword("ZendeskIntegration")
	PhaseKey       = temporal.NewSearchAttributeKeyKeyword("SyncPhase")
)
