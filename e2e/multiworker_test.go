package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// pool is three worker processes of which chaos kills one at a time.
type pool struct {
	e   *env
	bin string
	mu  sync.Mutex
	ws  []*exec.Cmd
}

// chaos kills a random worker (SIGKILL: no graceful stop) every 1–3 s and restarts it after 0.2–1.5 s, until ctx
// ends; it returns with every worker running.
func (p *pool) chaos(ctx context.Context, rng *rand.Rand) (kills int) {
	for {
		select {
		case <-ctx.Done():
			return kills
		case <-time.After(time.Second + time.Duration(rng.Int64N(int64(2*time.Second)))):
		}
		i := rng.IntN(len(p.ws))
		p.mu.Lock()
		_ = p.ws[i].Process.Signal(syscall.SIGKILL)
		_, _ = p.ws[i].Process.Wait()
		kills++
		time.Sleep(200*time.Millisecond + time.Duration(rng.Int64N(int64(1300*time.Millisecond))))
		p.ws[i] = p.e.startWorkerProcess(p.bin)
		p.mu.Unlock()
	}
}

// edits is what the test changed on the two-way integration, to check against.
type edits struct {
	zdSubject, crmSubject map[int64]string // ticket id → the last subject set on that side
	crmComments           map[int64][]string
	zdComments            map[int64][]string
}

// writableTickets returns live, open tickets (a closed ticket takes no update, by design).
func writableTickets(t *testing.T, s *sim.Server) []int64 {
	var out []int64
	for _, id := range s.TicketIDs() {
		if s.IsDeleted(id) {
			continue
		}
		if st := simTicketOf(t, s, id); st.Status != "closed" && st.Status != "solved" {
			out = append(out, id)
		}
	}
	return out
}

// caseOfTicket is the case of a ticket of one integration (ticket ids of two simulators may coincide).
func (e *env) caseOfTicket(integration string, ticketID int64) int64 {
	e.t.Helper()
	var id int64
	require.NoError(e.t, e.store.DB.GetContext(e.ctx, &id, `SELECT t.case_id FROM zd_tickets t
		JOIN integrations i ON i.id = t.integration_id WHERE i.name = $1 AND t.zendesk_id = $2`, integration, ticketID))
	return id
}

// edit makes Zendesk-side edits on set a and CRM-side edits on set b (disjoint: no conflicts to judge), a change
// every 150 ms until ctx ends: subjects and comments, each value unique.
func (e *env) edit(ctx context.Context, s *sim.Server, a, b []int64, rng *rand.Rand) edits {
	ed := edits{map[int64]string{}, map[int64]string{}, map[int64][]string{}, map[int64][]string{}}
	for n := 0; ctx.Err() == nil; n++ {
		time.Sleep(150 * time.Millisecond)
		za, cb := a[rng.IntN(len(a))], b[rng.IntN(len(b))]
		v := fmt.Sprintf("edit %d", n)
		switch n % 4 {
		case 0:
			require.NoError(e.t, s.ChangeTicket(za, sim.TicketChange{Subject: &v}))
			ed.zdSubject[za] = v
		case 1:
			_, err := e.store.DB.Exec(`UPDATE cases SET subject = $1 WHERE id = $2`, v, e.caseOfTicket("tw", cb))
			require.NoError(e.t, err)
			ed.crmSubject[cb] = v
		case 2:
			_, err := e.store.DB.Exec(`INSERT INTO case_comments (case_id, body, public) VALUES ($1, $2, true)`,
				e.caseOfTicket("tw", cb), v)
			require.NoError(e.t, err)
			ed.crmComments[cb] = append(ed.crmComments[cb], v)
		case 3:
			_, err := s.AddComment(za, v, true, 0)
			require.NoError(e.t, err)
			ed.zdComments[za] = append(ed.zdComments[za], v)
		}
	}
	return ed
}

