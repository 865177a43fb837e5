package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

func TestBadTicketIsRecordedAndTheRestOfItsPageLands(t *testing.T) {
	e := newEnv(t)
	s, url := newSim(t, sim.Options{Seed: 4, Tickets: 500, BadTickets: 4})
	e.integration("bad", url, nil)
	p := e.firstSyncDone("bad")
	bad := s.Special().Bad
	require.Len(t, bad, 4)
	assert.EqualValues(t, 4, p.Failures)
	fs, err := e.ctl.Failures(e.ctx, "bad")
	require.NoError(t, err)
	require.Len(t, fs, 4)
	got := map[int64]string{}
	for _, f := range fs {
		require.NotNil(t, f.ZendeskID)
		got[*f.ZendeskID] = f.Reason
		assert.NotEmpty(t, f.Payload, "the raw record is kept")
	}
	for _, id := range bad {
		assert.NotEmpty(t, got[id], "bad ticket %d is listed with its reason", id)
		assert.Equal(t, 0, e.count(`SELECT count(*) FROM zd_tickets WHERE zendesk_id=$1`, id))
	}
	// Everything else landed, including the other tickets of the bad tickets' page (there is one page).
	assert.Equal(t, 500-4, e.count(`SELECT count(*) FROM zd_tickets`))

	// Retrying: the bad tickets still fail (their failures stay, with reasons); a ticket that failed for a
	// reason since fixed lands. Here one good ticket is made to look failed by removing what it synced.
	good := writable(t, s, 1)[0]
	_, err = e.store.DB.ExecContext(e.ctx, `DELETE FROM cases WHERE id = (SELECT case_id FROM zd_tickets WHERE zendesk_id=$1)`, good)
	require.NoError(t, err)
	_, err = e.store.DB.ExecContext(e.ctx, `DELETE FROM zd_tickets WHERE zendesk_id=$1`, good)
	require.NoError(t, err)
	_, err = e.store.DB.ExecContext(e.ctx, `INSERT INTO sync_failures (integration_id, kind, zendesk_id, reason)
		SELECT id, 'ticket', $1, 'a temporary problem' FROM integrations WHERE name='bad'`, good)
	require.NoError(t, err)
	res, err := e.ctl.RetryFailures(e.ctx, "bad")
	require.NoError(t, err)
	assert.Equal(t, 5, res.Retried)
	assert.Equal(t, 1, res.Fixed)
	assert.Equal(t, 4, res.StillFailing)
	assert.Equal(t, 1, e.count(`SELECT count(*) FROM zd_tickets WHERE zendesk_id=$1 AND case_id IS NOT NULL`, good))
	fs, err = e.ctl.Failures(e.ctx, "bad")
	require.NoError(t, err)
	assert.Len(t, fs, 4)
}

// corrupting serves the simulator but answers the first n ticket-export requests with a broken body.
type corrupting struct {
	next  http.Handler
	left  atomic.Int32
	calls atomic.Int32
}

func (c *corrupting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "incremental/tickets/cursor") {
		c.calls.Add(1)
		if c.left.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"tickets":[{"id":1,"subject":"cut here`))
			return
		}
	}
	c.next.ServeHTTP(w, r)
}

