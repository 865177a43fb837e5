package workflows_test

import (
	"context"
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
		pass            int // 0: the first sync; 1: the pass after the 8 new pages
	}
	var mu sync.Mutex
	var runs []run
	grown := t0.Add(30 * time.Minute)
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		mu.Lock()
		defer mu.Unlock()
		r := run{activity: info.ActivityType.Name, queue: info.TaskQueue}
		if !h.env.Now().Before(grown) {
			r.pass = 1
		}
		runs = append(runs, r)
	})
	// After the first sync, 8 more ticket pages: the next pass (at the interval) is a long one. Its first fetch is
	// a local activity (versionLocalFirstFetch), run by the workflow's worker: no queue.
	h.at(30*time.Minute, func() { f.grow(8, 0) })
	h.signalAt(3*time.Hour, contract.SignalDeactivate)
	h.runFresh()

	require.NotEmpty(t, runs)
	own := runs[0].queue // LoadSettings
	bulk := contract.BulkTaskQueue(own)
	pages := map[string]bool{contract.ActivityFetchTicketPage: true, contract.ActivityApplyTicketPage: true,
		contract.ActivityFetchCommentPage: true, contract.ActivityApplyCommentPage: true}
	var first, second []string // the queues of the page activities of each pass
	for _, r := range runs {
		switch {
		case pages[r.activity] && r.pass == 0:
			first = append(first, r.queue)
		case pages[r.activity] && r.pass == 1:
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

// A page's apply is scheduled as soon as the page is fetched, while the apply of the page before it still runs
// (versionPipelinedApply): it names where that page starts (After) and waits for it. Applies slower than fetches
// then follow each other without a workflow task in between, and every page is applied once, in order.
func TestPageAppliesArePipelined(t *testing.T) {
	f := newFake(4, 3)
	f.delays["ApplyTicketPage"] = 10 * time.Second
	f.delays["FetchTicketPage"] = time.Second
	h := newHarness(t, f)
	var mu sync.Mutex
	var events []string // "start <from>" and "done <from>" of the ticket page applies, in order
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		if info.ActivityType.Name != contract.ActivityApplyTicketPage {
			return
		}
		var ref contract.PageRef
		require.NoError(t, args.Get(&ref))
		mu.Lock()
		defer mu.Unlock()
		events = append(events, "start "+ref.From)
	})
	h.env.SetOnActivityCompletedListener(func(info *activity.Info, _ converter.EncodedValue, _ error) {
		if info.ActivityType.Name != contract.ActivityApplyTicketPage {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		events = append(events, "done")
	})
	done := h.progressAt(2 * time.Minute)
	h.signalAt(3*time.Minute, contract.SignalDeactivate)
	h.runFresh()

	assert.Equal(t, 4*ticketsPer, done.Counters.TicketsSynced, "every ticket page applied once")
	assert.Equal(t, 3*commentsPer, done.Counters.CommentsSynced)
	assert.Equal(t, []string{"", "t1", "t2", "t3"}, f.froms(contract.ActivityApplyTicketPage))
	applies := f.callsTo(contract.ActivityApplyTicketPage)
	assert.Nil(t, applies[0].Ref.After, "the first page has none before it")
	for i := 1; i < len(applies); i++ {
		require.NotNil(t, applies[i].Ref.After)
		assert.Equal(t, applies[i-1].Ref.From, *applies[i].Ref.After)
	}
	// The second apply starts before the first is done: pipelined, not one after the other.
	require.GreaterOrEqual(t, len(events), 3)
	assert.Equal(t, []string{"start ", "start t1"}, events[:2], "events: %v", events)
}
