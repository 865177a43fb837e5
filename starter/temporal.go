package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// temporalReachTimeout bounds the wait for an unreachable Temporal: the SDK retries a refused connection until
// the call's deadline, which would leave a user staring at a silent terminal.
const temporalReachTimeout = 3 * time.Second

// reachableClient is the lazy Temporal client checked once, before its first call, with a short deadline, so a
// Temporal that is down gives within seconds an error naming the address tried and where it was set. The calls
// control makes go through reach; the others are the embedded client's.
type reachableClient struct {
	client.Client
	addr string
	once sync.Once
	err  error
}

func (r *reachableClient) reach(ctx context.Context) error {
	r.once.Do(func() {
		cctx, cancel := context.WithTimeout(ctx, temporalReachTimeout)
		defer cancel()
		if _, err := r.Client.CheckHealth(cctx, &client.CheckHealthRequest{}); err != nil {
			if ctx.Err() != nil {
				r.err = ctx.Err() // interrupted: not Temporal's fault
				return
			}
			r.err = fmt.Errorf("cannot reach Temporal at %s (set it with TEMPORAL_ADDRESS or --temporal-address; "+
				"is the Temporal server running?): %w", r.addr, err)
		}
	})
	return r.err
}

func (r *reachableClient) ExecuteWorkflow(ctx context.Context, o client.StartWorkflowOptions, wf interface{},
	args ...interface{}) (client.WorkflowRun, error) {
	if err := r.reach(ctx); err != nil {
		return nil, err
	}
	return r.Client.ExecuteWorkflow(ctx, o, wf, args...)
}

func (r *reachableClient) SignalWithStartWorkflow(ctx context.Context, id, signal string, arg interface{},
	o client.StartWorkflowOptions, wf interface{}, args ...interface{}) (client.WorkflowRun, error) {
	if err := r.reach(ctx); err != nil {
		return nil, err
	}
	return r.Client.SignalWithStartWorkflow(ctx, id, signal, arg, o, wf, args...)
}

func (r *reachableClient) SignalWorkflow(ctx context.Context, id, runID, signal string, arg interface{}) error {
	if err := r.reach(ctx); err != nil {
		return err
	}
	return r.Client.SignalWorkflow(ctx, id, runID, signal, arg)
}

func (r *reachableClient) TerminateWorkflow(ctx context.Context, id, runID, reason string, details ...interface{}) error {
	if err := r.reach(ctx); err != nil {
		return err
	}
	return r.Client.TerminateWorkflow(ctx, id, runID, reason, details...)
}

func (r *reachableClient) UpdateWorkflow(ctx context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if err := r.reach(ctx); err != nil {
		return nil, err
	}
	return r.Client.UpdateWorkflow(ctx, o)
}

func (r *reachableClient) QueryWorkflow(ctx context.Context, id, runID, query string, args ...interface{}) (converter.EncodedValue, error) {
	if err := r.reach(ctx); err != nil {
		return nil, err
	}
	return r.Client.QueryWorkflow(ctx, id, runID, query, args...)
}
