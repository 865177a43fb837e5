package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// caseStamps returns each case's updated_at and comment count, keyed by ticket id.
func (e *env) caseStamps() map[int64]string {
	e.t.Helper()
	rows, err := e.store.DB.QueryxContext(e.ctx, `SELECT t.zendesk_id, c.updated_at::text || '/' ||
		(SELECT count(*) FROM case_comments cc WHERE cc.case_id = c.id)::text
		FROM cases c JOIN zd_tickets t ON t.case_id = c.id`)
	require.NoError(e.t, err)
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var s string
		require.NoError(e.t, rows.Scan(&id, &s))
		out[id] = s
	}
	return out
}

// writable returns n tickets an agent can still change (not closed, not deleted).
func writable(t *testing.T, s *sim.Server, n int) []int64 {
	t.Helper()
	var out []int64
	for _, id := range s.TicketIDs() {
		raw, ok := s.Ticket(id)
		if !ok || s.IsDeleted(id) {
			continue
		}
		var st simTicket
		require.NoError(t, json.Unmarshal(raw, &st))
		if st.Status != "closed" {
			out = append(out, id)
		}
		if len(out) == n {
			break
		}
	}
	require.Len(t, out, n)
	return out
}

func TestIncrementalSyncChangesExactlyTheChangedCases(t *testing.T) {
	e := newEnv(t)
	s, url := newSim(t, sim.Options{Seed: 2, Tickets: 2000})
	e.integration("inc", url, nil)
	e.firstSyncDone("inc")
	before := e.caseStamps()
	casesBefore := e.cases("inc")

	// A sync with nothing new writes nothing.
	res, err := e.ctl.SyncNow(e.ctx, "inc", true)
	require.NoError(t, err)
	assert.Zero(t, res.Counters.CasesUpdated)
	assert.Equal(t, before, e.caseStamps(), "a sync that changes nothing writes nothing")

	sp := s.Special()
	ids := writable(t, s, 70)
	changed := map[int64]bool{}
	subject := func(i int) *string { v := fmt.Sprintf("changed subject %d", i); return &v }
	prio := "high"
	for i, id := range []int64{ids[40], ids[41], ids[42], sp.Open, sp.Pending} {
		require.NoError(t, s.ChangeTicket(id, sim.TicketChange{Subject: subject(i), Priority: &prio}))
		changed[id] = true
	}
	commented := []int64{ids[50], ids[51]}
	for _, id := range commented {
		_, err := s.AddComment(id, "a new reply from Zendesk", true, 0)
		require.NoError(t, err)
		changed[id] = true
	}
	res, err = e.ctl.SyncNow(e.ctx, "inc", true)
	require.NoError(t, err)
	assert.EqualValues(t, 2, res.Counters.CommentsSynced)

	after := e.caseStamps()
	casesAfter := e.cases("inc")
	for id, stamp := range after {
		if changed[id] {
			assert.NotEqual(t, before[id], stamp, "ticket %d changed in Zendesk: its case must change", id)
		} else {
			assert.Equal(t, before[id], stamp, "ticket %d did not change: its case must not be written", id)
		}
	}
	for i, id := range []int64{ids[40], ids[41], ids[42], sp.Open, sp.Pending} {
		assert.Equal(t, *subject(i), casesAfter[id].Subject)
		assert.Equal(t, "high", casesAfter[id].Priority)
	}
	for _, id := range commented {
		c := casesAfter[id]
		assert.Len(t, c.Comments, len(casesBefore[id].Comments)+1)
		assert.Equal(t, "a new reply from Zendesk", c.Comments[len(c.Comments)-1].Body)
	}

	// Deleting a ticket later keeps its case and status, and shows ticket.status deleted.
	require.NoError(t, s.DeleteTicket(ids[60]))
	_, err = e.ctl.SyncNow(e.ctx, "inc", true)
	require.NoError(t, err)
	del := e.cases("inc")[ids[60]]
	assert.Equal(t, "deleted", del.Ticket.Status)
	assert.Equal(t, casesBefore[ids[60]].Status, del.Status)

	// Repeated syncs never duplicate comments.
	_, err = e.ctl.SyncNow(e.ctx, "inc", true)
	require.NoError(t, err)
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM (SELECT case_id, body, created_at FROM case_comments
		GROUP BY 1,2,3 HAVING count(*) > 1) d`))
}

func TestTicketChangedDuringFirstSyncIsNotLost(t *testing.T) {
	e := newEnv(t, withPerPage(100))
	s, url := newSim(t, sim.Options{Seed: 3, Tickets: 600})
	release := s.BlockExport(2) // pages 1 and 2 go through, page 3 waits
	e.integration("during", url, nil)
	first := s.TicketIDs()[0] // synced in page 1
	require.Eventually(t, func() bool {
		return e.count(`SELECT count(*) FROM zd_tickets WHERE zendesk_id = $1`, first) == 1
	}, time.Minute, 100*time.Millisecond)
	v := "changed while the first sync ran"
	require.NoError(t, s.ChangeTicket(first, sim.TicketChange{Subject: &v}))
	release()
	e.firstSyncDone("during")
	assert.Equal(t, v, e.cases("during")[first].Subject)
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM (SELECT zendesk_id FROM zd_tickets GROUP BY 1 HAVING count(*) > 1) d`))
}

// Regression: with more than a page of ticket events inside Zendesk's last minute, the comment stream used to
// fetch the same position again and again, and "sync now --wait" never returned.
func TestManyRecentChangesDoNotStallTheSync(t *testing.T) {
	e := newEnv(t)
	s, url := newSim(t, sim.Options{Seed: 17, Tickets: 2000})
	e.integration("busy", url, nil)
	e.firstSyncDone("busy")
	ids := writable(t, s, 1200)
	for i, id := range ids {
		v := fmt.Sprintf("busy %d", i)
		require.NoError(t, s.ChangeTicket(id, sim.TicketChange{Subject: &v}))
	}
	done := make(chan error, 1)
	go func() { _, err := e.ctl.SyncNow(e.ctx, "busy", true); done <- err }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(3 * time.Minute):
		t.Fatal("sync now --wait did not return")
	}
	// The simulator, like Zendesk, spreads a burst of writes over the next seconds and shows them once their
	// second has come: a later sync picks up the rest.
	time.Sleep(3 * time.Second)
	_, err := e.ctl.SyncNow(e.ctx, "busy", true)
	require.NoError(t, err)
	cases := e.cases("busy")
	for i, id := range ids {
		assert.Equal(t, fmt.Sprintf("busy %d", i), cases[id].Subject)
	}
}
