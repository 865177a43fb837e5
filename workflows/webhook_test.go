package workflows_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

func (h *harness) ticketsAt(d time.Duration, ids ...int64) {
	h.at(d, func() { h.env.SignalWorkflow(contract.SignalTicketsChanged, contract.TicketsChanged{TicketIDs: ids}) })
}

// Webhook calls wake the waiting workflow, which fetches just the tickets they named: a burst about one ticket is
// one fetch, no export page is read, and the pass stays due an interval after the last one.
func TestWebhookTicketsAreAppliedAtOnceCoalescedAndNeverMoveThePass(t *testing.T) {
	f := newFake(1, 1)
	h := newHarness(t, f) // interval 1h
	pagesBefore := h.progressAt(10*time.Minute - time.Second)
	h.at(10*time.Minute, func() {
		for i := 0; i < 100; i++ {
			h.env.SignalWorkflow(contract.SignalTicketsChanged, contract.TicketsChanged{TicketIDs: []int64{7}})
		}
		h.env.SignalWorkflow(contract.SignalTicketsChanged, contract.TicketsChanged{TicketIDs: []int64{8, 7, -1, 0}})
	})
	after := h.progressAt(10*time.Minute + time.Second)
	h.ticketsAt(20*time.Minute, 9)
	pass := h.progressAt(time.Hour + time.Second)
	h.signalAt(time.Hour+time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()
	calls := f.callsTo("ApplyChangedTickets")
	require.Len(t, calls, 2)
	assert.Equal(t, "7,8", calls[0].Ref.From, "one fetch for the burst, each id once, bad ids dropped")
	assert.Equal(t, "9", calls[1].Ref.From)
	assert.Equal(t, 1, after.SyncsCompleted, "a webhook step is not a pass")
	assert.Equal(t, pagesBefore.Counters.Pages, after.Counters.Pages, "no export page read")
	assert.Equal(t, pagesBefore.Counters.TicketsSynced+2, after.Counters.TicketsSynced)
	assert.Equal(t, 2, pass.SyncsCompleted, "the pass ran an interval after the first sync")
	require.NotNil(t, pass.LastSyncAt)
	assert.True(t, pass.LastSyncAt.Equal(t0.Add(time.Hour)), "last sync at %v", pass.LastSyncAt)
}

// Ids beyond the bound are not kept: a pass (the export) reads them instead, and the state stays small.
func TestTooManyWebhookTicketsAskForAPass(t *testing.T) {
	f := newFake(1, 1)
	h := newHarness(t, f)
	ids := make([]int64, contract.MaxChangedTickets+1)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	h.ticketsAt(10*time.Minute, ids...)
	after := h.progressAt(10*time.Minute + time.Second)
	h.signalAt(11*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()
	assert.Empty(t, f.callsTo("ApplyChangedTickets"))
	assert.Equal(t, 2, after.SyncsCompleted, "a pass ran at once")
}

// More tickets than one show_many takes are fetched in batches of 100.
func TestWebhookTicketsAreFetchedInBatches(t *testing.T) {
	f := newFake(1, 1)
	h := newHarness(t, f)
	ids := make([]int64, 250)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	h.ticketsAt(10*time.Minute, ids...)
	h.signalAt(11*time.Minute, contract.SignalDeactivate)
	h.runFresh()
	h.requireEndedInactive()
	calls := f.callsTo("ApplyChangedTickets")
	require.Len(t, calls, 3)
	var n []int
	for _, c := range calls {
		n = append(n, len(strings.Split(c.Ref.From, ",")))
	}
	assert.Equal(t, []int{100, 100, 50}, n)
	assert.Equal(t, "1", strings.Split(calls[0].Ref.From, ",")[0])
	assert.Equal(t, strconv.Itoa(250), strings.Split(calls[2].Ref.From, ",")[49], fmt.Sprint(calls[2].Ref.From[:20]))
}
