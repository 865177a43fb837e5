package zendesk

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Version is the client's version, sent in the User-Agent.
const Version = "0.1.0"

const (
	userAgent         = "zendesk-sync/" + Version + " (+https://github.com/zendesk-sync/zendesk-sync)"
	defaultTimeout    = 60 * time.Second
	defaultMaxRetries = 3
	defaultBackoff    = 500 * time.Millisecond
	maxBackoff        = 30 * time.Second
	// Error bodies are small; anything larger is a proxy's page and only an excerpt is useful.
	maxErrorBody = 64 << 10
)

// Config configures a Client. URL and either Email+Token or OAuthToken are required.
type Config struct {
	URL        string // integration URL, normalized by New (see NormalizeURL)
	Email      string // API token auth: Basic "{email}/token":token
	Token      string
	OAuthToken string // if set, Authorization: Bearer (instead of Basic)
	// Tokens, if set, supplies expiring OAuth access tokens (Bearer) and refreshes them on a 401.
	Tokens     TokenSource
	HTTPClient *http.Client  // optional; its Timeout should be 0, the per-request Timeout below applies
	Timeout    time.Duration // per request (each attempt, body included), default 60s
	MaxRetries int           // read retries on 429/5xx/network errors, default 3 (0 means default; negative = none)
	Logger     *slog.Logger  // optional; the token and Authorization header are never logged
	// RetryBackoff is the first delay of the exponential backoff between read retries (doubled each attempt,
	// capped at 30s, with jitter). Default 500ms.
	RetryBackoff time.Duration
	// Limiter, when set, shares the account's rate-limit budget with the other processes (see SharedLimiter).
	Limiter SharedLimiter
	// Hooks report what the client does, for metrics.
	Hooks Hooks
}

// Client is a Zendesk Support API client. It is safe for concurrent use; goroutines sharing a Client share its
// rate-limit pacing, which is the point: Zendesk's limits are per account, not per goroutine.
type Client struct {
	base       string
	authHeader string
	secrets    []string // strings that must never reach an error or a log line
	http       *http.Client
	timeout    time.Duration
	maxRetries int
	backoff    time.Duration
	log        *slog.Logger
	pace       *pacer
	limiter    SharedLimiter
	hooks      Hooks
	tokens     TokenSource
}

