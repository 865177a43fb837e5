package zendesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CredentialsError is a 401 or 403: the credentials were rejected or lack a permission. Retrying cannot help; the
// integration's settings must change.
type CredentialsError struct {
	StatusCode int
	Message    string
}

func (e *CredentialsError) Error() string {
	if e.StatusCode == http.StatusForbidden {
		return fmt.Sprintf("zendesk: access forbidden (HTTP 403): %s", orDefault(e.Message, "no details"))
	}
	return fmt.Sprintf("zendesk: credentials rejected (HTTP %d): %s", e.StatusCode, orDefault(e.Message, "no details"))
}

// NotFoundError is a 404 for the resource at Path (the URL path, without the query).
type NotFoundError struct {
	Path    string
	Message string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("zendesk: not found (HTTP 404): %s: %s", e.Path, orDefault(e.Message, "no details"))
}

// ClosedTicketError is the 422 Zendesk returns when an update targets a closed ticket. A closed ticket is final:
// never retry, create a follow-up ticket instead.
type ClosedTicketError struct {
	TicketID int64
}

func (e *ClosedTicketError) Error() string {
	return fmt.Sprintf("zendesk: ticket %d is closed and cannot be updated", e.TicketID)
}

// InvalidRecordError is a 4xx other than 401/403/404/429 (usually 422 RecordInvalid). Details maps a field (or
// "base") to the messages Zendesk gave for it.
type InvalidRecordError struct {
	StatusCode  int
	Description string
	Details     map[string][]string
}

// Error renders the message the way the Oro bundle does (description, then one "[field] text" line per detail),
// because operators compare the two when migrating.
func (e *InvalidRecordError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "zendesk: invalid record (HTTP %d)", e.StatusCode)
	desc := e.Description
	if desc == "" {
		if len(e.Details) > 0 {
			desc = "Record validation errors"
		} else {
			desc = "Record invalid error."
		}
	}
	b.WriteString(": ")
	b.WriteString(desc)
	fields := make([]string, 0, len(e.Details))
	for f := range e.Details {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		for _, m := range e.Details[f] {
			fmt.Fprintf(&b, "\n[%s] %s", f, m)
		}
	}
	return b.String()
}

// ConflictError is a 409: Zendesk refused a write because the record changed at the same moment (concurrent
// updates of one ticket). Nothing was applied, so it is transient: send the same change again a little later.
type ConflictError struct {
	Path    string
	Message string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("zendesk: conflict (HTTP 409), retry later: %s: %s", e.Path, orDefault(e.Message, "no details"))
}

// InvalidCursorError is the 400 Zendesk gives for an export cursor it will not continue from: one it never
// issued, one from before a restore of the account, or one that no longer decodes. Asking again with the same cursor
// gets the same answer; the stream must restart by time (start_time) from a point already known to be read.
type InvalidCursorError struct {
	Endpoint string
	Message  string
}

func (e *InvalidCursorError) Error() string {
	return fmt.Sprintf("zendesk: export cursor refused (HTTP 400) by %s: %s", e.Endpoint, orDefault(e.Message, "Invalid cursor"))
}

// RateLimitError is a 429 (or a pause the client knows would outlast the caller's deadline). RetryAfter is how long
// Zendesk asked to wait.
type RateLimitError struct {
	RetryAfter time.Duration
	Message    string
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("zendesk: rate limited, retry after %s: %s", e.RetryAfter, orDefault(e.Message, "no details"))
}

// ServerError is a 5xx. RetryAfter is set when Zendesk sent a Retry-After header (maintenance, overload).
type ServerError struct {
	StatusCode int
	RetryAfter time.Duration
	Message    string
}

