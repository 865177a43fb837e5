package main

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// runHistoryLengths returns the number of history events of every run of a workflow, newest run first: it starts
// at the current run and follows each run's "continued from" link back to the first. The integration workflow
// continues as new (at a cycle cap, and between pages of a long pass), so no single run's length says how close
// the workflow came to Temporal's per-run limits; the most of them does.
func runHistoryLengths(ctx context.Context, tc client.Client, wfID string) ([]int, error) {
	var out []int
	runID := ""
	for i := 0; i < 10000; i++ {
		d, err := tc.DescribeWorkflowExecution(ctx, wfID, runID)
		if err != nil {
			return out, fmt.Errorf("describe %s run %q: %w", wfID, runID, err)
		}
		info := d.GetWorkflowExecutionInfo()
		out = append(out, int(info.GetHistoryLength()))
		// The first event of a run names the run it continues, if any.
		it := tc.GetWorkflowHistory(ctx, wfID, info.GetExecution().GetRunId(), false,
			enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		if !it.HasNext() {
			return out, nil
		}
		ev, err := it.Next()
		if err != nil {
			return out, fmt.Errorf("first event of %s run %s: %w", wfID, info.GetExecution().GetRunId(), err)
		}
		runID = ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
		if runID == "" {
			return out, nil
		}
	}
	return out, fmt.Errorf("%s: more than 10000 runs", wfID)
}

// noteHistory records the longest run history of a stack's workflow in the results (history_events_max).
func (e *env) noteHistory(ctx context.Context, wfID string) {
	lengths, err := runHistoryLengths(ctx, e.tc, wfID)
	var nf *serviceerror.NotFound
	if err != nil && !(len(lengths) == 0 && errors.As(err, &nf)) { // a workflow that never started has no history
		e.historyErr = err
	}
	for _, n := range lengths {
		e.historyMax = max(e.historyMax, n)
	}
	e.historyRuns += len(lengths)
}
