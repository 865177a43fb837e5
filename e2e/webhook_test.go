package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

const (
	exportKey   = "GET /api/v2/incremental/tickets/cursor.json"
	eventsKey   = "GET /api/v2/incremental/ticket_events.json"
	showManyKey = "GET /api/v2/tickets/show_many.json"
)

// withWebhooks gives the worker a webhook receiver on a free loopback port.
func withWebhooks() envOption {
	return func(e *env, _ *envConfig) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(e.t, err)
		e.webhookLn = ln
	}
}

type hookEnv struct {
	*env
	s      *sim.Server
	hookID string
	url    string // the receiver's endpoint for the integration
}

// newHookEnv syncs integration acme (interval 1h, so only webhooks bring changes during a test) and turns its
// webhooks on through the same call as `starter integration webhook acme --url ...`.
func newHookEnv(t *testing.T) *hookEnv {
	e := newEnv(t, withWebhooks())
	s, url := newSim(t, sim.Options{Tickets: 300, WebhookRetryDelay: 50 * time.Millisecond})
	e.integration("acme", url, nil)
	e.firstSyncDone("acme")
	v, err := e.ctl.EnableWebhook(e.ctx, "acme", "http://"+e.webhookLn.Addr().String())
	require.NoError(t, err)
	require.True(t, v.Webhook)
	require.Len(t, s.Webhooks(), 1)
	require.Len(t, s.Triggers(), 1)
	in, err := e.store.IntegrationByName(e.ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("http://%s/webhooks/zendesk/%d", e.webhookLn.Addr(), in.ID), v.URL)
	on, err := e.ctl.WebhookOn(e.ctx, in.ID)
	require.NoError(t, err)
	assert.True(t, on, "integration show says webhooks are on")
	// The secret is sealed, never stored as given.
	assert.Zero(t, e.count(`SELECT count(*) FROM integrations WHERE position($1::bytea IN webhook_secret_enc) > 0`,
		[]byte(s.Webhooks()[v.WebhookID])))
	s.ResetCounters()
	return &hookEnv{env: e, s: s, hookID: v.WebhookID, url: v.URL}
}

// waitCase polls the case of ticket id until cond holds, and says how long that took.
func (h *hookEnv) waitCase(id int64, timeout time.Duration, cond func(c caseView) bool) time.Duration {
	h.t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		if c, ok := h.cases("acme")[id]; ok && cond(c) {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Fatalf("the case of ticket %d did not change within %s", id, timeout)
	return 0
}

// ticketSignals counts the tickets-changed signals the integration's workflow received (every run).
func (h *hookEnv) ticketSignals() int {
	h.t.Helper()
	in, err := h.store.IntegrationByName(h.ctx, "acme")
	require.NoError(h.t, err)
	n := 0
	c := h.ts.GetDefaultClient()
	it := c.GetWorkflowHistory(h.ctx, contract.IntegrationWorkflowID(in.ID), "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(h.t, err)
		if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == contract.SignalTicketsChanged {
			n++
		}
	}
	return n
}

func TestWebhookChangeReachesItsCaseInSecondsWithoutTheExport(t *testing.T) {
	h := newHookEnv(t)
	id := h.s.Special().Open
	before := h.cases("acme")[id]
	subject := "changed in Zendesk " + strconv.FormatInt(time.Now().UnixNano(), 36)
	require.NoError(t, h.s.ChangeTicket(id, sim.TicketChange{Subject: &subject}))
	took := h.waitCase(id, 15*time.Second, func(c caseView) bool { return c.Subject == subject })
	assert.Less(t, took, 5*time.Second, "a webhook brings the change within seconds")
	_, err := h.s.AddComment(id, "a reply typed in Zendesk", true, 0)
	require.NoError(t, err)
	h.waitCase(id, 15*time.Second, func(c caseView) bool {
		return len(c.Comments) > len(before.Comments) && c.Comments[len(c.Comments)-1].Body == "a reply typed in Zendesk"
	})
	n := h.s.Counters()
	assert.Zero(t, n[exportKey]+n[eventsKey], "no export request: the interval is an hour")
	assert.Positive(t, n[showManyKey])
	p, err := h.ctl.Progress(h.ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, 1, p.SyncsCompleted, "webhook steps are not passes")

	// The export reads the ticket later, and changes nothing.
	after := h.cases("acme")[id]
	res, err := h.ctl.SyncNow(h.ctx, "acme", true)
	require.NoError(t, err)
	assert.Zero(t, res.Counters.CasesUpdated+res.Counters.CasesCreated, "%+v", res.Counters)
	assert.Zero(t, res.Counters.CommentsSynced, "the comment is not made twice")
	again := h.cases("acme")[id]
	assert.Equal(t, after.UpdatedAt, again.UpdatedAt)
	assert.Equal(t, after.Comments, again.Comments)
	assert.Positive(t, h.s.Counters()[exportKey], "the pass did read the export")
}

func TestWebhookBadStaleAndDuplicateCalls(t *testing.T) {
	h := newHookEnv(t)
	id := h.s.Special().Open
	for _, fault := range []sim.WebhookFaults{{BadSignature: 1}, {StaleTimestamp: 1}} {
		h.s.SetWebhookFaults(fault)
		subject := fmt.Sprintf("refused %+v", fault)
		require.NoError(t, h.s.ChangeTicket(id, sim.TicketChange{Subject: &subject}))
		h.s.WaitWebhooks()
		d := h.s.WebhookDeliveries()
		last := d[len(d)-1]
		assert.Equal(t, http.StatusUnauthorized, last.Status, "%+v", last)
		assert.Equal(t, 1, last.Attempt, "a 401 is not retried")
	}
	time.Sleep(2 * time.Second) // longer than a webhook step takes to start
	assert.Zero(t, h.s.Counters()[showManyKey], "a refused call fetches nothing")
	assert.Zero(t, h.ticketSignals())
	assert.NotEqual(t, h.cases("acme")[id].Subject, fmt.Sprintf("refused %+v", sim.WebhookFaults{StaleTimestamp: 1}))

	// A call sent twice byte for byte is taken once: the second gets a 2xx (Zendesk's retry of a lost answer
	// must not count against the webhook) and signals nothing.
	h.s.SetWebhookFaults(sim.WebhookFaults{Duplicate: 1})
	subject := "sent twice"
	require.NoError(t, h.s.ChangeTicket(id, sim.TicketChange{Subject: &subject}))
	h.s.WaitWebhooks()
	d := h.s.WebhookDeliveries()
	require.GreaterOrEqual(t, len(d), 2)
	assert.Equal(t, "duplicate", d[len(d)-1].Fault)
	assert.Equal(t, http.StatusOK, d[len(d)-1].Status)
	assert.Equal(t, http.StatusOK, d[len(d)-2].Status)
	h.waitCase(id, 15*time.Second, func(c caseView) bool { return c.Subject == subject })
	assert.Equal(t, 1, h.ticketSignals(), "the duplicate signalled nothing")

	// Calls the receiver refuses outright.
	resp, err := http.Post(h.url, "application/json", bytes.NewReader([]byte(`{"ticket_id":"1"}`)))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "unsigned")
	resp, err = http.Post("http://"+h.webhookLn.Addr().String()+"/webhooks/zendesk/999999", "application/json",
		bytes.NewReader([]byte(`{}`)))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "unsigned, unknown integration")
	for _, l := range h.logs.all() {
		for _, secret := range h.s.Webhooks() {
			require.NotContains(t, l, secret, "the signing secret is never logged")
		}
	}
}

