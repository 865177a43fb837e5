package activities

import "github.com/zendesk-sync/zendesk-sync/contract"

// The inputs and results of the activities are defined in package contract, which the workflow shares; the aliases
// keep this package's code short.
type (
	Settings      = contract.Settings
	Position      = contract.Position
	PageRef       = contract.PageRef
	FetchResult   = contract.FetchResult
	EndSyncInput  = contract.EndSyncInput
	ErrorInput    = contract.ErrorInput
	PushResult    = contract.PushResult
	RetryResult   = contract.RetryResult
	PublishResult = contract.PublishResult
)