// New returns a Client for cfg. It fails on an unusable URL or missing credentials; it makes no request.
func New(cfg Config) (*Client, error) {
	base, err := NormalizeURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:       base,
		http:       cfg.HTTPClient,
		timeout:    cfg.Timeout,
		maxRetries: cfg.MaxRetries,
		backoff:    cfg.RetryBackoff,
		log:        cfg.Logger,
		pace:       newPacer(),
		limiter:    cfg.Limiter,
		hooks:      cfg.Hooks,
	}
	switch {
	case cfg.Tokens != nil:
		c.tokens = cfg.Tokens
	case cfg.OAuthToken != "":
		c.authHeader = "Bearer " + cfg.OAuthToken
		c.secrets = []string{cfg.OAuthToken}
	case cfg.Email != "" && cfg.Token != "":
		cred := base64.StdEncoding.EncodeToString([]byte(cfg.Email + "/token:" + cfg.Token))
		c.authHeader = "Basic " + cred
		c.secrets = []string{cfg.Token, cred}
	default:
		return nil, errors.New("zendesk: missing credentials: set Email and Token, or OAuthToken")
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = defaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.backoff <= 0 {
		c.backoff = defaultBackoff
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// BaseURL is the normalized account URL, e.g. "https://acme.zendesk.com".
func (c *Client) BaseURL() string { return c.base }

// NormalizeURL turns what a user typed into the account's base URL ("https://acme.zendesk.com", no slash).
// It accepts an https URL with or without a trailing slash or "/api/v2", and a bare host (https is assumed).
// Plain http is accepted only for loopback hosts (tests, the simulator), so credentials never travel in clear text.
func NormalizeURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("zendesk: URL is empty")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("zendesk: invalid URL %q: %w", raw, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("zendesk: invalid URL %q: no host", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("zendesk: invalid URL %q: must not contain a user name or password (credentials are separate settings)", redactUserinfo(u))
	}
	if u.RawQuery != "" || u.ForceQuery {
		return "", fmt.Errorf("zendesk: invalid URL %q: must not contain a query string", raw)
	}
	if u.Fragment != "" {
		return "", fmt.Errorf("zendesk: invalid URL %q: must not contain a fragment", raw)
	}
	host := strings.ToLower(u.Host)
	switch scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("zendesk: invalid URL %q: plain http is only allowed for loopback hosts (127.0.0.1, ::1, localhost); use https", raw)
		}
	default:
		return "", fmt.Errorf("zendesk: invalid URL %q: scheme %q is not supported, use https", raw, u.Scheme)
	}
	p := strings.TrimRight(u.Path, "/")
	if p != "" && !strings.EqualFold(p, "/api/v2") {
		return "", fmt.Errorf("zendesk: invalid URL %q: unexpected path %q (give the account URL, e.g. https://acme.zendesk.com)", raw, u.Path)
	}
	return scheme + "://" + host, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactUserinfo keeps a password typed into the URL out of the error message.
func redactUserinfo(u *url.URL) string {
	c := *u
	c.User = url.User("REDACTED")
	return c.String()
}

// request describes one API call.
type request struct {
	method   string
	path     string     // "/api/v2/...", or a server-given next-page URL already checked by sameAPI
	query    url.Values // added to path
	body     any        // JSON-encoded when non-nil
	header   http.Header
	want     int   // the exact success status; 0 accepts any 2xx
	ticketID int64 // for ClosedTicketError
	cursor   bool  // the request continues an export from a cursor: a 400 about it is an InvalidCursorError
}

func (r *request) isWrite() bool { return r.method != http.MethodGet && r.method != http.MethodHead }

// endpoint names the call in errors and logs: the path without query, which can carry e-mail addresses.
func (r *request) endpoint() string {
	if i := strings.IndexByte(r.path, '?'); i >= 0 {
		return r.path[:i]
	}
	return r.path
}

// do sends r and hands a successful response's body to decode. Reads are retried on rate limits, 5xx and network
// errors; writes are sent once because Zendesk may have applied a write whose response was lost.
func (c *Client) do(ctx context.Context, r *request, decode func(io.Reader) error) error {
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("zendesk: encode %s %s body: %w", r.method, r.endpoint(), err)
		}
	}
	var reauthorized bool
	for attempt := 0; ; attempt++ {
		if err := c.pace.wait(ctx); err != nil {
			return err
		}
		if err := c.reserveShared(ctx, r); err != nil {
			return err
		}
		auth, err := c.authorization(ctx)
		if err != nil {
			return err
		}
		err = c.once(ctx, r, auth, body, decode)
		if err == nil {
			return nil
		}
		if c.tokens != nil && !reauthorized && isUnauthorized(err) {
			// A 401 means the request was not applied, so even a write is sent again, once, with a token that
			// another caller stored or a refreshed one.
			reauthorized = true
			if _, err := c.tokens.Rejected(ctx, strings.TrimPrefix(auth, "Bearer ")); err != nil {
				return err
			}
			attempt--
			continue
		}
		if r.isWrite() || attempt >= c.maxRetries || !IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		delay := c.backoffDelay(attempt)
		var rl *RateLimitError
		var se *ServerError
		switch {
		case errors.As(err, &rl):
			delay = 0 // the pacer already holds every request until Retry-After has passed
		case errors.As(err, &se) && se.RetryAfter > 0:
			delay = se.RetryAfter
		}
		c.log.WarnContext(ctx, "zendesk: retrying read", "method", r.method, "endpoint", r.endpoint(),
			"attempt", attempt+1, "max_retries", c.maxRetries, "delay", delay, "error", c.scrub(err.Error()))
		if err := sleep(ctx, delay); err != nil {
			return fmt.Errorf("zendesk: %s %s: gave up waiting to retry: %w", r.method, r.endpoint(), err)
		}
	}
}

func (c *Client) backoffDelay(attempt int) time.Duration {
	d := c.backoff << min(attempt, 16)
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	// Jitter spreads the retries of workers that failed together.
	return d/2 + rand.N(d/2+1)
}

// authorization is the Authorization header for the next attempt.
func (c *Client) authorization(ctx context.Context) (string, error) {
	if c.tokens == nil {
		return c.authHeader, nil
	}
	tok, err := c.tokens.AccessToken(ctx)
	if err != nil {
		return "", err
	}
	return "Bearer " + tok, nil
}

func isUnauthorized(err error) bool {
	var ce *CredentialsError
	return errors.As(err, &ce) && ce.StatusCode == http.StatusUnauthorized
}

