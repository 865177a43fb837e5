package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// TestRecordPipelinedHistory records testdata/integration_history_pipelined.json: a first sync of several pages per
// stream whose applies are pipelined (versionPipelinedApply: each scheduled as soon as its page is fetched), a pass
// that finds nothing (the lean pass), a pass with new pages, then deactivation. The replay test replays it:
//
//	UPDATE_REPLAY_HISTORY=1 go test ./workflows -run TestRecordPipelinedHistory -count=1
func TestRecordPipelinedHistory(t *testing.T) {
	f := newFake(4, 3)
	r := newRecording(t, f)
	id, run := r.startSynced(4, "acme-pipelined")
	applies := f.callsTo(contract.ActivityApplyTicketPage)
	require.Len(t, applies, 4)
	require.NotNil(t, applies[3].Ref.After, "the first sync's applies are pipelined")

	var res contract.SyncResult
	r.update(id, contract.UpdateSyncNow, contract.SyncRequest{Wait: true}, &res)
	require.Equal(t, contract.Counters{Pages: 2}, res.Counters, "the empty pass")
	f.grow(2, 2)
	r.update(id, contract.UpdateSyncNow, contract.SyncRequest{Wait: true}, &res)
	require.Equal(t, 2*ticketsPer, res.Counters.TicketsSynced)
	require.Equal(t, 2*commentsPer, res.Counters.CommentsSynced)
	r.waitProgress(id, func(p contract.Progress) bool { return p.Phase == contract.PhaseWaiting })

	r.deactivateAndWrite(id, run, "integration_history_pipelined.json")
}
