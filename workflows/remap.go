package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// remapPageSize is how many mirrored tickets one RemapPage activity derives again: one short transaction each.
const remapPageSize = 500

// remapPagesPerRun bounds the pages of one run before it continues as new, keeping its history small.
const remapPagesPerRun = 200

// RemapWorkflow derives every case of an integration again from its mirrored tickets after its mapping changed
// (`starter integration remap`), one page of tickets per activity, by ticket id. It carries only the cursor and the
// counts, so it resumes where it stood after any crash. It is its own workflow rather than part of the integration
// workflow: each page takes the integration's sync-state lock, as an import page does, so the two interleave page
// by page, and the integration workflow's command sequence is left as it is.
func RemapWorkflow(ctx workflow.Context, in contract.RemapInput) (contract.RemapResult, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: 20, NonRetryableErrorTypes: []string{contract.ErrPermanentFailure}},
	})
	for pages := 0; pages < remapPagesPerRun; pages++ {
		var page contract.RemapPageResult
		err := workflow.ExecuteActivity(actx, contract.ActivityRemapPage,
			contract.RemapPageInput{IntegrationID: in.IntegrationID, After: in.After, Limit: remapPageSize}).Get(ctx, &page)
		if err != nil {
			return contract.RemapResult{Examined: in.Examined, Changed: in.Changed}, err
		}
		in.Examined += page.Examined
		in.Changed += page.Changed
		if page.Done {
			return contract.RemapResult{Examined: in.Examined, Changed: in.Changed}, nil
		}
		in.After = page.Next
	}
	return contract.RemapResult{}, workflow.NewContinueAsNewError(ctx, contract.RemapWorkflowName, in)
}
