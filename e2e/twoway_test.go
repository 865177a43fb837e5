package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/activities/publishing"
	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// twoWay starts a simulator and a synced two-way integration with the given priority.
func twoWay(t *testing.T, e *env, name, priority string, seed int64) (*sim.Server, *zendesk.Client) {
	t.Helper()
	s, url := newSim(t, sim.Options{Seed: seed, Tickets: 200})
	e.integration(name, url, func(sp *control.IntegrationSpec) { sp.TwoWay, sp.Priority = true, priority })
	e.firstSyncDone(name)
	zc, err := zendesk.New(zendesk.Config{URL: url, Email: simEmail, Token: simToken})
	require.NoError(t, err)
	return s, zc
}

func simTicketOf(t *testing.T, s *sim.Server, id int64) simTicket {
	t.Helper()
	raw, ok := s.Ticket(id)
	require.True(t, ok)
	var st simTicket
	require.NoError(t, json.Unmarshal(raw, &st))
	return st
}

func (e *env) caseIDOf(ticketID int64) int64 {
	e.t.Helper()
	var id int64
	require.NoError(e.t, e.store.DB.GetContext(e.ctx, &id, `SELECT case_id FROM zd_tickets WHERE zendesk_id=$1`, ticketID))
	return id
}

// putBodies returns the bodies of the PUTs the simulator received for a ticket.
func putBodies(s *sim.Server, ticketID int64) []map[string]map[string]any {
	var out []map[string]map[string]any
	for _, r := range s.Requests() {
		if r.Method == "PUT" && strings.Contains(r.Path, "/tickets/") && strings.Contains(r.Path, jsonID(ticketID)) {
			var b map[string]map[string]any
			if json.Unmarshal([]byte(r.Body), &b) == nil {
				out = append(out, b)
			}
		}
	}
	return out
}

// withoutSafeUpdate is a ticket update's body without the safe-update guard, i.e. the fields it changes.
func withoutSafeUpdate(body map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range body {
		if k != "safe_update" && k != "updated_stamp" {
			out[k] = v
		}
	}
	return out
}

func jsonID(id int64) string { b, _ := json.Marshal(id); return string(b) }

