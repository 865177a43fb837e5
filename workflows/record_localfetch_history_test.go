package workflows_test

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// TestRecordLocalFetchHistory records testdata/integration_history_local_fetch.json: a first sync, a pass that finds
// nothing (its fetch a local activity, the whole pass one workflow task), a pass whose local fetch fails once with
// a transient error and runs again as an ordinary activity, a pass with new tickets and comments (the local fetch
// stages the ticket page, the rest goes on as activities), then deactivation. The replay test replays it:
//
//	UPDATE_REPLAY_HISTORY=1 go test ./workflows -run TestRecordLocalFetchHistory -count=1
func TestRecordLocalFetchHistory(t *testing.T) {
	f := newFake(2, 1)
	r := newRecording(t, f)
	id, run := r.startSynced(5, "acme-local")

	r.emptyPass(id, f, 2)
	var res contract.SyncResult

	var failed atomic.Int32
	f.setFail(func(act string, r contract.PageRef) error {
		if act == contract.ActivityFetchTicketPage && r.StartPass && failed.Add(1) == 1 {
			return temporal.NewApplicationError("zendesk: 503 Service Unavailable", "ZendeskUnavailable")
		}
		return nil
	})
	before := len(f.names())
	r.update(id, contract.UpdateSyncNow, contract.SyncRequest{Wait: true}, &res)
	require.Equal(t, 3, res.Seq)
	require.Empty(t, res.Error)
	require.Equal(t, []string{"FetchTicketPage", "FetchTicketPage"}, f.names()[before:], "the local fetch, then the activity")

	f.grow(1, 1)
	r.update(id, contract.UpdateSyncNow, contract.SyncRequest{Wait: true}, &res)
	require.Equal(t, 4, res.Seq)
	require.Equal(t, ticketsPer, res.Counters.TicketsSynced)
	r.waitProgress(id, func(p contract.Progress) bool { return p.Phase == contract.PhaseWaiting })

	r.deactivateAndWrite(id, run, "integration_history_local_fetch.json")
}
