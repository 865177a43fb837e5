package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/preview"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// writtenTables are every table a sync (or anything else) writes; a dry-run must leave each as it was.
var writtenTables = []string{"crm_users", "contacts", "cases", "case_comments", "zd_users", "zd_tickets", "zd_comments",
	"sync_failures", "sync_pages", "outbox", "conflicts", "applied_pages", "case_history", "sync_passes",
	"zendesk_rate_limits"}

// dbState is a fingerprint of what PostgreSQL holds: each table's rows (as text, hashed) and the sync state.
func (e *env) dbState() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for _, tbl := range append(writtenTables, "sync_state", "integrations") {
		var digest string
		require.NoError(e.t, e.store.DB.GetContext(e.ctx, &digest, fmt.Sprintf(
			`SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM %s t`, tbl)))
		out[tbl] = digest
	}
	return out
}

// simState is what the simulator holds of the given tickets, and its dataset sizes.
func simState(t *testing.T, s *sim.Server, ids []int64) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%+v\n", s.Stats())
	for _, id := range ids {
		raw, _ := s.Ticket(id)
		b.Write(raw)
	}
	return b.String()
}

// requestsOf counts the simulator's logged requests by method.
func requestsOf(s *sim.Server) (gets, writes int) {
	for _, r := range s.Requests() {
		if r.Method == "GET" {
			gets++
		} else {
			writes++
		}
	}
	return gets, writes
}

func planOf(r preview.DryRun, ticketID int64) (preview.CasePlan, bool) {
	for _, c := range r.Cases {
		if c.TicketID == ticketID {
			return c, true
		}
	}
	return preview.CasePlan{}, false
}

func TestDryRunOneWayWritesNothingAndCostsAPass(t *testing.T) {
	e := newEnv(t, withPerPage(40))
	e.ctl.PerPage = 40
	s, url := newSim(t, sim.Options{Seed: 31, Tickets: 150})
	e.integration("dry", url, nil)
	e.firstSyncDone("dry")
	ids := writable(t, s, 3)
	subject, prio := "Printer on fire (dry-run)", "urgent"
	require.NoError(t, s.ChangeTicket(ids[0], sim.TicketChange{Subject: &subject, Priority: &prio}))
	require.NoError(t, s.TouchTicket(ids[1]))
	caseID := e.caseIDOf(ids[0])

	before, simBefore := e.dbState(), simState(t, s, ids)
	s.ResetCounters()
	r, err := e.ctl.DryRun(e.ctx, "dry")
	require.NoError(t, err)
	dryGets, dryWrites := requestsOf(s)
	assert.Equal(t, before, e.dbState(), "a dry-run writes nothing to PostgreSQL")
	assert.Equal(t, simBefore, simState(t, s, ids), "a dry-run changes nothing in Zendesk")
	assert.Zero(t, dryWrites, "a dry-run sends no write to Zendesk")
	assert.Equal(t, dryGets, r.Requests, "the report states the requests it made")

	assert.Equal(t, "dry", r.Integration)
	assert.GreaterOrEqual(t, r.TicketsRead, 2)
	p, ok := planOf(r, ids[0])
	require.True(t, ok, "the changed ticket is in the plan")
	require.NotNil(t, p.CaseID)
	assert.Equal(t, caseID, *p.CaseID)
	assert.Equal(t, preview.ActionUpdate, p.Action)
	require.Contains(t, p.Changes, "subject")
	assert.Equal(t, subject, *p.Changes["subject"].New)
	assert.NotEqual(t, subject, *p.Changes["subject"].Old)
	assert.Equal(t, "high", *p.Changes["priority"].New, "urgent maps to high")
	touched, ok := planOf(r, ids[1])
	require.True(t, ok)
	assert.Equal(t, preview.ActionNone, touched.Action, "a touched ticket changes no case value")
	assert.Empty(t, r.Pushes, "one-way: nothing to push")
	assert.Equal(t, 1, r.Totals.Update)

	// The pass itself: the same requests, and exactly the change the dry-run showed.
	s.ResetCounters()
	res, err := e.ctl.SyncNow(e.ctx, "dry", true)
	require.NoError(t, err)
	passGets, passWrites := requestsOf(s)
	assert.Equal(t, passGets, dryGets, "a dry-run costs the requests of a pass, no more")
	assert.Zero(t, passWrites)
	assert.Equal(t, int64(r.Totals.Update), res.Counters.CasesUpdated)
	assert.Equal(t, subject, e.cases("dry")[ids[0]].Subject)
}