func TestMalformedPageIsRetriedThenReportedNeverHalfApplied(t *testing.T) {
	e := newEnv(t)
	s := sim.New(sim.Options{Seed: 5, Tickets: 300, Email: simEmail, Token: simToken})
	cor := &corrupting{next: s}
	cor.left.Store(100)
	hs := httptest.NewServer(cor)
	t.Cleanup(hs.Close)
	s.SetBaseURL(hs.URL)
	e.integration("mal", hs.URL, nil)
	// While the page is fetched again, progress shows the attempt under way; once the retries are spent, the
	// error stays with nothing retrying.
	p := e.waitProgress("mal", 2*time.Minute, func(p control.ProgressView) bool { return p.LastError != nil && p.Attempts == 0 })
	assert.Contains(t, *p.LastError, "malformed")
	assert.False(t, p.FirstSyncDone)
	assert.GreaterOrEqual(t, cor.calls.Load(), int32(3), "retried before it was reported")
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM zd_tickets`), "nothing of a malformed page is applied")
	fs, err := e.ctl.Failures(e.ctx, "mal")
	require.NoError(t, err)
	require.NotEmpty(t, fs)
	assert.Equal(t, "page", fs[0].Kind)

	// Zendesk answers properly again: the next sync completes.
	cor.left.Store(0)
	_, err = e.ctl.SyncNow(e.ctx, "mal", true)
	require.NoError(t, err)
	p = e.firstSyncDone("mal")
	assert.Nil(t, p.LastError)
	assert.Equal(t, 300, e.count(`SELECT count(*) FROM zd_tickets`))
}

func TestWrongTokenWaitsForNewSettingsAndLeaksNothing(t *testing.T) {
	e := newEnv(t)
	_, url := newSim(t, sim.Options{Seed: 6, Tickets: 300})
	const wrong = "wrong-token-9c1d"
	e.integration("cred", url, func(s *control.IntegrationSpec) { s.Token = wrong })
	p := e.waitProgress("cred", 2*time.Minute, func(p control.ProgressView) bool {
		return p.Phase == contract.PhaseCredentialsRejected
	})
	require.NotNil(t, p.LastError)
	assert.Contains(t, *p.LastError, "credentials rejected")
	res, err := e.ctl.SyncNow(e.ctx, "cred", true)
	require.Error(t, err, "%+v", res)
	require.Error(t, err, "sync --wait fails with the reason while the credentials are wrong")
	assert.Contains(t, err.Error(), "credentials")

	tok := simToken
	_, err = e.ctl.EditIntegration(e.ctx, "cred", control.IntegrationEdit{Token: &tok})
	require.NoError(t, err)
	p = e.firstSyncDone("cred")
	assert.Nil(t, p.LastError)
	assert.Equal(t, 300-e.count(`SELECT count(*) FROM zd_tickets WHERE status='deleted'`), e.count(`SELECT count(*) FROM cases`))

	// No secret anywhere Temporal keeps data: history (inputs, results, failures), memo, search attributes.
	in, err := e.store.IntegrationByName(e.ctx, "cred")
	require.NoError(t, err)
	wid := contract.IntegrationWorkflowID(in.ID)
	var all bytes.Buffer
	iter := e.ts.GetDefaultClient().GetWorkflowHistory(e.ctx, wid, "", false, 0)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		b, _ := json.Marshal(ev)
		all.Write(b)
	}
	desc, err := e.ts.GetDefaultClient().DescribeWorkflowExecution(e.ctx, wid, "")
	require.NoError(t, err)
	b, _ := json.Marshal(desc)
	all.Write(b)
	for _, secret := range []string{simToken, wrong, testKey} {
		assert.NotContains(t, all.String(), secret, "a secret reached Temporal")
		for _, l := range e.logs.all() {
			require.NotContains(t, l, secret, "a secret was logged")
		}
	}
	// Nor does the token sit in PostgreSQL in plain text.
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM integrations WHERE position($1::bytea in token_enc) > 0`, []byte(simToken)))
}

func TestTwoIntegrationsNeverShareData(t *testing.T) {
	e := newEnv(t)
	s1, url1 := newSim(t, sim.Options{Seed: 7, Tickets: 400})
	s2, url2 := newSim(t, sim.Options{Seed: 8, Tickets: 300})
	e.integration("one", url1, nil)
	e.integration("two", url2, nil)
	e.firstSyncDone("one")
	e.firstSyncDone("two")
	live := func(s *sim.Server) int {
		n := 0
		for _, id := range s.TicketIDs() {
			if !s.IsDeleted(id) {
				n++
			}
		}
		return n
	}
	c1, c2 := e.cases("one"), e.cases("two")
	assert.Len(t, c1, live(s1))
	assert.Len(t, c2, live(s2))
	for id, c := range c1 {
		assert.Equal(t, "one", c.Integration)
		_, ok := s1.Ticket(id)
		assert.True(t, ok)
	}
	for _, c := range c2 {
		assert.Equal(t, "two", c.Integration)
	}
	// The simulators share ticket ids and emails: contacts and mirrors stay scoped by integration.
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM cases c JOIN contacts ct ON ct.id = c.contact_id
		WHERE ct.integration_id IS DISTINCT FROM c.integration_id`))
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM case_comments cc JOIN cases c ON c.id = cc.case_id
		JOIN zd_comments z ON z.case_comment_id = cc.id WHERE z.integration_id <> c.integration_id`))
}

func TestDeletingAnIntegrationKeepsItsCases(t *testing.T) {
	e := newEnv(t)
	_, url := newSim(t, sim.Options{Seed: 18, Tickets: 100})
	e.integration("gone", url, nil)
	e.firstSyncDone("gone")
	cases := e.count(`SELECT count(*) FROM cases`)
	require.Positive(t, cases)
	in, err := e.store.IntegrationByName(e.ctx, "gone")
	require.NoError(t, err)
	require.NoError(t, e.ctl.Delete(e.ctx, "gone"))

	assert.Equal(t, cases, e.count(`SELECT count(*) FROM cases`), "cases stay, as in OroCRM")
	assert.Positive(t, e.count(`SELECT count(*) FROM case_comments`))
	for _, table := range []string{"zd_tickets", "zd_users", "zd_comments", "sync_state", "sync_pages", "integrations"} {
		assert.Equal(t, 0, e.count(`SELECT count(*) FROM `+table), "%s rows of the integration are removed", table)
	}
	desc, err := e.ts.GetDefaultClient().DescribeWorkflowExecution(e.ctx, contract.IntegrationWorkflowID(in.ID), "")
	require.NoError(t, err)
	assert.Equal(t, "Terminated", desc.WorkflowExecutionInfo.Status.String(), "its workflow is stopped")
}
