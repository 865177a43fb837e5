package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"
)

// hops continues as new `left` times, sleeping `sleeps` times in each run, so every run has a known size.
func hops(ctx workflow.Context, left, sleeps int) error {
	for i := 0; i < sleeps; i++ {
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return err
		}
	}
	if left > 0 {
		return workflow.NewContinueAsNewError(ctx, hops, left-1, sleeps*2)
	}
	return nil
}

// history_events_max reads every run of the chain, not only the last one.
func TestRunHistoryLengthsFollowsContinueAsNew(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	ts.NewWorker("hops", func(r worker.Registry) { r.RegisterWorkflow(hops) })
	tc := ts.GetDefaultClient()
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "hops-1", TaskQueue: "hops"}, hops, 2, 1)
	require.NoError(t, err)
	require.NoError(t, tc.GetWorkflow(ctx, "hops-1", "").Get(ctx, nil))
	_ = run

	lengths, err := runHistoryLengths(ctx, tc, "hops-1")
	require.NoError(t, err)
	require.Len(t, lengths, 3, "three runs: the first and two continued")
	// Newest first, and each run sleeps twice as often as the one before it: the last run is the longest.
	assert.Greater(t, lengths[0], lengths[1])
	assert.Greater(t, lengths[1], lengths[2])
	e := &env{tc: tc}
	e.noteHistory(ctx, "hops-1")
	assert.Equal(t, lengths[0], e.historyMax)
	assert.Equal(t, 3, e.historyRuns)
	assert.NoError(t, e.historyErr)
}