func TestLocalEditReachesZendeskWithOnlyTheChangedFields(t *testing.T) {
	e := newEnv(t)
	s, _ := twoWay(t, e, "tw", "remote", 11)
	ticket := writable(t, s, 1)[0]
	caseID := e.caseIDOf(ticket)
	subject := "edited in the CRM"
	_, err := e.ctl.UpdateCase(e.ctx, caseID, control.CaseUpdate{Subject: &subject})
	require.NoError(t, err)
	// No sync is requested: the outbox relay wakes the workflow.
	require.Eventually(t, func() bool {
		return simTicketOf(t, s, ticket).Subject != nil && *simTicketOf(t, s, ticket).Subject == subject
	},
		30*time.Second, 100*time.Millisecond, "the local edit reaches Zendesk within seconds")
	puts := putBodies(s, ticket)
	require.Len(t, puts, 1)
	body := puts[0]["ticket"]
	assert.Equal(t, true, body["safe_update"], "a field update is a safe update")
	assert.NotEmpty(t, body["updated_stamp"])
	assert.Equal(t, map[string]any{"subject": subject}, withoutSafeUpdate(body), "only the changed field is sent")

	// The next import sees Zendesk's answer to our own update: no remote change, nothing written back.
	res, err := e.ctl.SyncNow(e.ctx, "tw", true)
	require.NoError(t, err)
	assert.Zero(t, res.Counters.CasesUpdated)
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM outbox WHERE processed_at IS NULL`), "no echo")

	// A change made with plain SQL is captured and pushed too.
	_, err = e.store.DB.ExecContext(e.ctx, `UPDATE cases SET priority='high' WHERE id=$1`, caseID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		p := simTicketOf(t, s, ticket).Priority
		return p != nil && *p == "high"
	}, 30*time.Second, 100*time.Millisecond)
	puts = putBodies(s, ticket)
	assert.Equal(t, map[string]any{"priority": "high"}, withoutSafeUpdate(puts[len(puts)-1]["ticket"]))
}

func TestConflictsFollowThePriorityOnBothSides(t *testing.T) {
	for _, prio := range []string{"remote", "local"} {
		t.Run(prio, func(t *testing.T) {
			e := newEnv(t)
			s, _ := twoWay(t, e, "cf", prio, 12)
			ticket := writable(t, s, 1)[0]
			caseID := e.caseIDOf(ticket)
			remoteSubject, localSubject := "changed in Zendesk", "changed in the CRM"
			require.NoError(t, s.ChangeTicket(ticket, sim.TicketChange{Subject: &remoteSubject}))
			_, err := e.ctl.UpdateCase(e.ctx, caseID, control.CaseUpdate{Subject: &localSubject})
			require.NoError(t, err)
			want := remoteSubject
			if prio == "local" {
				want = localSubject
			}
			require.Eventually(t, func() bool {
				return e.count(`SELECT count(*) FROM outbox WHERE processed_at IS NULL`) == 0
			}, 30*time.Second, 100*time.Millisecond)
			_, err = e.ctl.SyncNow(e.ctx, "cf", true)
			require.NoError(t, err)
			assert.Equal(t, want, *simTicketOf(t, s, ticket).Subject, "Zendesk holds the winner")
			raw, err := e.ctl.Case(e.ctx, caseID)
			require.NoError(t, err)
			var c caseView
			require.NoError(t, json.Unmarshal(raw, &c))
			assert.Equal(t, want, c.Subject, "the CRM holds the winner")
			cs, err := e.ctl.Conflicts(e.ctx, "cf")
			require.NoError(t, err)
			require.Len(t, cs, 1)
			assert.Equal(t, "subject", cs[0].Field)
			assert.Equal(t, prio, cs[0].Winner)
			assert.Equal(t, localSubject, *cs[0].LocalValue)
			assert.Equal(t, remoteSubject, *cs[0].RemoteValue)
		})
	}
}

func TestClosedTicketIsNeverUpdated(t *testing.T) {
	e := newEnv(t)
	s, _ := twoWay(t, e, "closed", "remote", 13)
	ticket := s.Special().Closed
	caseID := e.caseIDOf(ticket)
	before := simTicketOf(t, s, ticket)
	subject := "reopened locally"
	open := "open"
	_, err := e.ctl.UpdateCase(e.ctx, caseID, control.CaseUpdate{Subject: &subject, Status: &open})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return e.count(`SELECT count(*) FROM outbox WHERE processed_at IS NULL`) == 0
	}, 30*time.Second, 100*time.Millisecond)
	assert.Empty(t, putBodies(s, ticket), "a closed ticket is never sent an update")
	after := simTicketOf(t, s, ticket)
	assert.Equal(t, before.Subject, after.Subject)
	assert.Equal(t, "closed", after.Status, "reopening a case does not reopen the Zendesk ticket")
	var note string
	require.NoError(t, e.store.DB.GetContext(e.ctx, &note, `SELECT COALESCE(sync_note, '') FROM cases WHERE id=$1`, caseID))
	assert.Contains(t, note, "closed")
	p, err := e.ctl.Progress(e.ctx, "closed")
	require.NoError(t, err)
	assert.Nil(t, p.LastError, "nothing fails")
}

func TestCommentsBothWaysWithoutDuplicates(t *testing.T) {
	e := newEnv(t)
	s, zc := twoWay(t, e, "cm", "remote", 14)
	ticket := writable(t, s, 1)[0]
	caseID := e.caseIDOf(ticket)
	_, err := e.ctl.AddUser(e.ctx, "writer@example.com", "Writer")
	require.NoError(t, err)
	_, err = e.ctl.CommentCase(e.ctx, caseID, "public reply from the CRM", true, "writer@example.com")
	require.NoError(t, err)
	_, err = e.ctl.CommentCase(e.ctx, caseID, "internal note from the CRM", false, "")
	require.NoError(t, err)
	var zs []zendesk.Comment
	require.Eventually(t, func() bool {
		zs, err = zc.TicketComments(e.ctx, ticket)
		return err == nil && countBody(zs, "internal note from the CRM") == 1 && countBody(zs, "public reply from the CRM") == 1
	}, 30*time.Second, 200*time.Millisecond)
	for _, z := range zs {
		switch z.Body {
		case "public reply from the CRM":
			assert.True(t, z.Public)
		case "internal note from the CRM":
			assert.False(t, z.Public)
		}
	}
	_, err = s.AddComment(ticket, "reply from Zendesk", true, 0)
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		_, err = e.ctl.SyncNow(e.ctx, "cm", true)
		require.NoError(t, err)
	}
	zs, err = zc.TicketComments(e.ctx, ticket)
	require.NoError(t, err)
	assert.Equal(t, 1, countBody(zs, "public reply from the CRM"), "pushed once")
	raw, err := e.ctl.Case(e.ctx, caseID)
	require.NoError(t, err)
	var c caseView
	require.NoError(t, json.Unmarshal(raw, &c))
	assert.Len(t, c.Comments, len(zs), "every Zendesk comment is one case comment, and no local comment came back twice")
	bodies := map[string]int{}
	for _, cm := range c.Comments {
		bodies[cm.Body]++
	}
	assert.Equal(t, 1, bodies["public reply from the CRM"])
	assert.Equal(t, 1, bodies["reply from Zendesk"])
}

func countBody(zs []zendesk.Comment, body string) int {
	n := 0
	for _, z := range zs {
		if z.Body == body {
			n++
		}
	}
	return n
}

func TestPublishCreatesTheTicketExactlyOnce(t *testing.T) {
	e := newEnv(t)
	s, zc := twoWay(t, e, "pub", "remote", 15)
	agent := strings.ToLower(s.Special().AgentOneEmail)
	_, err := e.ctl.AddUser(e.ctx, agent, "Agent One")
	require.NoError(t, err)
	raw, err := e.ctl.CreateCase(e.ctx, control.CaseSpec{Integration: "pub", Subject: "Printer on fire",
		Description: "It smokes.", Priority: "high", AssignedTo: agent, ContactEmail: "jane.doe@example.org",
		ContactName: "Jane Doe"})
	require.NoError(t, err)
	var created caseView
	require.NoError(t, json.Unmarshal(raw, &created))

	// The first create commits in Zendesk but its answer is lost: the retry must find it, not create another.
	s.FailNextCreateAfterCommit()
	res, err := e.ctl.Publish(e.ctx, created.ID)
	require.NoError(t, err)
	require.NotZero(t, res.TicketID)
	found, err := zc.TicketsByExternalID(e.ctx, publishing.ExternalID(created.ID))
	require.NoError(t, err)
	require.Len(t, found, 1, "exactly one ticket")
	tk := simTicketOf(t, s, res.TicketID)
	assert.Equal(t, "Printer on fire", *tk.Subject)
	assert.Equal(t, "It smokes.", tk.Description)
	assert.Equal(t, "open", tk.Status, "open stays open (not OroCRM's new)")
	assert.Equal(t, "high", *tk.Priority)
	assert.Equal(t, s.Special().AgentOneUserID, *tk.AssigneeID)

	raw, err = e.ctl.Case(e.ctx, created.ID)
	require.NoError(t, err)
	var c caseView
	require.NoError(t, json.Unmarshal(raw, &c))
	require.NotNil(t, c.Ticket, "the case's ticket record is filled at once")
	assert.Equal(t, res.TicketID, c.Ticket.ID)
	require.NotNil(t, c.Ticket.RequesterEmail)
	assert.Equal(t, "jane.doe@example.org", *c.Ticket.RequesterEmail)

	again, err := e.ctl.Publish(e.ctx, created.ID)
	require.NoError(t, err)
	assert.True(t, again.Already)
	assert.Equal(t, res.TicketID, again.TicketID)

	// A one-way integration refuses with a clear error.
	_, url := newSim(t, sim.Options{Seed: 16, Tickets: 20})
	e.integration("oneway", url, nil)
	raw, err = e.ctl.CreateCase(e.ctx, control.CaseSpec{Integration: "oneway", Subject: "x"})
	require.NoError(t, err)
	var one caseView
	require.NoError(t, json.Unmarshal(raw, &one))
	_, err = e.ctl.Publish(e.ctx, one.ID)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "two-way")
}
