// Package webhook is the receiver of Zendesk's webhook calls: POST /webhooks/zendesk/<integration id>. It verifies
// each call (signature over timestamp and raw body with the integration's signing secret, a fresh timestamp, not
// seen before), takes nothing from the body but ticket ids, and signals the integration's workflow with them. The
// workflow fetches those tickets itself: a call is a hint, never data, so a forged or lost call cannot change a
// case, only make it be read sooner (or, lost, later, by the periodic export).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
)

// Path is where calls are received: PathPrefix + the integration id.
const PathPrefix = "/webhooks/zendesk/"

// Headers Zendesk signs its calls with.
const (
	HeaderSignature = "X-Zendesk-Webhook-Signature"
	HeaderTimestamp = "X-Zendesk-Webhook-Signature-Timestamp"
)

// MaxAge is how old (or how far ahead of this clock) a call's timestamp may be. Older calls are refused, which is
// what makes remembering the signatures of accepted calls for this long enough to refuse every replay.
const MaxAge = 5 * time.Minute

// maxBody bounds a call's body: a trigger's body is a few bytes; anything near this is not Zendesk.
const maxBody = 256 << 10

// callTimeout bounds the work of one call: Zendesk gives up after 10 s and counts it against the webhook's circuit
// breaker, so a stuck database or Temporal must give Zendesk a quick 503 (retried) rather than a timeout.
const callTimeout = 5 * time.Second

// pruneEvery is how often the signatures past their expiry are deleted.
const pruneEvery = time.Minute

// Signaler is what the receiver needs of a Temporal client.
type Signaler interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg interface{}) error
}

var _ Signaler = client.Client(nil)

// Receiver handles the calls. Its zero value is not usable: set Store, Key and Temporal.
type Receiver struct {
	Store    *store.Store
	Key      *secrets.Key
	Temporal Signaler
	Logger   *slog.Logger
	// Now is the clock timestamps are checked against (default time.Now).
	Now func() time.Time

	mu         sync.Mutex
	lastPruned time.Time
	lanes      map[int64]*lane // signals in flight, by integration (batch.go)
}

// Handler serves the receiver's one path; anything else is 404.
func (r *Receiver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+PathPrefix+"{id}", r)
	return mux
}

func (r *Receiver) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

