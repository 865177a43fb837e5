package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/activities"
)

// Registry is the part of worker.Worker that registration needs.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
	RegisterActivity(a interface{})
}

// Register registers every workflow and activity on a worker, so the worker binary and the tests register
// exactly the same things.
func Register(r Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(IntegrationWorkflow, workflow.RegisterOptions{Name: IntegrationWorkflowName})
	r.RegisterWorkflowWithOptions(PublishCaseWorkflow, workflow.RegisterOptions{Name: PublishWorkflowName})
	r.RegisterActivity(acts)
}