// Three worker processes, one killed at random moments (SIGKILL) during a large first sync, the incremental syncs
// of a two-way integration and its pushes: the other workers take over, and nothing is lost or duplicated.
func TestThreeWorkersOneKilledAtRandomLoseAndDuplicateNothing(t *testing.T) {
	e := newEnv(t, withoutWorker())
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, l := range e.logs.all() {
			if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
				t.Log(strings.TrimSpace(l))
			}
		}
		var fs []string
		_ = e.store.DB.Select(&fs, `SELECT kind || ': ' || reason FROM sync_failures`)
		t.Logf("failures recorded: %q", fs)
	})
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	p := &pool{e: e, bin: buildWorker(t)}
	for range 3 {
		p.ws = append(p.ws, e.startWorkerProcess(p.bin))
	}
	big, bigURL := newSim(t, sim.Options{Seed: 31, Tickets: 2500, Slow: 20 * time.Millisecond})
	tw, twURL := newSim(t, sim.Options{Seed: 32, Tickets: 120})

	chaosCtx, stopChaos := context.WithCancel(e.ctx)
	kills := make(chan int, 1)
	go func() { kills <- p.chaos(chaosCtx, rand.New(rand.NewPCG(uint64(seed), 1))) }()
	defer stopChaos()

	e.integration("tw", twURL, func(sp *control.IntegrationSpec) {
		sp.TwoWay, sp.Priority, sp.Interval = true, "remote", 2*time.Second
	})
	e.integration("big", bigURL, nil)
	e.firstSyncDone("tw")
	ids := writableTickets(t, tw)
	require.Greater(t, len(ids), 20)
	rng := rand.New(rand.NewPCG(uint64(seed), 2))
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	editCtx, stopEdits := context.WithTimeout(e.ctx, 30*time.Second)
	defer stopEdits()
	ed := e.edit(editCtx, tw, ids[:10], ids[10:20], rng)
	stopChaos()
	t.Logf("%d worker kills; when they stopped, big's first sync had %d of its %d tickets", <-kills,
		e.count(`SELECT count(*) FROM zd_tickets t JOIN integrations i ON i.id = t.integration_id WHERE i.name = 'big'`),
		big.Stats().Tickets)

	e.firstSyncDone("big")
	e.settle("tw", ed)
	e.checkNothingLostOrDuplicated(big, "big")
	e.checkNothingLostOrDuplicated(tw, "tw")
	e.checkEdits(tw, twURL, ed)
}

// settle waits until the outbox is drained and the two-way integration shows every edit.
func (e *env) settle(name string, ed edits) {
	e.t.Helper()
	require.Eventually(e.t, func() bool {
		if e.count(`SELECT count(*) FROM outbox WHERE processed_at IS NULL`) > 0 {
			return false
		}
		if _, err := e.ctl.SyncNow(e.ctx, name, true); err != nil {
			return false
		}
		cs := e.cases(name)
		for id, v := range ed.zdSubject {
			if cs[id].Subject != v {
				return false
			}
		}
		return true
	}, 4*time.Minute, time.Second, "the two-way integration never settled")
}

func (e *env) checkNothingLostOrDuplicated(s *sim.Server, name string) {
	e.t.Helper()
	var integ int64
	require.NoError(e.t, e.store.DB.Get(&integ, `SELECT id FROM integrations WHERE name = $1`, name))
	stats := s.Stats()
	assert.Equal(e.t, stats.Tickets, e.count(`SELECT count(*) FROM zd_tickets WHERE integration_id = $1`, integ),
		"%s: no ticket lost", name)
	assert.Equal(e.t, stats.LiveTickets, e.count(`SELECT count(*) FROM cases WHERE integration_id = $1`, integ),
		"%s: no case duplicated or lost", name)
	assert.Zero(e.t, e.count(`SELECT count(*) FROM (SELECT c.case_id, c.body, c.created_at FROM case_comments c
		JOIN cases k ON k.id = c.case_id WHERE k.integration_id = $1 GROUP BY 1, 2, 3 HAVING count(*) > 1) d`, integ),
		"%s: no comment duplicated", name)
}

// checkEdits: each side's last subject reached the other side; each comment is on both sides exactly once.
func (e *env) checkEdits(s *sim.Server, url string, ed edits) {
	e.t.Helper()
	for id, v := range ed.crmSubject {
		assert.Equal(e.t, v, *simTicketOf(e.t, s, id).Subject, "ticket %d: the CRM's last subject was pushed", id)
	}
	zc, err := zendesk.New(zendesk.Config{URL: url, Email: simEmail, Token: simToken})
	require.NoError(e.t, err)
	once := func(bodies []string, body, where string, id int64) {
		n := 0
		for _, b := range bodies {
			if b == body {
				n++
			}
		}
		assert.Equal(e.t, 1, n, "ticket %d: comment %q %s", id, body, where)
	}
	for _, m := range []map[int64][]string{ed.crmComments, ed.zdComments} {
		for id, bodies := range m {
			zcs, err := zc.TicketComments(e.ctx, id)
			require.NoError(e.t, err)
			var zd, crm []string
			for _, c := range zcs {
				zd = append(zd, c.Body)
			}
			require.NoError(e.t, e.store.DB.Select(&crm, `SELECT body FROM case_comments WHERE case_id = $1`, e.caseOfTicket("tw", id)))
			for _, b := range bodies {
				once(zd, b, "in Zendesk", id)
				once(crm, b, "in the CRM", id)
			}
		}
	}
}
