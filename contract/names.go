// Package contract holds what the workflow, the activities, control and the relay must agree on: the task queue,
// workflow / activity / update / signal / query names, error types, page kinds, and the inputs and results that
// travel through Temporal. It imports nothing of the project and no Temporal SDK, so every side can import it and
// a change of anything recorded in workflow history is visible in one place.
//
// Everything here with a JSON shape is part of recorded workflow histories: field names and tags must stay as they
// are (add fields, never rename), or recorded runs stop replaying (workflows/replay_test.go).
package contract

import (
	"strconv"
	"strings"
)

// TaskQueue is the default task queue of the worker, the starter and the tests.
const TaskQueue = "zendesk-sync"

// BulkQueueSuffix names the bulk task queue beside a deployment's task queue: BulkTaskQueue(TASK_QUEUE).
const BulkQueueSuffix = "-bulk"

// BulkTaskQueue is where the workflow sends bulk work (the page activities of a first sync, and of a long
// incremental pass): a queue of its own, polled by every worker with its own few activity slots, so bulk work never
// queues ahead of, or takes the slots of, interactive work (pushes, settings, small incremental passes) on queue.
// Derived from the workflow's own queue, so the workflow and the worker agree on it without a setting.
func BulkTaskQueue(queue string) string { return queue + BulkQueueSuffix }

// Workflow types.
const (
	IntegrationWorkflowName = "IntegrationWorkflow"
	// PublishWorkflowName is the workflow type of "Publish to Zendesk".
	PublishWorkflowName = "PublishCaseWorkflow"
	// RemapWorkflowName is the workflow type of `integration remap`.
	RemapWorkflowName = "RemapWorkflow"
)

// Updates, signals and queries of the integration workflow.
const (
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
	// SignalTicketsChanged carries the ids of tickets a verified Zendesk webhook call named (TicketsChanged): the
	// workflow fetches just those, between passes, without moving the export cursor.
	SignalTicketsChanged = "tickets-changed"
)

// Activity types. They equal the names recorded in existing histories (the method names, from when the activities
// were registered as one struct); the worker registers each activity of the rooms under its name
// (internal/workerapp/activities.go), and the workflow schedules activities by these names and so does not import
// the activities packages.
const (
	ActivityLoadSettings     = "LoadSettings"
	ActivitySyncPosition     = "SyncPosition"
	ActivityEndSync          = "EndSync"
	ActivityRecordError      = "RecordError"
	ActivityResetSync        = "ResetSync"
	ActivityFetchTicketPage  = "FetchTicketPage"
	ActivityFetchCommentPage = "FetchCommentPage"
	ActivityApplyTicketPage  = "ApplyTicketPage"
	ActivityApplyCommentPage = "ApplyCommentPage"
	ActivityPushLocalChanges = "PushLocalChanges"
	ActivityRetryFailures    = "RetryFailures"
	ActivityPublishCase      = "PublishCase"
	// ActivityApplyChangedTickets fetches tickets by id (show_many, their comments) and applies them like a page,
	// leaving both stream positions where they are.
	ActivityApplyChangedTickets = "ApplyChangedTickets"
	ActivityRemapPage           = "RemapPage"
)

// Phases, as progress and the SyncPhase search attribute show them.
const (
	PhaseFirstSync           = "first_sync"
	PhaseIncremental         = "incremental"
	PhaseWaiting             = "waiting"
	PhaseCredentialsRejected = "credentials_rejected"
	PhaseInactive            = "inactive"
)

// Error types activities return and the workflow recognises (temporal.ApplicationError types).
const (
	ErrCredentialsRejected = "CredentialsRejected"
	ErrMalformedPage       = "MalformedPage"
	ErrStalePage           = "StalePage"
	ErrRateLimited         = "RateLimited"
	// ErrPermanentFailure is a deterministic failure (a Zendesk 4xx, a PostgreSQL constraint or encoding error, a
	// bug) that stopped retrying after a few attempts; always non-retryable, the pass records it as last_error.
	ErrPermanentFailure = "PermanentFailure"
	// ErrNotTwoWay: a case of an integration that is not two-way cannot be published.
	ErrNotTwoWay = "NotTwoWay"
	// ErrPublishRefused: Zendesk refused the ticket of a case for good.
	ErrPublishRefused = "PublishRefused"
)

// Page kinds: the two export streams of an integration. They are also the stream names a pass carries across
// continue-as-new (PassResume.Stream) and the kind column of the staging tables.
const (
	KindTickets  = "tickets"
	KindComments = "comments"
)

const (
	integrationWorkflowIDPrefix = "zendesk-integration/"
	publishWorkflowIDPrefix     = "zendesk-publish/"
	remapWorkflowIDPrefix       = "zendesk-remap/"
)

// RemapWorkflowID is the one remap workflow ID of an integration: a second remap while one runs joins it.
func RemapWorkflowID(integrationID int64) string {
	return remapWorkflowIDPrefix + strconv.FormatInt(integrationID, 10)
}

// IntegrationWorkflowID is the one workflow ID of an integration.
func IntegrationWorkflowID(integrationID int64) string {
	return integrationWorkflowIDPrefix + strconv.FormatInt(integrationID, 10)
}

// IntegrationIDFromWorkflowID is the inverse of IntegrationWorkflowID.
func IntegrationIDFromWorkflowID(id string) (int64, bool) {
	if !strings.HasPrefix(id, integrationWorkflowIDPrefix) {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(id, integrationWorkflowIDPrefix), 10, 64)
	return n, err == nil
}

// PublishWorkflowID is the one workflow ID per case: a second publish while one runs joins it.
func PublishWorkflowID(caseID int64) string {
	return publishWorkflowIDPrefix + strconv.FormatInt(caseID, 10)
}