func TestDryRunTwoWayShowsPushesAndConflicts(t *testing.T) {
	e := newEnv(t)
	s, _ := twoWay(t, e, "dtw", "remote", 32)
	ids := writable(t, s, 3)
	// Deactivated, so the local edits below stay pending (the relay would push them at once).
	_, err := e.ctl.Deactivate(e.ctx, "dtw")
	require.NoError(t, err)
	e.waitProgress("dtw", time.Minute, func(p control.ProgressView) bool { return p.Phase == "inactive" })
	conflictCase, pushCase := e.caseIDOf(ids[0]), e.caseIDOf(ids[1])
	remoteSubject, localSubject := "changed in Zendesk (dry)", "changed in the CRM (dry)"
	require.NoError(t, s.ChangeTicket(ids[0], sim.TicketChange{Subject: &remoteSubject}))
	_, err = e.ctl.UpdateCase(e.ctx, conflictCase, control.CaseUpdate{Subject: &localSubject})
	require.NoError(t, err)
	prio := "high"
	if e.cases("dtw")[ids[1]].Priority == "high" {
		prio = "low"
	}
	_, err = e.ctl.UpdateCase(e.ctx, pushCase, control.CaseUpdate{Priority: &prio})
	require.NoError(t, err)
	require.Equal(t, 2, e.count(`SELECT count(*) FROM outbox WHERE processed_at IS NULL`))

	before, simBefore := e.dbState(), simState(t, s, ids)
	s.ResetCounters()
	r, err := e.ctl.DryRun(e.ctx, "dtw")
	require.NoError(t, err)
	dryGets, dryWrites := requestsOf(s)
	assert.Equal(t, before, e.dbState(), "a dry-run writes nothing to PostgreSQL")
	assert.Equal(t, simBefore, simState(t, s, ids), "a dry-run changes nothing in Zendesk")
	assert.Zero(t, dryWrites)
	assert.Equal(t, dryGets, r.Requests)

	// The conflict: the import leaves the subject to the push, which decides it by the priority (remote wins).
	require.Len(t, r.Conflicts, 1)
	c := r.Conflicts[0]
	assert.Equal(t, conflictCase, c.CaseID)
	assert.Equal(t, ids[0], c.TicketID)
	assert.Equal(t, "subject", c.Field)
	assert.Equal(t, localSubject, *c.Local)
	assert.Equal(t, remoteSubject, *c.Remote)
	assert.Equal(t, "remote", c.Winner)
	// The local priority edit goes to Zendesk.
	var push *preview.CasePlan
	for i := range r.Pushes {
		if r.Pushes[i].CaseID != nil && *r.Pushes[i].CaseID == pushCase {
			push = &r.Pushes[i]
		}
	}
	require.NotNil(t, push, "the pending local edit is a push")
	assert.Equal(t, preview.ActionUpdate, push.Action)
	assert.Equal(t, ids[1], push.TicketID)
	require.Contains(t, push.Changes, "priority")
	assert.Equal(t, prio, *push.Changes["priority"].New)
	assert.Equal(t, 1, r.Totals.Pushes, "the conflicting subject is not pushed: Zendesk wins it")

	// The pass: it reads what the dry-run read (and then writes).
	s.ResetCounters()
	_, err = e.ctl.Activate(e.ctx, "dtw")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return e.count(`SELECT count(*) FROM outbox WHERE processed_at IS NULL`) == 0 &&
			e.count(`SELECT count(*) FROM sync_passes WHERE ended_at IS NULL`) == 0
	}, 2*time.Minute, 100*time.Millisecond)
	passGets, passWrites := requestsOf(s)
	assert.LessOrEqual(t, dryGets, passGets, "a dry-run costs the requests of a pass, no more")
	assert.Positive(t, passWrites, "the pass pushes")
	assert.Equal(t, remoteSubject, e.cases("dtw")[ids[0]].Subject, "the pass decides the conflict as shown")
	assert.Equal(t, prio, *simTicketOf(t, s, ids[1]).Priority)
}

