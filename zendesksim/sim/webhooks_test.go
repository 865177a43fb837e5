package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hookCall is one call a test receiver got.
type hookCall struct {
	body           []byte
	stamp, sig, id string
	invocation     string
	receivedAt     time.Time
	answeredStatus int
}

// receiver records the calls it gets and answers each with status(n), n counting calls from 1.
type receiver struct {
	mu     sync.Mutex
	calls  []hookCall
	n      atomic.Int32
	status func(n int) int
	srv    *httptest.Server
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	rc := &receiver{status: status}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n := int(rc.n.Add(1))
		st := http.StatusOK
		if rc.status != nil {
			st = rc.status(n)
		}
		rc.mu.Lock()
		rc.calls = append(rc.calls, hookCall{body: b, stamp: r.Header.Get("X-Zendesk-Webhook-Signature-Timestamp"),
			sig: r.Header.Get("X-Zendesk-Webhook-Signature"), id: r.Header.Get("X-Zendesk-Webhook-Id"),
			invocation: r.Header.Get("X-Zendesk-Webhook-Invocation-Id"), receivedAt: time.Now(), answeredStatus: st})
		rc.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) got() []hookCall {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hookCall(nil), rc.calls...)
}

// register creates a webhook to endpoint and its ticket trigger through the API, and returns the webhook's id and
// signing secret as the API gives them.
func (e *env) register(endpoint string) (string, string) {
	e.t.Helper()
	resp, b := e.do("POST", "/api/v2/webhooks", map[string]any{"webhook": map[string]any{
		"name": "crm", "endpoint": endpoint, "http_method": "POST", "request_format": "json", "status": "active",
		"subscriptions": []string{"conditional_ticket_events"}}})
	require.Equal(e.t, http.StatusCreated, resp.StatusCode, string(b))
	var hook struct{ Webhook Webhook }
	require.NoError(e.t, json.Unmarshal(b, &hook))
	resp, b = e.do("GET", "/api/v2/webhooks/"+hook.Webhook.ID+"/signing_secret", nil)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, string(b))
	var sec struct {
		SigningSecret struct{ Algorithm, Secret string } `json:"signing_secret"`
	}
	require.NoError(e.t, json.Unmarshal(b, &sec))
	require.Equal(e.t, "SHA256", sec.SigningSecret.Algorithm)
	resp, b = e.do("POST", "/api/v2/triggers", map[string]any{"trigger": map[string]any{
		"title": "crm sync", "conditions": map[string]any{"any": []any{
			map[string]any{"field": "update_type", "operator": "is", "value": "Create"},
			map[string]any{"field": "update_type", "operator": "is", "value": "Change"}}},
		"actions": []any{map[string]any{"field": "notification_webhook",
			"value": []string{hook.Webhook.ID, `{"ticket_id":"{{ticket.id}}"}`}}}}})
	require.Equal(e.t, http.StatusCreated, resp.StatusCode, string(b))
	return hook.Webhook.ID, sec.SigningSecret.Secret
}

func TestWebhookCallsAreSignedAndCarryTheTicketID(t *testing.T) {
	e := newEnv(t, Options{})
	rc := newReceiver(t, nil)
	hookID, secret := e.register(rc.srv.URL + "/hook")
	id := e.s.Special().Open
	st := "pending"
	require.NoError(t, e.s.ChangeTicket(id, TicketChange{Status: &st}))
	e.s.WaitWebhooks()
	calls := rc.got()
	require.Len(t, calls, 1)
	c := calls[0]
	assert.JSONEq(t, `{"ticket_id":"`+strconv.FormatInt(id, 10)+`"}`, string(c.body))
	assert.Equal(t, hookID, c.id)
	assert.Equal(t, SignWebhook(secret, c.stamp, c.body), c.sig)
	ts, err := time.Parse(time.RFC3339, c.stamp)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), ts, 5*time.Second)
}

