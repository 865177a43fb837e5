package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// heldExports serves a simulator whose export requests are held until release: a first sync against it keeps its
// fetch activity running, in its bulk slot, for as long as the test wants.
type heldExports struct {
	held    atomic.Int64
	release chan struct{}
	once    sync.Once
	sim     *sim.Server
	simURL  string
}

func newHeldSim(t *testing.T, o sim.Options) *heldExports {
	t.Helper()
	if o.Email == "" {
		o.Email, o.Token = simEmail, simToken
	}
	h := &heldExports{release: make(chan struct{}), sim: sim.New(o)}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v2/incremental/") {
			h.held.Add(1)
			select {
			case <-h.release:
			case <-r.Context().Done():
				return
			}
		}
		h.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(h.open) // runs before hs.Close: a held request would keep Close waiting
	h.sim.SetBaseURL(hs.URL)
	h.simURL = hs.URL
	return h
}

func (h *heldExports) open() { h.once.Do(func() { close(h.release) }) }

// activityQueues lists, from a workflow's history (every run), the task queue and priority key of each scheduled
// activity of the given type.
func (e *env) activityQueues(workflowID, activityType string) (queues []string, priorities []int32) {
	e.t.Helper()
	runID := ""
	for range 50 {
		it := e.ts.GetDefaultClient().GetWorkflowHistory(e.ctx, workflowID, runID, false,
			enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		runID = ""
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(e.t, err)
			if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == activityType {
				queues = append(queues, a.GetTaskQueue().GetName())
				priorities = append(priorities, a.GetPriority().GetPriorityKey())
			}
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				runID = a.GetNewExecutionRunId()
			}
		}
		if runID == "" {
			break
		}
	}
	return queues, priorities
}

// Fairness (issue 11): with every bulk slot of the worker taken by another customer's first sync (its export held
// open by the simulator), a small integration's local edit still reaches Zendesk and its incremental sync still
// runs, because first-sync pages go to the bulk queue and pushes and small passes to the task queue, each with
// slots of its own. The assertions are on completion, not on timing.
func TestPushAndIncrementalOfOneIntegrationRunWhileAnotherFirstSyncFillsTheBulkSlots(t *testing.T) {
	e := newEnv(t, withBulkSlots(1))
	small, smallURL := newSim(t, sim.Options{Seed: 21, Tickets: 30})
	e.integration("small", smallURL, func(sp *control.IntegrationSpec) { sp.TwoWay = true })
	e.firstSyncDone("small")

	big := newHeldSim(t, sim.Options{Seed: 22, Tickets: 3000})
	e.integration("big", big.simURL, nil)
	require.Eventually(t, func() bool { return big.held.Load() > 0 }, time.Minute, 50*time.Millisecond,
		"the big first sync's fetch is under way, holding the one bulk slot")

	ticket := writable(t, small, 1)[0]
	subject := "edited while another customer's first sync runs"
	_, err := e.ctl.UpdateCase(e.ctx, e.caseIDOf(ticket), control.CaseUpdate{Subject: &subject})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s := simTicketOf(t, small, ticket).Subject
		return s != nil && *s == subject
	}, 2*time.Minute, 50*time.Millisecond, "the push completes while the bulk slot is taken")
	remote := "changed in Zendesk meanwhile"
	require.NoError(t, small.ChangeTicket(writable(t, small, 2)[1], sim.TicketChange{Subject: &remote}))
	res, err := e.ctl.SyncNow(e.ctx, "small", true)
	require.NoError(t, err, "the small integration's incremental sync completes while the bulk slot is taken")
	assert.Positive(t, res.Counters.TicketsSynced)

	p, err := e.ctl.Progress(e.ctx, "big")
	require.NoError(t, err)
	require.False(t, p.FirstSyncDone, "the big first sync was held all along")

	smallID, bigID := e.workflowIDOf("small"), e.workflowIDOf("big")
	queues, prios := e.activityQueues(smallID, contract.ActivityPushLocalChanges)
	require.NotEmpty(t, queues)
	for i := range queues {
		assert.Equal(t, taskQueue, queues[i], "pushes run on the task queue")
		assert.EqualValues(t, 1, prios[i], "at the highest priority")
	}
	queues, _ = e.activityQueues(smallID, contract.ActivityFetchTicketPage)
	assert.Equal(t, contract.BulkTaskQueue(taskQueue), queues[0], "the small first sync's pages ran on the bulk queue")
	// The incremental pass's first fetch is a local activity, run by the worker of its workflow task (no queue);
	// the page it fetched is applied on the task queue.
	queues, _ = e.activityQueues(smallID, contract.ActivityApplyTicketPage)
	assert.Equal(t, taskQueue, queues[len(queues)-1], "its incremental pass's pages on the task queue")

	big.open()
	e.firstSyncDone("big")
	queues, _ = e.activityQueues(bigID, contract.ActivityApplyTicketPage)
	require.NotEmpty(t, queues)
	for _, q := range queues {
		assert.Equal(t, contract.BulkTaskQueue(taskQueue), q, "first-sync pages run on the bulk queue")
	}
	assert.Equal(t, big.sim.Stats().LiveTickets, len(e.cases("big")))
}

func (e *env) workflowIDOf(name string) string {
	e.t.Helper()
	in, err := e.store.IntegrationByName(e.ctx, name)
	require.NoError(e.t, err)
	return contract.IntegrationWorkflowID(in.ID)
}
