package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// PublishCaseWorkflow creates the Zendesk ticket of a CRM case. The activity is exactly-once on its own (it looks
// before it creates); the workflow bounds its retries and then wakes the integration's workflow so the case's
// earlier comments follow at once.
func PublishCaseWorkflow(ctx workflow.Context, caseID int64) (contract.PublishResult, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    2 * time.Minute,
		ScheduleToCloseTimeout: 30 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{contract.ErrCredentialsRejected, contract.ErrNotTwoWay, contract.ErrPublishRefused}},
	})
	var res contract.PublishResult
	if err := workflow.ExecuteActivity(actx, contract.ActivityPublishCase, contract.CaseRef{CaseID: caseID}).Get(ctx, &res); err != nil {
		return res, err
	}
	if !res.Already && res.IntegrationID != 0 {
		_ = workflow.SignalExternalWorkflow(ctx, contract.IntegrationWorkflowID(res.IntegrationID), "", contract.SignalLocalChange, nil).Get(ctx, nil)
	}
	return res, nil
}