func TestWebhookRetriesServerErrorsAndGivesUp(t *testing.T) {
	e := newEnv(t, Options{WebhookRetryDelay: 10 * time.Millisecond})
	// Two failures, then success: three attempts of one call.
	rc := newReceiver(t, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	e.register(rc.srv.URL)
	require.NoError(t, e.s.ChangeTicket(e.s.Special().Open, TicketChange{Subject: ptr("retried")}))
	e.s.WaitWebhooks()
	calls := rc.got()
	require.Len(t, calls, 3)
	assert.Equal(t, calls[0].invocation, calls[2].invocation, "a retry is the same invocation")

	// Always failing: the first try and webhookRetries more, then it gives up. A 4xx is not retried.
	e2 := newEnv(t, Options{WebhookRetryDelay: 10 * time.Millisecond})
	down := newReceiver(t, func(int) int { return http.StatusInternalServerError })
	e2.register(down.srv.URL)
	require.NoError(t, e2.s.ChangeTicket(e2.s.Special().Open, TicketChange{Subject: ptr("down")}))
	e2.s.WaitWebhooks()
	assert.Len(t, down.got(), webhookRetries+1)
	e3 := newEnv(t, Options{WebhookRetryDelay: 10 * time.Millisecond})
	refused := newReceiver(t, func(int) int { return http.StatusUnauthorized })
	e3.register(refused.srv.URL)
	require.NoError(t, e3.s.ChangeTicket(e3.s.Special().Open, TicketChange{Subject: ptr("refused")}))
	e3.s.WaitWebhooks()
	assert.Len(t, refused.got(), 1)
}

func TestWebhookRetriesATimeout(t *testing.T) {
	e := newEnv(t, Options{WebhookRetryDelay: 10 * time.Millisecond, WebhookClient: &http.Client{Timeout: 100 * time.Millisecond}})
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			time.Sleep(300 * time.Millisecond) // longer than the sender waits
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	e.register(srv.URL)
	require.NoError(t, e.s.ChangeTicket(e.s.Special().Open, TicketChange{Subject: ptr("slow")}))
	e.s.WaitWebhooks()
	d := e.s.WebhookDeliveries()
	require.Len(t, d, 2)
	assert.Equal(t, 0, d[0].Status)
	assert.NotEmpty(t, d[0].Error)
	assert.Equal(t, http.StatusOK, d[1].Status)
}

func TestWebhookFaults(t *testing.T) {
	e := newEnv(t, Options{})
	rc := newReceiver(t, nil)
	_, secret := e.register(rc.srv.URL)
	resp, b := e.do("POST", "/_sim/webhooks/faults", map[string]int{"bad_signature": 1, "stale_timestamp": 1, "duplicate": 1})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	id := e.s.Special().Open
	for i := 0; i < 4; i++ {
		require.NoError(t, e.s.ChangeTicket(id, TicketChange{Subject: ptr("s" + strconv.Itoa(i))}))
		e.s.WaitWebhooks() // one at a time, so the faults go to the calls in order
	}
	calls := rc.got()
	require.Len(t, calls, 5)
	assert.NotEqual(t, SignWebhook(secret, calls[0].stamp, calls[0].body), calls[0].sig, "bad signature")
	assert.Equal(t, SignWebhook(secret, calls[1].stamp, calls[1].body), calls[1].sig, "stale but signed")
	stale, err := time.Parse(time.RFC3339, calls[1].stamp)
	require.NoError(t, err)
	assert.Greater(t, time.Since(stale), 9*time.Minute)
	assert.Equal(t, calls[2], hookCall{body: calls[3].body, stamp: calls[3].stamp, sig: calls[3].sig, id: calls[3].id,
		invocation: calls[3].invocation, receivedAt: calls[2].receivedAt, answeredStatus: 200}, "duplicate byte for byte")
	assert.Equal(t, SignWebhook(secret, calls[4].stamp, calls[4].body), calls[4].sig, "faults used up")
	resp, b = e.do("GET", "/_sim/webhooks/faults", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"bad_signature":0,"stale_timestamp":0,"duplicate":0}`, string(b))
}

func TestWebhookAPI(t *testing.T) {
	e := newEnv(t, Options{})
	rc := newReceiver(t, nil)
	hookID, secret := e.register(rc.srv.URL)
	// Invalid input is refused like Zendesk does.
	resp, b := e.do("POST", "/api/v2/webhooks", map[string]any{"webhook": map[string]any{"name": "x", "endpoint": "not a url",
		"subscriptions": []string{"conditional_ticket_events"}}})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, string(b))
	resp, b = e.do("POST", "/api/v2/triggers", map[string]any{"trigger": map[string]any{"title": "t",
		"conditions": map[string]any{"all": []any{map[string]any{"field": "update_type", "operator": "is", "value": "Change"}}},
		"actions":    []any{map[string]any{"field": "notification_webhook", "value": []string{"01NOSUCH", "{}"}}}}})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, string(b))
	// Update moves the endpoint (204), the secret can be reset, delete stops the calls.
	other := newReceiver(t, nil)
	resp, b = e.do("PUT", "/api/v2/webhooks/"+hookID, map[string]any{"webhook": map[string]any{"endpoint": other.srv.URL}})
	require.Equal(t, http.StatusNoContent, resp.StatusCode, string(b))
	resp, b = e.do("POST", "/api/v2/webhooks/"+hookID+"/signing_secret", nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	assert.NotContains(t, string(b), secret)
	require.NoError(t, e.s.ChangeTicket(e.s.Special().Open, TicketChange{Subject: ptr("moved")}))
	e.s.WaitWebhooks()
	assert.Empty(t, rc.got())
	require.Len(t, other.got(), 1)
	assert.Equal(t, SignWebhook(e.s.Webhooks()[hookID], other.got()[0].stamp, other.got()[0].body), other.got()[0].sig)
	resp, _ = e.do("DELETE", "/api/v2/webhooks/"+hookID, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp, _ = e.do("GET", "/api/v2/webhooks/"+hookID, nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.NoError(t, e.s.ChangeTicket(e.s.Special().Open, TicketChange{Subject: ptr("gone")}))
	e.s.WaitWebhooks()
	assert.Len(t, other.got(), 1, "no call after the webhook is deleted")
	// Triggers: show, update, delete.
	tr := e.s.Triggers()
	require.Len(t, tr, 1)
	path := "/api/v2/triggers/" + strconv.FormatInt(tr[0].ID, 10)
	resp, _ = e.do("GET", path, nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = e.do("DELETE", path, nil)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Empty(t, e.s.Triggers())
}

func TestWebhookNotSentForDeletedTicketsOrUnmatchedTriggers(t *testing.T) {
	e := newEnv(t, Options{})
	rc := newReceiver(t, nil)
	hookID, _ := e.register(rc.srv.URL)
	// A second trigger that fires on creates only.
	resp, b := e.do("POST", "/api/v2/triggers", map[string]any{"trigger": map[string]any{"title": "creates",
		"conditions": map[string]any{"all": []any{map[string]any{"field": "update_type", "operator": "is", "value": "Create"}}},
		"actions":    []any{map[string]any{"field": "notification_webhook", "value": []string{hookID, `{"created":"{{ticket.id}}"}`}}}}})
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	require.NoError(t, e.s.DeleteTicket(e.s.Special().Open))
	e.s.WaitWebhooks()
	assert.Empty(t, rc.got(), "triggers do not run on a deleted ticket")
	require.NoError(t, e.s.ChangeTicket(e.s.Special().Pending, TicketChange{Subject: ptr("changed")}))
	e.s.WaitWebhooks()
	require.Len(t, rc.got(), 1, "an update fires the Change trigger only")
}
