package sim

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Webhooks, as Zendesk has them: a webhook (POST /api/v2/webhooks) is an endpoint with a signing secret; a trigger
// (POST /api/v2/triggers) whose conditions match a ticket create or update runs its notification_webhook action,
// which POSTs the action's body template, placeholders rendered, to the webhook's endpoint. Each call is signed:
// X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret, timestamp + body)), the timestamp being
// X-Zendesk-Webhook-Signature-Timestamp. Delivery is asynchronous and at least once: a call answered 409, 429 or
// 5xx, or not answered within the timeout, is sent again a few times with a growing delay.

// WebhookFaults make the next calls misbehave (SetWebhookFaults, POST /_sim/webhooks/faults): each count is how
// many of the next calls get that fault; it goes down as calls are sent.
type WebhookFaults struct {
	// BadSignature calls are signed with a wrong secret.
	BadSignature int `json:"bad_signature"`
	// StaleTimestamp calls carry a timestamp (and a signature over it) ten minutes old.
	StaleTimestamp int `json:"stale_timestamp"`
	// Duplicate calls are sent twice, byte for byte (same timestamp, same signature), as a replay would be.
	Duplicate int `json:"duplicate"`
}

// WebhookDelivery is one attempt to deliver a webhook call, as GET /_sim/webhooks/deliveries lists them.
type WebhookDelivery struct {
	WebhookID    string    `json:"webhook_id"`
	InvocationID string    `json:"invocation_id"`
	TicketID     int64     `json:"ticket_id"`
	Attempt      int       `json:"attempt"` // 1 for the first try
	Fault        string    `json:"fault,omitempty"`
	Status       int       `json:"status"` // 0: no answer (timeout, refused)
	Error        string    `json:"error,omitempty"`
	At           time.Time `json:"at"`
}

// webhookRetries is how many times a call is sent again after a retryable failure.
const webhookRetries = 3

type simWebhook struct {
	Webhook
	secret string
}

// Webhook is a webhook as the API renders it.
type Webhook struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	Status        string          `json:"status"`
	Endpoint      string          `json:"endpoint"`
	HTTPMethod    string          `json:"http_method"`
	RequestFormat string          `json:"request_format"`
	Subscriptions []string        `json:"subscriptions"`
	CreatedAt     string          `json:"created_at"`
	UpdatedAt     string          `json:"updated_at"`
	Auth          json.RawMessage `json:"authentication,omitempty"`
}

type triggerCondition struct {
	Field    string `json:"field"`
	Operator string `json:"operator"`
	Value    any    `json:"value"`
}