func (r *Receiver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// answer writes a small JSON answer: Zendesk shows it in the webhook's activity log, the operator reads it there.
func answer(w http.ResponseWriter, status int, msg string, extra ...any) {
	body := map[string]any{"status": msg}
	for i := 0; i+1 < len(extra); i += 2 {
		body[fmt.Sprint(extra[i])] = extra[i+1]
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// ServeHTTP handles one call to PathPrefix + id.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	id, err := strconv.ParseInt(strings.TrimPrefix(req.URL.Path, PathPrefix), 10, 64)
	if err != nil || id <= 0 || strings.Contains(strings.TrimPrefix(req.URL.Path, PathPrefix), "/") {
		answer(w, http.StatusNotFound, "no such integration")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody))
	if err != nil {
		answer(w, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), callTimeout)
	defer cancel()
	status, msg, n := r.handle(ctx, id, req.Header, body)
	if status >= 500 {
		r.log().Error("webhook call failed", "integration_id", id, "error", msg)
		msg = "temporarily unavailable, retry"
	} else if status >= 400 {
		r.log().Warn("webhook call refused", "integration_id", id, "status", status, "reason", msg,
			"remote", req.RemoteAddr)
	}
	answer(w, status, msg, "tickets", n)
	r.pruneNow()
}

// handle decides one call: its status, a reason and how many ticket ids were passed on.
func (r *Receiver) handle(ctx context.Context, id int64, h http.Header, body []byte) (int, string, int) {
	sig, stamp := h.Get(HeaderSignature), h.Get(HeaderTimestamp)
	if sig == "" || stamp == "" {
		return http.StatusUnauthorized, "unsigned call", 0
	}
	hook, err := r.Store.IntegrationWebhook(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return http.StatusNotFound, "no such integration", 0
	}
	if err != nil {
		return http.StatusServiceUnavailable, err.Error(), 0
	}
	if !hook.On() {
		return http.StatusNotFound, "webhooks are off for this integration", 0
	}
	if r.Key == nil {
		return http.StatusServiceUnavailable, secrets.ErrNoKey.Error(), 0
	}
	secret, err := r.Key.Open(hook.SecretEnc)
	if err != nil {
		return http.StatusServiceUnavailable, "open the signing secret: " + err.Error(), 0
	}
	if !Verify(secret, stamp, body, sig) {
		return http.StatusUnauthorized, "bad signature", 0
	}
	at, err := time.Parse(time.RFC3339, stamp)
	if err != nil {
		return http.StatusUnauthorized, "unreadable timestamp", 0
	}
	if age := r.now().Sub(at); age > MaxAge || age < -MaxAge {
		return http.StatusUnauthorized, "stale timestamp", 0
	}
	ids, err := TicketIDs(body)
	if err != nil {
		return http.StatusBadRequest, err.Error(), 0
	}
	if len(ids) == 0 {
		return http.StatusOK, "no ticket id in the body: nothing to do", 0
	}
	return r.pass(ctx, id, sig, at, ids)
}

// pass signals the workflow with the ids, once per call: a call seen before (the same signature, so the same
// timestamp and body) is acknowledged and dropped.
func (r *Receiver) pass(ctx context.Context, id int64, sig string, at time.Time, ids []int64) (int, string, int) {
	fresh, err := r.Store.RememberWebhookCall(ctx, id, sig, at.Add(MaxAge))
	if err != nil {
		return http.StatusServiceUnavailable, err.Error(), 0
	}
	if !fresh {
		// 2xx: Zendesk may deliver a call twice (a lost answer); a failure status would count against the
		// webhook's circuit breaker for what is the sender's retry. Either way nothing is done twice.
		return http.StatusOK, "duplicate call: already received", 0
	}
	err = r.signal(ctx, id, ids)
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return http.StatusOK, "integration not active: nothing to do", 0
	case err != nil:
		// Forget the call, so Zendesk's retry of it is taken.
		if ferr := r.Store.ForgetWebhookCall(context.WithoutCancel(ctx), id, sig); ferr != nil {
			r.log().Warn("could not forget a webhook call that was not passed on", "error", ferr)
		}
		return http.StatusServiceUnavailable, "signal the workflow: " + err.Error(), 0
	}
	return http.StatusOK, "accepted", len(ids)
}

// pruneNow deletes expired signatures when pruneEvery has passed since the last time.
func (r *Receiver) pruneNow() {
	r.mu.Lock()
	due := r.now().Sub(r.lastPruned) >= pruneEvery
	if due {
		r.lastPruned = r.now()
	}
	r.mu.Unlock()
	if !due {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if _, err := r.Store.ForgetExpiredWebhookCalls(ctx); err != nil {
		r.log().Warn("could not delete expired webhook signatures", "error", err)
	}
}

// Sign is Zendesk's signature of a call: base64(HMAC-SHA256(secret, timestamp + body)).
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks a call's signature in constant time.
func Verify(secret, timestamp string, body []byte, signature string) bool {
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(signature))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// TicketIDs reads the ticket ids of a call's body, and nothing else: `ticket_id` (the body our trigger sends,
// zendesk.WebhookTicketBody; a string or a number), `ticket_ids` (a list), or an event webhook's `detail.id` for
// a `zen:event-type:ticket.*` event. Ids that are not positive integers are refused.
func TicketIDs(body []byte) ([]int64, error) {
	var in struct {
		TicketID  json.RawMessage   `json:"ticket_id"`
		TicketIDs []json.RawMessage `json:"ticket_ids"`
		Type      string            `json:"type"`
		Detail    struct {
			ID json.RawMessage `json:"id"`
		} `json:"detail"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("body is not a JSON object: %w", err)
	}
	raws := in.TicketIDs
	if len(in.TicketID) > 0 {
		raws = append(raws, in.TicketID)
	}
	if strings.HasPrefix(in.Type, "zen:event-type:ticket.") && len(in.Detail.ID) > 0 {
		raws = append(raws, in.Detail.ID)
	}
	out := make([]int64, 0, len(raws))
	for _, raw := range raws {
		id, err := parseID(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func parseID(raw json.RawMessage) (int64, error) {
	s := strings.TrimSpace(string(raw))
	if unq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(unq)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("ticket id %s is not a positive integer", raw)
	}
	return id, nil
}
