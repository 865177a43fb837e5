package control

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/workflows"
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
}

// Progress reads the live state from the workflow's progress query; when the integration is inactive, or no
// worker answers, it falls back to what PostgreSQL recorded.
func (c *Control) Progress(ctx context.Context, name string) (ProgressView, error) {
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return ProgressView{}, err
	}
	v := ProgressView{Integration: in.Name, Active: in.Active, WorkflowID: workflows.IntegrationWorkflowID(in.ID)}
	if in.Active {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		resp, err := c.Temporal.QueryWorkflow(qctx, v.WorkflowID, "", workflows.QueryProgress)
		if err == nil {
			var p workflows.Progress
			if err := resp.Get(&p); err == nil {
				v.Phase, v.FirstSyncDone = p.Phase, p.FirstSyncDone
				v.TicketsSynced, v.CasesCreated = p.Counters.TicketsSynced, p.Counters.CasesCreated
				v.CasesUpdated, v.CommentsSynced = p.Counters.CasesUpdated, p.Counters.CommentsSynced
				v.Failures, v.Pages = p.Counters.Failures, p.Counters.Pages
				v.LastSyncAt, v.SyncsCompleted = p.LastSyncAt, p.SyncsCompleted
				if p.LastError != "" {
					msg := p.LastError
					v.LastError = &msg
				}
				v.Source = "workflow"
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
		v.Phase = workflows.PhaseInactive
	}
	v.Source = "database"
	return v, nil
}

func fill(v *ProgressView, st *store.SyncState) {
	v.Phase, v.FirstSyncDone = st.Phase, st.FirstSyncDone
	v.TicketsSynced, v.CasesCreated, v.CasesUpdated = st.TicketsSynced, st.CasesCreated, st.CasesUpdated
	v.CommentsSynced, v.Failures, v.Pages = st.CommentsSynced, st.Failures, st.Pages
	if st.LastSyncAt.Valid {
		t := st.LastSyncAt.Time
		v.LastSyncAt = &t
	}
	if st.LastError.Valid {
		msg := st.LastError.String
		v.LastError = &msg
	}
}