func (e *ServerError) Error() string {
	s := fmt.Sprintf("zendesk: server error (HTTP %d)", e.StatusCode)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// MalformedResponseError is a response whose body is not the JSON the endpoint promises (bad syntax, missing root
// key, unexpected success status). The whole page is unusable; callers retry the page later.
type MalformedResponseError struct {
	Endpoint string
	Err      error
}

func (e *MalformedResponseError) Error() string {
	return fmt.Sprintf("zendesk: malformed response from %s: %v", e.Endpoint, e.Err)
}

func (e *MalformedResponseError) Unwrap() error { return e.Err }

// NetworkError is a transport failure: connection refused or reset, timeout, or a body cut short. The request may
// or may not have reached Zendesk.
type NetworkError struct {
	Method string
	Path   string
	Err    error
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("zendesk: %s %s: network error: %v", e.Method, e.Path, e.Err)
}

func (e *NetworkError) Unwrap() error { return e.Err }

// IsRetryable reports whether trying the same call again later may succeed: rate limits, 409 conflicts, 5xx and
// network errors or timeouts. Credentials, not-found, closed-ticket, invalid-record and malformed-response errors are final for
// the request as sent. A cancelled context is not retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var rl *RateLimitError
	var se *ServerError
	var ne *NetworkError
	var ce *ConflictError
	var mr *MalformedResponseError
	var netErr net.Error
	switch {
	case errors.As(err, &mr):
		// A truncated JSON document reports io.ErrUnexpectedEOF too, but the body arrived whole: asking again at
		// once would get the same bytes.
		return false
	case errors.As(err, &rl), errors.As(err, &se), errors.As(err, &ne), errors.As(err, &ce):
		return true
	case errors.As(err, &netErr):
		return true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	return false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// errorEnvelope covers the shapes Zendesk uses for errors: {"error":"X","description":"Y","details":{...}},
// {"error":{"title":"Forbidden","message":"..."}} and OAuth's {"error":"invalid_token","error_description":"..."}.
type errorEnvelope struct {
	Error            json.RawMessage            `json:"error"`
	Description      string                     `json:"description"`
	Message          string                     `json:"message"`
	ErrorDescription string                     `json:"error_description"`
	Details          map[string]json.RawMessage `json:"details"`
}

// parsedError is what could be read from an error body; every part may be empty.
type parsedError struct {
	code        string // "RecordInvalid", "Couldn't authenticate you", ...
	description string
	details     map[string][]string
}

func parseErrorBody(body []byte) parsedError {
	var env errorEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		// Not JSON (an HTML error page from a proxy): keep a short excerpt so the operator sees something.
		s := strings.TrimSpace(string(body))
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		return parsedError{description: s}
	}
	var p parsedError
	if len(env.Error) > 0 {
		var s string
		if json.Unmarshal(env.Error, &s) == nil {
			p.code = s
		} else {
			var obj struct {
				Title   string `json:"title"`
				Message string `json:"message"`
			}
			if json.Unmarshal(env.Error, &obj) == nil {
				p.code = obj.Title
				if env.Message == "" {
					env.Message = obj.Message
				}
			}
		}
	}
	for _, d := range []string{env.Description, env.Message, env.ErrorDescription} {
		if d != "" {
			p.description = d
			break
		}
	}
	if len(env.Details) > 0 {
		p.details = make(map[string][]string, len(env.Details))
		for field, raw := range env.Details {
			p.details[field] = detailMessages(raw)
		}
	}
	return p
}

// detailMessages flattens one details entry: a list whose items are {"description": ...}, plain strings or other
// objects (JSON-encoded, so no information is lost), or a single such item.
func detailMessages(raw json.RawMessage) []string {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		items = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			out = append(out, s)
			continue
		}
		var obj struct {
			Description *string `json:"description"`
		}
		if json.Unmarshal(it, &obj) == nil && obj.Description != nil {
			out = append(out, *obj.Description)
			continue
		}
		out = append(out, string(it))
	}
	return out
}

// message is the one-line text for credential, not-found and rate-limit errors.
func (p parsedError) message() string {
	switch {
	case p.code != "" && p.description != "" && p.code != p.description:
		return p.code + ": " + p.description
	case p.description != "":
		return p.description
	default:
		return p.code
	}
}

// isInvalidCursor matches the 400 of an export called with a cursor Zendesk refuses: the error code is
// "InvalidPaginationParameter" and the description names the cursor ("Invalid cursor"). Either is enough, since
// the request carried nothing else that could be invalid.
func (p parsedError) isInvalidCursor() bool {
	return strings.EqualFold(p.code, "InvalidPaginationParameter") ||
		strings.Contains(strings.ToLower(p.description), "cursor")
}

// isClosedTicket matches the 422 Zendesk gives for updates of closed tickets. The text is matched loosely because
// its exact wording is not guaranteed over time.
func (p parsedError) isClosedTicket() bool {
	for _, m := range p.details["status"] {
		if strings.Contains(strings.ToLower(m), "closed") {
			return true
		}
	}
	return false
}

// parseSeconds reads a delay in seconds. Zendesk sends integers; fractions are accepted too, which costs nothing
// and lets tests run with sub-second delays.
func parseSeconds(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e6 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// parseRetryAfter reads Retry-After as seconds or as an HTTP date.
func parseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if d, ok := parseSeconds(v); ok {
		return d, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}
