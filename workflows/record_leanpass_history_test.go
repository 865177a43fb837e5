package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// TestRecordLeanPassHistory records testdata/integration_history_lean_pass.json: a first sync, a pass that finds
// nothing (one activity: a ticket fetch that goes on with the comment stream and ends the pass; no SyncPosition, no
// apply, no EndSync), a pass with new tickets and comments, a pass with new tickets only (its empty comment page ends
// it), then deactivation. The replay test replays it, so a later change of the lean pass that would break running
// workflows fails there:
//
//	UPDATE_REPLAY_HISTORY=1 go test ./workflows -run TestRecordLeanPassHistory -count=1
func TestRecordLeanPassHistory(t *testing.T) {
	f := newFake(2, 1)
	r := newRecording(t, f)
	id, run := r.startSynced(3, "acme-lean")

	r.emptyPass(id, f, 2)
	var res contract.SyncResult

	f.grow(1, 1)
	r.update(id, contract.UpdateSyncNow, contract.SyncRequest{Wait: true}, &res)
	require.Equal(t, 3, res.Seq)
	require.Equal(t, ticketsPer, res.Counters.TicketsSynced)
	f.grow(1, 0)
	r.update(id, contract.UpdateSyncNow, contract.SyncRequest{Wait: true}, &res)
	require.Equal(t, 4, res.Seq)
	require.Equal(t, contract.Counters{Pages: 2, TicketsSynced: ticketsPer, CasesCreated: ticketsPer}, res.Counters)
	r.waitProgress(id, func(p contract.Progress) bool { return p.Phase == contract.PhaseWaiting })

	r.deactivateAndWrite(id, run, "integration_history_lean_pass.json")
}