type triggerAction struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// Trigger is a trigger as the API renders it.
type Trigger struct {
	ID         int64  `json:"id"`
	Title      string `json:"title"`
	Active     bool   `json:"active"`
	Conditions struct {
		All []triggerCondition `json:"all"`
		Any []triggerCondition `json:"any"`
	} `json:"conditions"`
	Actions   []triggerAction `json:"actions"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

// webhookState is the simulator's webhooks and triggers. Its mutex is taken after Server.mu, never before.
type webhookState struct {
	mu          sync.Mutex
	hooks       map[string]*simWebhook
	triggers    map[int64]*Trigger
	nextHook    int64
	nextTrigger int64
	nextCall    int64
	faults      WebhookFaults
	deliveries  []WebhookDelivery
	wg          sync.WaitGroup
}

// webhookCall is one call to deliver.
type webhookCall struct {
	hookID, endpoint, secret, invocation string
	ticketID                             int64
	body                                 []byte
}

// webhooks is the webhook state, made on first use: a simulator nobody registers a webhook with pays nothing.
func (s *Server) webhooks() *webhookState {
	if wh := s.wh.Load(); wh != nil {
		return wh
	}
	s.wh.CompareAndSwap(nil, &webhookState{hooks: map[string]*simWebhook{}, triggers: map[int64]*Trigger{},
		nextTrigger: 360000001})
	return s.wh.Load()
}

// SetWebhookFaults sets the faults of the next webhook calls.
func (s *Server) SetWebhookFaults(f WebhookFaults) {
	wh := s.webhooks()
	wh.mu.Lock()
	wh.faults = f
	wh.mu.Unlock()
}

// WebhookDeliveries lists every delivery attempt so far, oldest first.
func (s *Server) WebhookDeliveries() []WebhookDelivery {
	wh := s.webhooks()
	wh.mu.Lock()
	defer wh.mu.Unlock()
	return append([]WebhookDelivery(nil), wh.deliveries...)
}

// WaitWebhooks waits until every webhook call made so far is delivered or given up.
func (s *Server) WaitWebhooks() { s.webhooks().wg.Wait() }

// Webhooks lists the registered webhooks with their signing secrets (for tests: what Zendesk's Admin Center shows).
func (s *Server) Webhooks() map[string]string {
	wh := s.webhooks()
	wh.mu.Lock()
	defer wh.mu.Unlock()
	out := make(map[string]string, len(wh.hooks))
	for id, h := range wh.hooks {
		out[id] = h.secret
	}
	return out
}

// Triggers lists the triggers, by id.
func (s *Server) Triggers() []Trigger {
	wh := s.webhooks()
	wh.mu.Lock()
	defer wh.mu.Unlock()
	out := make([]Trigger, 0, len(wh.triggers))
	for _, t := range wh.triggers {
		out = append(out, *t)
	}
	return out
}

// routeWebhooks serves the webhook and trigger endpoints; false means the path is not one of them.
func (s *Server) routeWebhooks(w http.ResponseWriter, r *http.Request, p string, body []byte) bool {
	segs := strings.Split(p, "/")
	switch {
	case segs[0] == "webhooks" && len(segs) <= 3:
		s.handleWebhooks(w, r.Method, segs[1:], body)
	case segs[0] == "triggers" && len(segs) <= 2:
		s.handleTriggers(w, r.Method, segs[1:], body)
	default:
		return false
	}
	return true
}

func writeValue(w http.ResponseWriter, status int, root string, v any) {
	b, _ := json.Marshal(map[string]any{root: v})
	writeJSON(w, status, b)
}

func invalidWebhook(w http.ResponseWriter, field, desc string) {
	writeErr(w, &ValidationError{Field: field, Description: desc, Code: "InvalidValue"})
}

func (s *Server) handleWebhooks(w http.ResponseWriter, method string, rest []string, body []byte) {
	wh := s.webhooks()
	wh.mu.Lock()
	defer wh.mu.Unlock()
	if len(rest) == 0 {
		switch method {
		case http.MethodGet:
			list := make([]Webhook, 0, len(wh.hooks))
			for _, h := range wh.hooks {
				list = append(list, h.Webhook)
			}
			b, _ := json.Marshal(map[string]any{"webhooks": list, "meta": map[string]any{"has_more": false},
				"links": map[string]any{"next": nil, "prev": nil}})
			writeJSON(w, http.StatusOK, b)
		case http.MethodPost:
			hook, ok := s.decodeWebhook(w, body, nil)
			if !ok {
				return
			}
			wh.nextHook++
			hook.ID = fmt.Sprintf("01HWEBHOOK%016d", wh.nextHook)
			hook.CreatedAt = s.now().UTC().Format(time.RFC3339)
			hook.UpdatedAt = hook.CreatedAt
			wh.hooks[hook.ID] = &simWebhook{Webhook: *hook, secret: newSigningSecret()}
			w.Header().Set("Location", s.baseURLOf()+"/api/v2/webhooks/"+hook.ID)
			writeValue(w, http.StatusCreated, "webhook", hook)
		default:
			writeJSON(w, http.StatusMethodNotAllowed, []byte(`{"error":"InvalidEndpoint","description":"Method not allowed"}`))
		}
		return
	}
	h, ok := wh.hooks[rest[0]]
	if !ok {
		writeJSON(w, http.StatusNotFound, []byte(`{"errors":[{"code":"WebhookNotFound","title":"Webhook not found"}]}`))
		return
	}
	switch {
	case len(rest) == 2 && rest[1] == "signing_secret" && method == http.MethodGet:
		writeValue(w, http.StatusOK, "signing_secret", map[string]string{"algorithm": "SHA256", "secret": h.secret})
	case len(rest) == 2 && rest[1] == "signing_secret" && method == http.MethodPost:
		h.secret = newSigningSecret() // "reset the signing secret": the old one stops working at once
		writeValue(w, http.StatusCreated, "signing_secret", map[string]string{"algorithm": "SHA256", "secret": h.secret})
	case len(rest) == 1 && method == http.MethodGet:
		writeValue(w, http.StatusOK, "webhook", h.Webhook)
	case len(rest) == 1 && (method == http.MethodPut || method == http.MethodPatch):
		hook, ok := s.decodeWebhook(w, body, &h.Webhook)
		if !ok {
			return
		}
		hook.UpdatedAt = s.now().UTC().Format(time.RFC3339)
		h.Webhook = *hook
		w.WriteHeader(http.StatusNoContent)
	case len(rest) == 1 && method == http.MethodDelete:
		delete(wh.hooks, h.ID)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusNotFound, []byte(`{"error":"InvalidEndpoint","description":"Not found"}`))
	}
}

func (s *Server) baseURLOf() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.baseURL
}

// decodeWebhook reads {"webhook": {...}} over base (nil: a new webhook, every required field given) and checks it.
func (s *Server) decodeWebhook(w http.ResponseWriter, body []byte, base *Webhook) (*Webhook, bool) {
	var in struct {
		Webhook *Webhook `json:"webhook"`
	}
	hook := &Webhook{HTTPMethod: "POST", RequestFormat: "json", Status: "active"}
	if base != nil {
		cp := *base
		hook = &cp
	}
	in.Webhook = hook
	if err := json.Unmarshal(body, &in); err != nil || in.Webhook == nil {
		badRequest(w, "InvalidValue", "body must be {\"webhook\": {...}}")
		return nil, false
	}
	u, err := url.Parse(hook.Endpoint)
	switch {
	case strings.TrimSpace(hook.Name) == "":
		invalidWebhook(w, "name", "Name cannot be blank")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		invalidWebhook(w, "endpoint", "Endpoint must be an absolute http or https URL")
	case !oneOfStr(hook.HTTPMethod, "GET", "POST", "PUT", "PATCH", "DELETE"):
		invalidWebhook(w, "http_method", "http_method is invalid")
	case !oneOfStr(hook.RequestFormat, "json", "xml", "form_encoded"):
		invalidWebhook(w, "request_format", "request_format is invalid")
	case !oneOfStr(hook.Status, "active", "inactive"):
		invalidWebhook(w, "status", "status is invalid")
	case len(hook.Subscriptions) == 0:
		invalidWebhook(w, "subscriptions", "subscriptions cannot be blank")
	default:
		return hook, true
	}
	return nil, false
}

func oneOfStr(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func newSigningSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func (s *Server) handleTriggers(w http.ResponseWriter, method string, rest []string, body []byte) {
	wh := s.webhooks()
	wh.mu.Lock()
	defer wh.mu.Unlock()
	if len(rest) == 0 {
		if method != http.MethodPost {
			writeJSON(w, http.StatusMethodNotAllowed, []byte(`{"error":"InvalidEndpoint","description":"Method not allowed"}`))
			return
		}
		t, ok := s.decodeTrigger(w, wh, body, nil)
		if !ok {
			return
		}
		t.ID = wh.nextTrigger
		wh.nextTrigger++
		t.CreatedAt = s.now().UTC().Format(time.RFC3339)
		t.UpdatedAt = t.CreatedAt
		wh.triggers[t.ID] = t
		writeValue(w, http.StatusCreated, "trigger", t)
		return
	}
	id, _ := strconv.ParseInt(rest[0], 10, 64)
	t, ok := wh.triggers[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, bodyNotFound)
		return
	}
	switch method {
	case http.MethodGet:
		writeValue(w, http.StatusOK, "trigger", t)
	case http.MethodPut:
		nt, ok := s.decodeTrigger(w, wh, body, t)
		if !ok {
			return
		}
		nt.UpdatedAt = s.now().UTC().Format(time.RFC3339)
		wh.triggers[id] = nt
		writeValue(w, http.StatusOK, "trigger", nt)
	case http.MethodDelete:
		delete(wh.triggers, id)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, []byte(`{"error":"InvalidEndpoint","description":"Method not allowed"}`))
	}
}

// decodeTrigger reads {"trigger": {...}} over base and checks it: a title, conditions, actions, and a
// notification_webhook action naming an existing webhook with a body. wh.mu is held.
func (s *Server) decodeTrigger(w http.ResponseWriter, wh *webhookState, body []byte, base *Trigger) (*Trigger, bool) {
	t := &Trigger{Active: true}
	if base != nil {
		cp := *base
		t = &cp
	}
	in := struct {
		Trigger *Trigger `json:"trigger"`
	}{t}
	if err := json.Unmarshal(body, &in); err != nil || in.Trigger == nil {
		badRequest(w, "InvalidValue", "body must be {\"trigger\": {...}}")
		return nil, false
	}
	switch {
	case strings.TrimSpace(t.Title) == "":
		invalidWebhook(w, "title", "Title: cannot be blank")
		return nil, false
	case len(t.Conditions.All)+len(t.Conditions.Any) == 0:
		invalidWebhook(w, "conditions", "Conditions: cannot be blank")
		return nil, false
	case len(t.Actions) == 0:
		invalidWebhook(w, "actions", "Actions: cannot be blank")
		return nil, false
	}
	for _, a := range t.Actions {
		if a.Field != "notification_webhook" {
			continue
		}
		hookID, tmpl, ok := webhookAction(a)
		if !ok || tmpl == "" {
			invalidWebhook(w, "actions", "notification_webhook needs [webhook id, body]")
			return nil, false
		}
		if _, ok := wh.hooks[hookID]; !ok {
			invalidWebhook(w, "actions", "Webhook "+hookID+" does not exist")
			return nil, false
		}
	}
	return t, true
}

func webhookAction(a triggerAction) (hookID, tmpl string, ok bool) {
	var v []string
	if json.Unmarshal(a.Value, &v) != nil || len(v) < 1 {
		return "", "", false
	}
	if len(v) > 1 {
		tmpl = v[1]
	}
	return v[0], tmpl, true
}

// matches evaluates the conditions Zendesk triggers have for what happened to a ticket: update_type Create or
// Change. Other conditions are not simulated and count as met.
func (t *Trigger) matches(create bool) bool {
	ok := func(c triggerCondition) bool {
		if c.Field != "update_type" {
			return true
		}
		v, _ := c.Value.(string)
		is := (v == "Create") == create && (v == "Create" || v == "Change")
		if c.Operator == "is_not" {
			return !is
		}
		return is
	}
	for _, c := range t.Conditions.All {
		if !ok(c) {
			return false
		}
	}
	if len(t.Conditions.Any) == 0 {
		return true
	}
	for _, c := range t.Conditions.Any {
		if ok(c) {
			return true
		}
	}
	return false
}

// ticketChanged runs the triggers after a ticket was created or updated (not deleted: triggers do not run on a
// deleted ticket) and sends the calls their actions make, in the background. Server.mu is held.
func (s *Server) ticketChanged(i int32, create bool) {
	wh := s.wh.Load()
	if wh == nil {
		return // no webhook was ever registered
	}
	t := &s.tickets[i]
	if t.flags&flDeleted != 0 {
		return
	}
	id := ticketID(i)
	values := map[string]string{
		"{{ticket.id}}":                        strconv.FormatInt(id, 10),
		"{{ticket.status}}":                    s.statusName(t),
		"{{ticket.updated_at_with_timestamp}}": time.Unix(t.updated, 0).UTC().Format(time.RFC3339),
	}
	wh.mu.Lock()
	defer wh.mu.Unlock()
	for _, tr := range wh.triggers {
		if !tr.Active || !tr.matches(create) {
			continue
		}
		for _, a := range tr.Actions {
			hookID, tmpl, ok := webhookAction(a)
			h := wh.hooks[hookID]
			if a.Field != "notification_webhook" || !ok || h == nil || h.Status != "active" {
				continue
			}
			body := tmpl
			for k, v := range values {
				body = strings.ReplaceAll(body, k, v)
			}
			wh.nextCall++
			c := webhookCall{hookID: h.ID, endpoint: h.Endpoint, secret: h.secret, ticketID: id, body: []byte(body),
				invocation: strconv.FormatInt(wh.nextCall, 10)}
			wh.wg.Add(1)
			go s.deliver(c)
		}
	}
}

// takeFault gives the fault of the next call, counting it down.
func (wh *webhookState) takeFault() string {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	switch {
	case wh.faults.BadSignature > 0:
		wh.faults.BadSignature--
		return "bad_signature"
	case wh.faults.StaleTimestamp > 0:
		wh.faults.StaleTimestamp--
		return "stale_timestamp"
	case wh.faults.Duplicate > 0:
		wh.faults.Duplicate--
		return "duplicate"
	}
	return ""
}

// SignWebhook is Zendesk's signature of a call: base64(HMAC-SHA256(secret, timestamp + body)).
func SignWebhook(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// deliver sends one call, again after a retryable failure (409, 429, 5xx, no answer) up to webhookRetries times.
func (s *Server) deliver(c webhookCall) {
	wh := s.webhooks()
	defer wh.wg.Done()
	fault := wh.takeFault()
	client := s.o.WebhookClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	delay := s.o.WebhookRetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	for attempt := 1; attempt <= webhookRetries+1; attempt++ {
		ts := s.now().UTC()
		if fault == "stale_timestamp" {
			ts = ts.Add(-10 * time.Minute)
		}
		stamp := ts.Format(time.RFC3339)
		secret := c.secret
		if fault == "bad_signature" {
			secret = "not-the-signing-secret"
		}
		req := func() (int, error) { return s.send(client, c, stamp, SignWebhook(secret, stamp, c.body)) }
		status, err := req()
		wh.record(c, attempt, fault, status, err)
		if fault == "duplicate" && err == nil {
			status, err = req() // the same call again, byte for byte
			wh.record(c, attempt, fault, status, err)
		}
		if !retryable(status, err) {
			return
		}
		time.Sleep(delay << (attempt - 1))
	}
}

func retryable(status int, err error) bool {
	return err != nil || status == http.StatusConflict || status == http.StatusTooManyRequests || status >= 500
}

func (s *Server) send(client *http.Client, c webhookCall, stamp, sig string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, c.endpoint, bytes.NewReader(c.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Zendesk Webhook")
	req.Header.Set("X-Zendesk-Account-Id", "1")
	req.Header.Set("X-Zendesk-Webhook-Id", c.hookID)
	req.Header.Set("X-Zendesk-Webhook-Invocation-Id", c.invocation)
	req.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", stamp)
	req.Header.Set("X-Zendesk-Webhook-Signature", sig)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (wh *webhookState) record(c webhookCall, attempt int, fault string, status int, err error) {
	d := WebhookDelivery{WebhookID: c.hookID, InvocationID: c.invocation, TicketID: c.ticketID, Attempt: attempt,
		Fault: fault, Status: status, At: time.Now()}
	if err != nil {
		d.Error = err.Error()
	}
	wh.mu.Lock()
	wh.deliveries = append(wh.deliveries, d)
	if len(wh.deliveries) > 100000 {
		wh.deliveries = append(wh.deliveries[:0], wh.deliveries[50000:]...)
	}
	wh.mu.Unlock()
}

// serveWebhookControl serves /_sim/webhooks/...: faults (GET, POST) and deliveries (GET).
func (s *Server) serveWebhookControl(w http.ResponseWriter, r *http.Request, p string) bool {
	wh := s.webhooks()
	switch {
	case p == "webhooks/faults" && r.Method == http.MethodPost:
		var f WebhookFaults
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			badRequest(w, "InvalidValue", "bad JSON: "+err.Error())
			return true
		}
		s.SetWebhookFaults(f)
		fallthrough
	case p == "webhooks/faults" && r.Method == http.MethodGet:
		wh.mu.Lock()
		b, _ := json.Marshal(wh.faults)
		wh.mu.Unlock()
		writeJSON(w, http.StatusOK, b)
	case p == "webhooks/deliveries" && r.Method == http.MethodGet:
		b, _ := json.Marshal(s.WebhookDeliveries())
		writeJSON(w, http.StatusOK, b)
	default:
		return false
	}
	return true
}