func (c *Client) once(ctx context.Context, r *request, auth string, body []byte, decode func(io.Reader) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	target := r.path
	if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		target = c.base + target
	}
	if len(r.query) > 0 {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + r.query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, rd)
	if err != nil {
		return fmt.Errorf("zendesk: build %s %s: %w", r.method, r.endpoint(), err)
	}
	for k, vs := range r.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.hooks.response(r, 0)
		return &NetworkError{Method: r.method, Path: r.endpoint(), Err: err}
	}
	c.hooks.response(r, resp.StatusCode)
	defer func() {
		// Draining lets the connection be reused; the cap keeps a huge unwanted body from being read.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
	}()
	c.pace.observe(ctx, c.log, resp.Header)
	c.observeShared(ctx, r, resp.Header)
	c.log.DebugContext(ctx, "zendesk: response", "method", r.method, "endpoint", r.endpoint(),
		"status", resp.StatusCode, "duration", time.Since(start))

	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if !ok {
		return c.statusError(ctx, r, resp)
	}
	if r.want != 0 && resp.StatusCode != r.want {
		return &MalformedResponseError{Endpoint: r.endpoint(),
			Err: fmt.Errorf("unexpected status %d, want %d", resp.StatusCode, r.want)}
	}
	if decode == nil {
		return nil
	}
	tr := &trackingReader{r: resp.Body}
	if err := decode(tr); err != nil {
		if tr.err != nil {
			// The body was cut off, or the per-request timeout fired while reading: a transport problem, not
			// bad JSON, so it is retryable like any network error.
			return &NetworkError{Method: r.method, Path: r.endpoint(), Err: tr.err}
		}
		var mr *MalformedResponseError
		if errors.As(err, &mr) {
			return err
		}
		return &MalformedResponseError{Endpoint: r.endpoint(), Err: err}
	}
	return nil
}

// statusError turns a non-2xx response into the matching typed error and updates the pacer.
func (c *Client) statusError(ctx context.Context, r *request, resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	p := parseErrorBody(raw)
	p.code = c.scrub(p.code)
	p.description = c.scrub(p.description)
	for f, ms := range p.details {
		for i := range ms {
			ms[i] = c.scrub(ms[i])
		}
		p.details[f] = ms
	}
	now := time.Now()
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return &CredentialsError{StatusCode: code, Message: p.message()}
	case code == http.StatusNotFound:
		return &NotFoundError{Path: r.endpoint(), Message: p.message()}
	case code == http.StatusConflict:
		return &ConflictError{Path: r.endpoint(), Message: p.message()}
	case code == http.StatusTooManyRequests:
		d, ok := parseRetryAfter(resp.Header, now)
		if !ok {
			d = 60 * time.Second // Zendesk's limits are per minute; a full window is the safe guess
		}
		c.pace.block(now.Add(d))
		c.blockShared(ctx, r, resp.Header, d)
		c.log.WarnContext(ctx, "zendesk: rate limited", "method", r.method, "endpoint", r.endpoint(), "retry_after", d)
		return &RateLimitError{RetryAfter: d, Message: p.message()}
	case code >= 500:
		d, _ := parseRetryAfter(resp.Header, now)
		if d > 0 {
			// A 503 with Retry-After is maintenance or overload of the whole account: hold every caller.
			c.pace.block(now.Add(d))
		}
		return &ServerError{StatusCode: code, RetryAfter: d, Message: p.message()}
	case code == http.StatusBadRequest && r.cursor && p.isInvalidCursor():
		return &InvalidCursorError{Endpoint: r.endpoint(), Message: p.message()}
	case code == http.StatusUnprocessableEntity && r.ticketID != 0 && p.isClosedTicket():
		return &ClosedTicketError{TicketID: r.ticketID}
	default:
		return &InvalidRecordError{StatusCode: code, Description: p.description, Details: p.details}
	}
}

// scrub removes the credentials from text that came from elsewhere (a server message, a transport error), so
// that they cannot leak into errors or logs even if echoed back.
func (c *Client) scrub(s string) string {
	for _, sec := range c.secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}

// trackingReader remembers a read failure so that a cut-off body can be told apart from invalid JSON.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sameAPI turns a server-given next-page URL into one this client may follow: it must point at this account's API,
// so that a tampered response can never make the client send its credentials to another host.
func (c *Client) sameAPI(next string) (string, error) {
	u, err := url.Parse(next)
	if err != nil {
		return "", fmt.Errorf("invalid next page URL: %w", err)
	}
	b, _ := url.Parse(c.base)
	if u.IsAbs() && (!strings.EqualFold(u.Host, b.Host) || !strings.EqualFold(u.Scheme, b.Scheme)) {
		return "", fmt.Errorf("next page URL %q is not on %s", u.Redacted(), c.base)
	}
	if !strings.HasPrefix(u.Path, "/api/v2/") {
		return "", fmt.Errorf("next page URL path %q is not under /api/v2/", u.Path)
	}
	return c.base + u.RequestURI(), nil
}
