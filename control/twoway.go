package control

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/workflows"
)

// Publish creates the Zendesk ticket of a case ("Publish to Zendesk"). A case published already gives its ticket
// with Already set; a case of an integration without two-way sync is refused with a clear error.
func (c *Control) Publish(ctx context.Context, caseID int64) (contract.PublishResult, error) {
	var res contract.PublishResult
	cs, err := c.Store.CaseForPublish(ctx, caseID)
	if err != nil {
		return res, err
	}
	if id, ok, err := c.Store.CaseTicket(ctx, caseID); err != nil || ok {
		res.TicketID, res.Already = id, ok
		return res, err
	}
	if cs.IntegrationID == nil {
		return res, fmt.Errorf("case %d belongs to no integration", caseID)
	}
	in, err := c.Store.Integration(ctx, *cs.IntegrationID)
	if err != nil {
		return res, err
	}
	if !in.TwoWay {
		return res, fmt.Errorf("integration %q does not have two-way sync on: turn it on with "+
			"`starter integration edit %s --two-way` to publish cases", in.Name, in.Name)
	}
	run, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       contract.PublishWorkflowID(caseID),
		TaskQueue:                c.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		StaticSummary:            fmt.Sprintf("Publish case %d to %q", caseID, in.Name),
	}, workflows.PublishCaseWorkflow, caseID)
	if err != nil {
		return res, fmt.Errorf("publish case %d: %w", caseID, err)
	}
	if err := run.Get(ctx, &res); err != nil {
		return res, fmt.Errorf("publish case %d: %w", caseID, err)
	}
	return res, nil
}

// Conflicts lists the conflict decisions of an integration's two-way sync.
func (c *Control) Conflicts(ctx context.Context, integration string) ([]store.Conflict, error) {
	in, err := c.Store.IntegrationByName(ctx, integration)
	if err != nil {
		return nil, err
	}
	return c.Store.Conflicts(ctx, in.ID)
}

// Remap derives every case of an integration again from its mirrored tickets under its current mapping (after
// `integration edit --mapping`), without reading Zendesk, and waits for it to end. It runs as the integration's
// remap workflow: a second remap while one runs joins it, and a worker restart resumes it where it stood.
func (c *Control) Remap(ctx context.Context, name string) (contract.RemapResult, error) {
	var res contract.RemapResult
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return res, err
	}
	run, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       contract.RemapWorkflowID(in.ID),
		TaskQueue:                c.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:            fmt.Sprintf("Remap the cases of %q", in.Name),
	}, workflows.RemapWorkflow, contract.RemapInput{IntegrationID: in.ID})
	if err != nil {
		return res, fmt.Errorf("remap %s: %w", name, err)
	}
	if err := run.Get(ctx, &res); err != nil {
		return res, fmt.Errorf("remap %s: %w", name, err)
	}
	return res, nil
}
