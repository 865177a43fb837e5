package workerapp

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// passLog writes one INFO line per sync pass: its counts, its Zendesk requests and its duration. A pass is the
// activities of one integration workflow from the end of the previous pass to EndSync (or to the fetch that ended
// it, contract.FetchResult.PassEnded); this worker sees the activities it runs, so with several workers each logs
// its share of a pass. It is a worker interceptor (for the activities' results) and an HTTP transport (for the
// requests, attributed through the activity's context).
type passLog struct {
	interceptor.WorkerInterceptorBase
	logger *slog.Logger
	now    func() time.Time
	mu     sync.Mutex
	passes map[string]*pass // by workflow ID
	// flush, when set, writes the Zendesk requests the activities counted to their passes in PostgreSQL.
	flush func(context.Context)
}

type pass struct {
	start    time.Time
	counters contract.Counters
	requests int64
}

func newPassLog(logger *slog.Logger) *passLog {
	return &passLog{logger: logger, now: time.Now, passes: map[string]*pass{}}
}

// of is the pass under way in a workflow, begun now if none is; the caller holds mu.
func (l *passLog) of(workflowID string) *pass {
	p := l.passes[workflowID]
	if p == nil {
		p = &pass{start: l.now()}
		l.passes[workflowID] = p
	}
	return p
}

// request counts one Zendesk request of a workflow's pass.
func (l *passLog) request(workflowID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.of(workflowID).requests++
}

// record adds an activity's result to its workflow's pass; EndSync (or a fetch that ended the pass) ends the pass
// with its line, and a recorded error ends it with the error.
func (l *passLog) record(workflowID, activityType string, args []interface{}, out interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.of(workflowID)
	switch r := out.(type) {
	case contract.PageCounters:
		if !r.AlreadyApplied {
			p.counters.Add(r.Counters())
		}
	case contract.PushResult:
		p.counters.Pushed += int64(r.Pushed)
	case contract.FetchResult:
		if fetched(p, r) {
			l.end(workflowID, p, "sync pass ended", "")
		}
	}
	switch activityType {
	case contract.ActivityEndSync:
		l.end(workflowID, p, "sync pass ended", "")
	case contract.ActivityRecordError:
		if len(args) == 1 {
			if in, ok := args[0].(contract.ErrorInput); ok && in.Message != "" {
				l.end(workflowID, p, "sync pass stopped", in.Message)
			}
		}
	}
}

// fetched adds the pages a fetch applied itself (nothing to write) to the pass, with the comment page it went on
// with, and says whether the fetch recorded the end of the pass.
func fetched(p *pass, r contract.FetchResult) bool {
	if r.Applied != nil && !r.Applied.AlreadyApplied {
		p.counters.Add(r.Applied.Counters())
	}
	if r.Comments != nil {
		return fetched(p, *r.Comments)
	}
	return r.PassEnded
}

func (l *passLog) end(workflowID string, p *pass, msg, errMsg string) {
	delete(l.passes, workflowID)
	c := p.counters
	attrs := []any{"workflow_id", workflowID, "tickets", c.TicketsSynced, "cases_created", c.CasesCreated,
		"cases_updated", c.CasesUpdated, "comments", c.CommentsSynced, "failures", c.Failures, "pushed", c.Pushed,
		"pages", c.Pages, "requests", p.requests, "duration", l.now().Sub(p.start).Round(time.Millisecond)}
	if errMsg != "" {
		attrs = append(attrs, "error", errMsg)
	}
	l.logger.Info(msg, attrs...)
}

func (l *passLog) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &passActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, l: l}
}

type passActivity struct {
	interceptor.ActivityInboundInterceptorBase
	l *passLog
}

func (a *passActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (interface{}, error) {
	out, err := a.Next.ExecuteActivity(ctx, in)
	// Before the result reaches the workflow, which may close the pass next.
	if a.l.flush != nil {
		a.l.flush(ctx)
	}
	if err == nil {
		info := activity.GetInfo(ctx)
		a.l.record(info.WorkflowExecution.ID, info.ActivityType.Name, in.Args, out)
	}
	return out, err
}

// transport counts the requests made from an activity against its workflow's pass.
func (l *passLog) transport(base http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if ctx := r.Context(); activity.IsActivity(ctx) {
			l.request(activity.GetInfo(ctx).WorkflowExecution.ID)
		}
		return base.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
