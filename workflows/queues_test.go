package workflows_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// Which queue each activity runs on is the workflow's decision (versionBulkQueue): a first sync's pages go to the
// bulk queue; an incremental pass's first pages stay on the workflow's own queue with everything else, and a long
// pass's later pages go to the bulk queue too.
func TestFirstSyncAndLongPassPagesRunOnTheBulkQueue(t *testing.T) {
	f := newFake(3, 2)
	h := newHarness(t, f)
	type run struct {
		activity, queue string
		starts          bool // the activity opens a pass: SyncPosition, or a lean pass's first fetch
	}
	var mu sync.Mutex
	var runs []run
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		mu.Lock()
		defer mu.Unlock()
		r := run{activity: info.ActivityType.Name, queue: info.TaskQueue, starts: info.ActivityType.Name == "SyncPosition"}
		var ref contract.PageRef
		if strings.HasPrefix(r.activity, "Fetch") && args.Get(&ref) == nil {
			r.starts = ref.StartPass
		}
		runs = append(runs, r)
	})
	// After the first sync, 8 more ticket pages: the next pass (at the interval) is a long one.
	h.at(30*time.Minute, func() { f.grow(8, 0) })
	h.signalAt(3*time.Hour, contract.SignalDeactivate)
	h.runFresh()

	require.NotEmpty(t, runs)
	own := runs[0].queue // LoadSettings
	bulk := contract.BulkTaskQueue(own)
	pages := map[string]bool{contract.ActivityFetchTicketPage: true, contract.ActivityApplyTicketPage: true,
		contract.ActivityFetchCommentPage: true, contract.ActivityApplyCommentPage: true}
	var first, second []string // the queues of the page activities of each pass
	pass := -1
	for _, r := range runs {
		if r.starts {
			pass++
		}
		switch {
		case pages[r.activity] && pass == 0:
			first = append(first, r.queue)
		case pages[r.activity] && pass == 1:
			second = append(second, r.queue)
		case !pages[r.activity]:
			assert.Equal(t, own, r.queue, "%s runs on the workflow's own queue", r.activity)
		}
	}
	require.NotEmpty(t, first)
	for _, q := range first {
		assert.Equal(t, bulk, q, "a first sync's pages run on the bulk queue")
	}
	// The long pass: its pages stay on the own queue until 5 are applied, then go to the bulk queue.
	require.Greater(t, len(second), 12)
	assert.Equal(t, own, second[0])
	assert.Equal(t, bulk, second[len(second)-1])
	moved := false
	for _, q := range second {
		if q == bulk {
			moved = true
		} else {
			assert.False(t, moved, "once on the bulk queue, a pass stays there: %v", second)
		}
	}
}