func TestIntegrationPreviewReadsAtMostTheLimit(t *testing.T) {
	e := newEnv(t)
	s, url := newSim(t, sim.Options{Seed: 33, Tickets: 240})
	_, err := e.ctl.AddUser(e.ctx, "owner@example.com", "Owner")
	require.NoError(t, err)
	_, err = e.ctl.CreateIntegration(e.ctx, control.IntegrationSpec{Name: "pv", URL: url, Email: simEmail,
		Token: simToken, Owner: "owner@example.com", Interval: time.Hour})
	require.NoError(t, err)
	before := e.dbState()

	s.ResetCounters()
	p, err := e.ctl.PreviewFirstSync(e.ctx, "pv", 100)
	require.NoError(t, err)
	reqs := s.Requests()
	require.Len(t, reqs, 1, "a limit under a page costs one request")
	assert.Contains(t, reqs[0].Query, "per_page=100", "Zendesk is asked for no more than the limit")
	assert.Equal(t, 1, p.Requests)
	assert.Equal(t, 100, p.TicketsRead)
	assert.False(t, p.Complete)
	assert.Equal(t, p.TicketsRead, p.CasesToCreate+p.TicketsWithoutCase)
	total := 0
	for _, n := range p.Status {
		total += n
	}
	assert.Equal(t, p.CasesToCreate, total, "the status spread covers every case")
	assert.Positive(t, p.ContactsToCreate)
	assert.Equal(t, before, e.dbState(), "a preview writes nothing")

	// Past the account's size: the whole export, and exactly what the first sync then creates.
	full, err := e.ctl.PreviewFirstSync(e.ctx, "pv", 1000)
	require.NoError(t, err)
	assert.True(t, full.Complete)
	assert.Equal(t, before, e.dbState())
	_, err = e.ctl.Activate(e.ctx, "pv")
	require.NoError(t, err)
	e.firstSyncDone("pv")
	assert.Equal(t, full.CasesToCreate, e.count(`SELECT count(*) FROM cases`))
	assert.Equal(t, full.ContactsToCreate, e.count(`SELECT count(*) FROM contacts`))
	prio := map[string]int{}
	for _, c := range e.cases("pv") {
		prio[c.Priority]++
	}
	assert.Equal(t, full.Priority, prio)
}

// A dry-run while a pass runs: it reads, takes no lock the pass waits for, and the pass lands every ticket as if
// no dry-run had run.
func TestDryRunWhileAPassRuns(t *testing.T) {
	e := newEnv(t, withPerPage(25))
	e.ctl.PerPage = 25
	s, url := newSim(t, sim.Options{Seed: 34, Tickets: 300, Slow: 20 * time.Millisecond})
	e.integration("busy", url, nil)
	dryRuns := 0
	for {
		p, err := e.ctl.Progress(e.ctx, "busy")
		require.NoError(t, err)
		if p.FirstSyncDone {
			break
		}
		r, err := e.ctl.DryRun(e.ctx, "busy")
		require.NoError(t, err, "a dry-run during a pass")
		assert.Equal(t, "busy", r.Integration)
		dryRuns++
	}
	assert.Positive(t, dryRuns, "at least one dry-run ran during the first sync")
	live := 0
	for _, id := range s.TicketIDs() {
		if !s.IsDeleted(id) {
			live++
		}
	}
	assert.Equal(t, live, e.count(`SELECT count(*) FROM cases`), "the pass landed every ticket")
	r, err := e.ctl.DryRun(e.ctx, "busy")
	require.NoError(t, err)
	assert.Zero(t, r.Totals.Create+r.Totals.Update, "after the pass, nothing is left to do")
}
