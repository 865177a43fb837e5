package workflows_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/workflows"
)

// The remap workflow pages by ticket id, adds the pages' counts, and continues as new carrying only its cursor
// and counts before its history grows large.
func TestRemapWorkflowPagesAndContinuesAsNew(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	pages := 0
	page := func(_ context.Context, in contract.RemapPageInput) (contract.RemapPageResult, error) {
		pages++
		if in.Limit <= 0 || in.IntegrationID != 7 {
			return contract.RemapPageResult{}, errors.New("bad input")
		}
		next := in.After + int64(in.Limit)
		return contract.RemapPageResult{Examined: int64(in.Limit), Changed: 1, Next: next, Done: next >= 3000}, nil
	}

	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.RemapWorkflow, workflow.RegisterOptions{Name: contract.RemapWorkflowName})
	env.RegisterActivityWithOptions(page, activity.RegisterOptions{Name: contract.ActivityRemapPage})
	env.ExecuteWorkflow(contract.RemapWorkflowName, contract.RemapInput{IntegrationID: 7})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res contract.RemapResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, contract.RemapResult{Examined: 3000, Changed: int64(pages)}, res)

	// A run that has not finished after its share of pages continues as new from where it stands.
	env = s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.RemapWorkflow, workflow.RegisterOptions{Name: contract.RemapWorkflowName})
	endless := func(_ context.Context, in contract.RemapPageInput) (contract.RemapPageResult, error) {
		return contract.RemapPageResult{Examined: 1, Next: in.After + 1}, nil
	}
	env.RegisterActivityWithOptions(endless, activity.RegisterOptions{Name: contract.ActivityRemapPage})
	env.ExecuteWorkflow(contract.RemapWorkflowName, contract.RemapInput{IntegrationID: 7, After: 10, Examined: 5})
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &can)
	var carried contract.RemapInput
	assert.Equal(t, contract.RemapWorkflowName, can.WorkflowType.Name)
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &carried))
	assert.Equal(t, int64(7), carried.IntegrationID)
	assert.Greater(t, carried.After, int64(10))
	assert.Equal(t, carried.After-10+5, carried.Examined, "the counts go on in the next run")
}
