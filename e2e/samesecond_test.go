package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// Zendesk's updated_at has whole-second resolution: a ticket edited again within the second of an edit already
// synced must not be taken for unchanged. The simulator's clock is frozen so both edits share one second whatever
// the machine's speed.
func TestSecondEditWithinTheSameSecondIsImported(t *testing.T) {
	e := newEnv(t)
	frozen := time.Now().Truncate(time.Second)
	s, url := newSim(t, sim.Options{Seed: 4, Tickets: 200, Now: func() time.Time { return frozen }})
	e.integration("samesec", url, nil)
	e.firstSyncDone("samesec")
	id := writable(t, s, 1)[0]

	for _, subject := range []string{"first edit of the second", "second edit of the same second"} {
		subject := subject
		require.NoError(t, s.ChangeTicket(id, sim.TicketChange{Subject: &subject}))
		res, err := e.ctl.SyncNow(e.ctx, "samesec", true)
		require.NoError(t, err)
		require.Empty(t, res.Error)
		require.Equal(t, subject, e.cases("samesec")[id].Subject, "the case must show the latest Zendesk edit")
	}
}
