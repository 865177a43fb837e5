package workerapp

import (
	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/activities/importing"
	"github.com/zendesk-sync/zendesk-sync/activities/publishing"
	"github.com/zendesk-sync/zendesk-sync/activities/pushing"
	"github.com/zendesk-sync/zendesk-sync/contract"
)

// activityFuncs is every activity of the sync by the name the workflows schedule it by: the lifecycle activities
// of the shared struct and those of each flow's room, all on the same dependencies (and test hooks). This is the
// one place where a contract.Activity* name meets its function.
func activityFuncs(shared *activities.Activities) map[string]any {
	imp := &importing.Activities{Activities: shared}
	push := &pushing.Activities{Activities: shared}
	pub := &publishing.Activities{Activities: shared}
	return map[string]any{
		contract.ActivityLoadSettings: shared.LoadSettings,
		contract.ActivitySyncPosition: shared.SyncPosition,
		contract.ActivityEndSync:      shared.EndSync,
		contract.ActivityRecordError:  shared.RecordError,
		contract.ActivityResetSync:    shared.ResetSync,

		contract.ActivityFetchTicketPage:  imp.FetchTicketPage,
		contract.ActivityFetchCommentPage: imp.FetchCommentPage,
		contract.ActivityApplyTicketPage:  imp.ApplyTicketPage,
		contract.ActivityApplyCommentPage: imp.ApplyCommentPage,
		contract.ActivityRetryFailures:    imp.RetryFailures,
		// The webhook path: tickets by id, between passes.
		contract.ActivityApplyChangedTickets: imp.ApplyChangedTickets,
		contract.ActivityRemapPage:           imp.RemapPage,

		contract.ActivityPushLocalChanges: push.PushLocalChanges,

		contract.ActivityPublishCase: pub.PublishCase,
	}
}