// A hundred calls about one ticket cost one fetch: the workflow gathers the burst before it fetches.
func TestWebhookBurstIsCoalesced(t *testing.T) {
	h := newHookEnv(t)
	id := h.s.Special().Open
	secret := h.s.Webhooks()[h.hookID]
	// The change's own call is refused (bad signature): the burst below is what brings it.
	h.s.SetWebhookFaults(sim.WebhookFaults{BadSignature: 1})
	subject := "burst"
	require.NoError(t, h.s.ChangeTicket(id, sim.TicketChange{Subject: &subject}))
	h.s.WaitWebhooks()
	h.s.ResetCounters()
	burstStart := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	statuses := map[int]int{}
	for w := 0; w < 50; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 2; i++ {
				// Distinct bodies (each call is its own change in Zendesk), one ticket.
				body := []byte(fmt.Sprintf(`{"ticket_id":"%d","n":%d}`, id, w*2+i))
				stamp := time.Now().UTC().Format(time.RFC3339)
				req, _ := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(body))
				req.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", stamp)
				req.Header.Set("X-Zendesk-Webhook-Signature", sim.SignWebhook(secret, stamp, body))
				start := time.Now()
				resp, err := http.DefaultClient.Do(req)
				took := time.Since(start)
				mu.Lock()
				if err == nil {
					statuses[resp.StatusCode]++
					resp.Body.Close()
				}
				slowest = max(slowest, took)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	t.Logf("100 calls answered in %s, the slowest in %s", time.Since(burstStart), slowest)
	assert.Equal(t, map[int]int{http.StatusOK: 100}, statuses)
	assert.Less(t, slowest, 2*time.Second, "answered fast (Zendesk gives up at 10 s)")
	h.waitCase(id, 15*time.Second, func(c caseView) bool { return c.Subject == subject })
	time.Sleep(2 * time.Second) // any second fetch would have started by now
	assert.Equal(t, 1, h.s.Counters()[showManyKey], "one show_many for a hundred calls")
	n := h.ticketSignals()
	assert.True(t, n >= 1 && n <= 100, "the receiver batches the calls of a burst into few signals: %d", n)
	t.Logf("%d signals for 100 calls", n)
}

func TestWebhookRemoveDeletesItInZendesk(t *testing.T) {
	h := newHookEnv(t)
	v, err := h.ctl.DisableWebhook(h.ctx, "acme")
	require.NoError(t, err)
	assert.False(t, v.Webhook)
	assert.Empty(t, h.s.Webhooks())
	assert.Empty(t, h.s.Triggers())
	in, err := h.store.IntegrationByName(h.ctx, "acme")
	require.NoError(t, err)
	on, err := h.ctl.WebhookOn(h.ctx, in.ID)
	require.NoError(t, err)
	assert.False(t, on)
	// Removing twice is fine; turning them on again registers anew.
	_, err = h.ctl.DisableWebhook(h.ctx, "acme")
	require.NoError(t, err)
	v, err = h.ctl.EnableWebhook(h.ctx, "acme", "http://"+h.webhookLn.Addr().String())
	require.NoError(t, err)
	assert.True(t, v.Webhook)
	assert.Len(t, h.s.Webhooks(), 1)
}
