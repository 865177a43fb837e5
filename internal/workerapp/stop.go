package workerapp

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/zendesk-sync/zendesk-sync/internal/opsmetrics"
)

// stoppingActivities is the worker interceptor for a graceful stop. It counts the activities running in this
// process, so the worker can wait for those the stop timeout cancelled to return before it closes the store and
// the Temporal client they use (the SDK's Run returns once their contexts are cancelled, not once they have
// returned). And it reports an activity cut short by the stop as a benign error: the SDK logs an activity error
// at ERROR level, but an activity cancelled by a graceful stop is planned, and its attempt is retried.
type stoppingActivities struct {
	interceptor.WorkerInterceptorBase
	logger  *slog.Logger
	running atomic.Int64
}

func (s *stoppingActivities) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &stoppingActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, s: s}
}

// wait waits up to d for the running activities to return; it reports whether they all did.
func (s *stoppingActivities) wait(d time.Duration) bool {
	// Polled rather than a WaitGroup: an activity may start while the worker is stopping, and a WaitGroup must
	// not see an Add racing its Wait.
	deadline := time.Now().Add(d)
	for s.running.Load() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

type stoppingActivity struct {
	interceptor.ActivityInboundInterceptorBase
	s *stoppingActivities
}

func (a *stoppingActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (interface{}, error) {
	a.s.running.Add(1)
	defer a.s.running.Add(-1)
	slot := opsmetrics.ActivitiesRunning.WithLabelValues(activity.GetInfo(ctx).ActivityType.Name)
	slot.Inc()
	defer slot.Dec()
	out, err := a.Next.ExecuteActivity(ctx, in)
	if err != nil && errors.Is(context.Cause(ctx), worker.ErrWorkerShutdown) {
		info := activity.GetInfo(ctx)
		a.s.logger.Warn("activity cancelled at the stop timeout; it will be retried", "activity", info.ActivityType.Name,
			"workflow_id", info.WorkflowExecution.ID, "attempt", info.Attempt, "error", err)
		err = temporal.NewApplicationErrorWithOptions("the worker stopped before the activity finished", "WorkerStopped",
			temporal.ApplicationErrorOptions{Cause: err, Category: temporal.ApplicationErrorCategoryBenign})
	}
	return out, err
}
