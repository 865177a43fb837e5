package workflows

import "github.com/zendesk-sync/zendesk-sync/contract"

// The workflow's input, state, query answer and update requests and results are defined in package contract (their
// JSON shapes are part of recorded histories); these aliases keep the workflow's API in one import for callers.
type (
	Input         = contract.Input
	Counters      = contract.Counters
	State         = contract.State
	PassResume    = contract.PassResume
	Progress      = contract.Progress
	SyncRequest   = contract.SyncRequest
	SyncResult    = contract.SyncResult
	ResetRequest  = contract.ResetRequest
	ResetResult   = contract.ResetResult
	RetryResult   = contract.RetryResult
	PublishResult = contract.PublishResult
)
