package workflows

import (
	"sort"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// Registry is the part of worker.Worker that registration needs.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
	ActivityRegistry
}

// ActivityRegistry is the part of worker.Worker that registering activities needs.
type ActivityRegistry interface {
	RegisterActivityWithOptions(a interface{}, options activity.RegisterOptions)
}

// Register registers every workflow and the given activities on a worker, so the worker binary and the tests
// register exactly the same things. acts maps each contract.Activity* name to its function (the worker builds it
// from the activity rooms); taking them as plain values keeps this package free of the activities packages (and of
// the storage and Zendesk packages behind them).
func Register(r Registry, acts map[string]any) {
	r.RegisterWorkflowWithOptions(IntegrationWorkflow, workflow.RegisterOptions{Name: contract.IntegrationWorkflowName})
	r.RegisterWorkflowWithOptions(PublishCaseWorkflow, workflow.RegisterOptions{Name: contract.PublishWorkflowName})
	r.RegisterWorkflowWithOptions(RemapWorkflow, workflow.RegisterOptions{Name: contract.RemapWorkflowName})
	RegisterActivities(r, acts)
}

// RegisterActivities registers the given activities (by contract name) without the workflows: a worker of the bulk
// queue runs activities only.
func RegisterActivities(r ActivityRegistry, acts map[string]any) {
	names := make([]string, 0, len(acts))
	for name := range acts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r.RegisterActivityWithOptions(acts[name], activity.RegisterOptions{Name: name})
	}
}
