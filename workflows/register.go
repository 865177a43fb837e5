package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// Registry is the part of worker.Worker that registration needs.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
	RegisterActivity(a interface{})
}

// Register registers every workflow and activity on a worker, so the worker binary and the tests register
// exactly the same things. acts is the activities struct (activities.Activities, or a test's fake with the same
// method names): registered as a struct, each method is registered under its own name, which is the
// contract.Activity* name the workflow schedules. Taking it as a plain value keeps this package free of the
// activities package (and of the storage and Zendesk packages behind it).
func Register(r Registry, acts interface{}) {
	r.RegisterWorkflowWithOptions(IntegrationWorkflow, workflow.RegisterOptions{Name: IntegrationWorkflowName})
	r.RegisterWorkflowWithOptions(PublishCaseWorkflow, workflow.RegisterOptions{Name: PublishWorkflowName})
	r.RegisterActivity(acts)
}
