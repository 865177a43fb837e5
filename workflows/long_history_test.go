package workflows_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// A first sync of 5,000 pages on a real Temporal server (what a 5,000,000-ticket account is at 1,000 tickets a
// page): the workflow continues as new between pages, so no run's history comes near Temporal's limits (51,200
// events), and every page is applied exactly once.
func TestHistoryOfEveryRunStaysBoundedOnAFiveThousandPageFirstSync(t *testing.T) {
	const pages = 5000
	ctx, ts, c := testServer(t, 15*time.Minute)
	f := newFake(pages, 2)
	f.serve(ts)
	r := &recorder{t: t, ctx: ctx, c: c}
	id := contract.IntegrationWorkflowID(integrationID)
	r.start(id, contract.Input{IntegrationID: integrationID, Name: "acme"})
	var p contract.Progress
	for deadline := time.Now().Add(14 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		v, err := c.QueryWorkflow(ctx, id, "", contract.QueryProgress)
		if err == nil && v.Get(&p) == nil && p.FirstSyncDone {
			break
		}
	}
	require.True(t, p.FirstSyncDone, "the first sync did not end: %+v", p)
	assert.Equal(t, int64(pages+2), p.Counters.Pages)
	assert.Equal(t, int64(pages)*ticketsPer, p.Counters.TicketsSynced)
	assert.Equal(t, 1, p.SyncsCompleted, "one pass, across runs")

	// Every run, newest first, through the continued-from links.
	var lengths []int
	runID := ""
	for {
		n := 0
		it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		prev := ""
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			if n == 0 {
				prev = ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
			}
			n++
		}
		lengths = append(lengths, n)
		if prev == "" {
			break
		}
		runID = prev
	}
	t.Logf("%d runs, history events per run (newest first): %v", len(lengths), lengths)
	require.Greater(t, len(lengths), 10, "a 5,000-page pass must span several runs")
	for i, n := range lengths {
		assert.Less(t, n, 10000, "run %d has %d events", i, n)
	}
	froms := f.froms("ApplyTicketPage")
	require.Len(t, froms, pages, "every page applied exactly once")
	for i, from := range froms {
		want := ""
		if i > 0 {
			want = "t" + strconv.Itoa(i)
		}
		require.Equal(t, want, from)
	}
}
