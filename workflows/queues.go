package workflows

import (
	"strconv"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// versionBulkQueue (a workflow.GetVersion change ID, beside those in integration.go): the page activities of a
// first sync, and those of an incremental pass past its first bulkAfterPages pages, run on the bulk task queue
// (contract.BulkTaskQueue of the workflow's own) with the integration as their fairness key; pushes run on the
// workflow's own queue at the highest priority. Before it, every activity ran on the workflow's queue at the
// default priority.
const versionBulkQueue = "bulk-queue"

// bulkAfterPages is how many pages an incremental pass runs on the interactive queue before its further pages go to
// the bulk queue: a pass after a normal interval is a page or two and stays interactive (on time whatever first syncs
// run), while a long catch-up (after days of downtime) queues with the other bulk work rather than ahead of it.
const bulkAfterPages = 5

// pushPriority is the priority key of a push on the interactive queue (1 is the highest; the server's default, 3,
// is what the other activities get): a local edit goes ahead of whatever else queued there.
const pushPriority = 1

// queueVersion is this run's versionBulkQueue. GetVersion records its marker the first time it is called in a run
// and answers the same from then on, so calling it at each scheduling is cheap and deterministic.
func (w *runner) queueVersion() workflow.Version {
	return workflow.GetVersion(w.ctx, versionBulkQueue, workflow.DefaultVersion, 1)
}

// pageCtx is the activity context of a page activity (fetch or apply) of a pass that has applied passPages pages:
// bulk work (a first sync, or a long pass) goes to the bulk queue, the rest to the workflow's own queue.
func (w *runner) pageCtx(summary string, passPages int64) workflow.Context {
	return w.pageCtxIn(w.ctx, summary, passPages)
}

// pageCtxIn is pageCtx derived from parent (e.g. a context the stream cancels).
func (w *runner) pageCtxIn(parent workflow.Context, summary string, passPages int64) workflow.Context {
	ctx := w.longCtx(parent, summary)
	if w.queueVersion() == workflow.DefaultVersion || (w.st.FirstSyncDone && passPages < bulkAfterPages) {
		return ctx
	}
	ctx = workflow.WithTaskQueue(ctx, contract.BulkTaskQueue(workflow.GetInfo(w.ctx).TaskQueueName))
	// On a server with fairness on (matching.enableFairness), the bulk queue's slots are shared round-robin between
	// integrations rather than first come, first served; without it the key is carried and ignored.
	return workflow.WithPriority(ctx, temporal.Priority{FairnessKey: "integration-" + strconv.FormatInt(w.in.IntegrationID, 10)})
}

// pushCtx is the activity context of a push: the interactive queue, ahead of anything queued there.
func (w *runner) pushCtx() workflow.Context {
	ctx := w.long("push local changes")
	if w.queueVersion() == workflow.DefaultVersion {
		return ctx
	}
	return workflow.WithPriority(ctx, temporal.Priority{PriorityKey: pushPriority})
}
