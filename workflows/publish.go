package workflows

import (
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/activities"
)

// PublishWorkflowName is the workflow type of "Publish to Zendesk".
const PublishWorkflowName = "PublishCaseWorkflow"

// PublishWorkflowID is the one workflow ID per case: a second publish while one runs joins it.
func PublishWorkflowID(caseID int64) string {
	return "zendesk-publish/" + strconv.FormatInt(caseID, 10)
}

// PublishCaseWorkflow creates the Zendesk ticket of a CRM case. The activity is exactly-once on its own (it looks
// before it creates); the workflow bounds its retries and then wakes the integration's workflow so the case's
// earlier comments follow at once.
func PublishCaseWorkflow(ctx workflow.Context, caseID int64) (activities.PublishResult, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    2 * time.Minute,
		ScheduleToCloseTimeout: 30 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{ErrCredentialsRejected, "NotTwoWay", "PublishRefused"}},
	})
	var res activities.PublishResult
	if err := workflow.ExecuteActivity(actx, a.PublishCase, caseID).Get(ctx, &res); err != nil {
		return res, err
	}
	if !res.Already && res.IntegrationID != 0 {
		_ = workflow.SignalExternalWorkflow(ctx, IntegrationWorkflowID(res.IntegrationID), "", SignalLocalChange, nil).Get(ctx, nil)
	}
	return res, nil
}
