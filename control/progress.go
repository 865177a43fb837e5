package control

import (
	"context"
	"errors"
	"strings"
	"time"

	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/store"
)

// ProgressView is `starter progress -o json` (DESIGN.md).
type ProgressView struct {
	Integration    string     `json:"integration"`
	Active         bool       `json:"active"`
	Phase          string     `json:"phase"`
	FirstSyncDone  bool       `json:"first_sync_done"`
	TicketsSynced  int64      `json:"tickets_synced"`
	CasesCreated   int64      `json:"cases_created"`
	CasesUpdated   int64      `json:"cases_updated"`
	CommentsSynced int64      `json:"comments_synced"`
	Failures       int64      `json:"failures"`
	Pages          int64      `json:"pages"`
	LastSyncAt     *time.Time `json:"last_sync_at"`
	LastError      *string    `json:"last_error"`
	WorkflowID     string     `json:"workflow_id"`
	SyncsCompleted int        `json:"syncs_completed"`
	// Source says where the figures came from: the live workflow, or the database when no workflow answers.
	Source string `json:"source"`
	// Attempts is the attempt number of a sync step that is failing and being retried right now (a transient
	// failure: Zendesk unreachable or answering 5xx/429, PostgreSQL down); 0 when no step is retrying. While it is
	// set, LastError is that step's latest failure.
	Attempts int `json:"attempts"`
	// Retrying names the step being retried (the activity, e.g. FetchTicketPage); null when none is.
	Retrying *string `json:"retrying"`
	// NextAttemptAt is when the retrying step runs again, when it is waiting to (null otherwise).
	NextAttemptAt *time.Time `json:"next_attempt_at"`
}

// Progress reads the live state from the workflow's progress query; when the integration is inactive, or no
// worker answers, it falls back to what PostgreSQL recorded.
func (c *Control) Progress(ctx context.Context, name string) (ProgressView, error) {
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return ProgressView{}, err
	}
	v := ProgressView{Integration: in.Name, Active: in.Active, WorkflowID: contract.IntegrationWorkflowID(in.ID)}
	if in.Active {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		resp, err := c.Temporal.QueryWorkflow(qctx, v.WorkflowID, "", contract.QueryProgress)
		if err == nil {
			var p contract.Progress
			if err := resp.Get(&p); err == nil {
				v.Phase, v.FirstSyncDone = p.Phase, p.FirstSyncDone
				v.setCounters(p.Counters)
				v.LastSyncAt, v.SyncsCompleted = p.LastSyncAt, p.SyncsCompleted
				if p.LastError != "" {
					msg := p.LastError
					v.LastError = &msg
				}
				v.Source = "workflow"
				c.retrying(qctx, &v)
				return v, nil
			}
		}
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) && ctx.Err() != nil {
			return v, ctx.Err()
		}
	}
	st, err := c.Store.SyncState(ctx, in.ID)
	if err != nil {
		return v, err
	}
	fill(&v, st)
	if !in.Active {
		v.Phase = contract.PhaseInactive
	}
	v.Source = "database"
	return v, nil
}

// retrying shows a sync step that is failing right now: the workflow only records an error once a step gives up,
// and a transient failure (Zendesk unreachable, 5xx, PostgreSQL down) never does, so without this it would show
// in the worker's log only. Temporal keeps each pending activity's attempt number and last failure; the one
// furthest into its retries is shown. Nothing is changed when Temporal cannot say.
func (c *Control) retrying(ctx context.Context, v *ProgressView) {
	resp, err := c.Temporal.DescribeWorkflowExecution(ctx, v.WorkflowID, "")
	if err != nil {
		return
	}
	var worst *workflowpb.PendingActivityInfo
	for _, pa := range resp.GetPendingActivities() {
		if pa.GetAttempt() > 1 && pa.GetLastFailure() != nil && (worst == nil || pa.GetAttempt() > worst.GetAttempt()) {
			worst = pa
		}
	}
	if worst == nil {
		return
	}
	msg := failureMessage(worst.GetLastFailure())
	v.LastError = &msg
	v.Attempts = int(worst.GetAttempt())
	name := worst.GetActivityType().GetName()
	v.Retrying = &name
	if t := worst.GetNextAttemptScheduleTime(); t != nil && t.IsValid() {
		at := t.AsTime()
		v.NextAttemptAt = &at
	}
}

// failureMessage is a failure's message, with the messages of its causes when they add something (a timeout's
// cause is the failure the attempt ended with).
func failureMessage(f *failurepb.Failure) string {
	msg := f.GetMessage()
	for cause := f.GetCause(); cause != nil; cause = cause.GetCause() {
		if m := cause.GetMessage(); m != "" && !strings.Contains(msg, m) {
			msg += ": " + m
		}
	}
	return msg
}

// setCounters copies a sync's totals into the view, whose flat JSON fields are the documented output.
func (v *ProgressView) setCounters(c contract.Counters) {
	v.TicketsSynced, v.CasesCreated, v.CasesUpdated = c.TicketsSynced, c.CasesCreated, c.CasesUpdated
	v.CommentsSynced, v.Failures, v.Pages = c.CommentsSynced, c.Failures, c.Pages
}

func fill(v *ProgressView, st *store.SyncState) {
	v.Phase, v.FirstSyncDone = st.Phase, st.FirstSyncDone
	v.setCounters(st.Counters)
	if st.LastSyncAt.Valid {
		t := st.LastSyncAt.Time
		v.LastSyncAt = &t
	}
	if st.LastError.Valid {
		msg := st.LastError.String
		v.LastError = &msg
	}
}
