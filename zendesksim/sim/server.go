// Package sim is an in-memory Zendesk Support API simulator: a deterministic
// dataset generated from a seed, served over the real API's paths, shapes,
// status codes and headers, with knobs for rate limits, faults and lag.
package sim

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. Zero values get the defaults noted.
type Options struct {
	Seed                       int64
	Tickets                    int // default 2000
	Users                      int // default Tickets/5 (min 25)
	CommentsPerTicket          int // average; default 3
	Email, Token               string
	BaseTime                   time.Time // zero → 2024-01-01T00:00:00Z
	RateLimit, ExportRateLimit int       // requests per RateWindow; 0 = unlimited
	RateWindow                 time.Duration
	FailRate, DropRate         float64
	Slow                       time.Duration
	ExportLag                  time.Duration
	WritesPerSecond            int // see Faults.WritesPerSecond
	BadTickets                 int
	MaxPerPage                 int // default 1000
	TicketUpdateLimit          int // API updates per ticket per 10 windows; 0 → 30, <0 unlimited
	Now                        func() time.Time
	DisableRequestLog          bool // benchmarks: skip the request log
	MaxRequestLog              int  // default 100000; the older half is dropped when full
	OAuth                      OAuthOptions
	// WebhookClient sends webhook calls (default: a client with Zendesk's 10 s timeout); WebhookRetryDelay is the
	// first delay before a failed call is sent again, doubled each time (default 1 s). See webhooks.go.
	WebhookClient     *http.Client
	WebhookRetryDelay time.Duration
}

// Faults are the runtime-adjustable knobs (SetFaults, POST /_sim/faults).
type Faults struct {
	RateLimit         int           `json:"rate_limit"`
	ExportRateLimit   int           `json:"export_rate_limit"`
	RateWindow        time.Duration `json:"rate_window"`
	FailRate          float64       `json:"fail_rate"`
	DropRate          float64       `json:"drop_rate"`
	Slow              time.Duration `json:"slow"`
	ExportLag         time.Duration `json:"export_lag"`
	TicketUpdateLimit int           `json:"ticket_update_limit"`
	// WritesPerSecond is how many writes may share one timestamp second before later ones move to the next
	// second; 0 means 400, which keeps the time-based event export from ever meeting a full second. Zendesk has
	// no such limit: a larger value reproduces its bulk updates, where more than a page of ticket events (1000)
	// share one second.
	WritesPerSecond int `json:"writes_per_second"`
}

// RequestLog is one API request as the simulator saw it.
type RequestLog struct {
	Method, Path, Query string
	Status              int
	Body                string
	At                  time.Time
}

// Server is the simulator. It is safe for concurrent use.
type Server struct {
	o    Options
	base int64

	mu             sync.RWMutex
	baseURL        string
	tickets        []ticket
	users          []user
	agents         []int32
	emailIdx       map[string]int32
	strs           []string
	strsJSON       [][]byte
	strIdx         map[string]int32
	extIdx         map[int32][]int32
	extraIncidents map[int32]bool
	bodyJSON       [][]byte
	htmlJSON       [][]byte
	tlog           []tlogEntry
	elog           []evEntry
	sharedTS       int64
	lastTS         int64
	secCount       int
	nextComment    int64
	nextAudit      int64
	idem           map[string]idemEntry
	email, token   string
	cursorEpoch    string

	fmu        sync.Mutex
	faults     Faults
	rng        *rand.Rand
	global     window
	export     window
	failCreate bool
	blockAfter int
	blockSeen  int
	blockCh    chan struct{}
	sw         updateSwitches
	lmu        sync.Mutex
	reqs       []RequestLog
	counters   map[string]int
	bufPool    sync.Pool
	oa         oauthState
	wh         atomic.Pointer[webhookState]
}

type idemEntry struct {
	bodyHash string
	status   int
	location string
	resp     []byte
}

type window struct {
	start time.Time
	used  int
}

// New builds the dataset. It takes about a second per million tickets.
func New(o Options) *Server {
	if o.Tickets <= 0 {
		o.Tickets = 2000
	}
	if o.Users <= 0 {
		o.Users = o.Tickets / 5
	}
	o.Users = max(o.Users, 25)
	if o.CommentsPerTicket <= 0 {
		o.CommentsPerTicket = 3
	}
	if o.Email == "" {
		o.Email = "agent@example.com"
	}
	if o.Token == "" {
		o.Token = "secret"
	}
	if o.BaseTime.IsZero() {
		o.BaseTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.RateWindow <= 0 {
		o.RateWindow = time.Minute
	}
	if o.MaxPerPage <= 0 {
		o.MaxPerPage = 1000
	}
	if o.TicketUpdateLimit == 0 {
		o.TicketUpdateLimit = 30
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxRequestLog <= 0 {
		o.MaxRequestLog = 100000
	}
	s := &Server{
		o:              o,
		base:           o.BaseTime.Unix(),
		baseURL:        "http://127.0.0.1:8090",
		emailIdx:       map[string]int32{},
		strIdx:         map[string]int32{},
		extIdx:         map[int32][]int32{},
		extraIncidents: map[int32]bool{},
		idem:           map[string]idemEntry{},
		counters:       map[string]int{},
		email:          o.Email,
		token:          o.Token,
		nextComment:    extCommentBase,
		nextAudit:      extAuditBase,
		cursorEpoch:    newCursorEpoch(),
		rng:            rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed)),
		faults: Faults{
			RateLimit: o.RateLimit, ExportRateLimit: o.ExportRateLimit, RateWindow: o.RateWindow,
			FailRate: o.FailRate, DropRate: o.DropRate, Slow: o.Slow, ExportLag: o.ExportLag,
			TicketUpdateLimit: o.TicketUpdateLimit, WritesPerSecond: o.WritesPerSecond,
		},
	}
	s.bufPool.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	for _, body := range bodyPool {
		s.bodyJSON = append(s.bodyJSON, appendJSONString(nil, body))
		s.htmlJSON = append(s.htmlJSON, appendJSONString(nil, htmlBody(body)))
	}
	lb := largeBody()
	s.bodyJSON = append(s.bodyJSON, appendJSONString(nil, lb))
	s.htmlJSON = append(s.htmlJSON, appendJSONString(nil, htmlBody(lb)))
	s.genUsers()
	s.genTickets()
	return s
}

// SetBaseURL sets the scheme://host[:port] used in url, after_url and
// next_page fields.
func (s *Server) SetBaseURL(u string) {
	s.mu.Lock()
	s.baseURL = strings.TrimRight(u, "/")
	s.mu.Unlock()
}

// SetCredentials changes the accepted email and token at runtime, e.g. to
// simulate a revoked token.
func (s *Server) SetCredentials(email, token string) {
	s.mu.Lock()
	s.email, s.token = email, token
	s.mu.Unlock()
}

func (s *Server) now() time.Time { return s.o.Now() }

// tick returns the timestamp for a write. It never goes backwards and lets
// at most Faults.WritesPerSecond writes (default 400) share a second, so
// exports stay ordered and, by default, the time-based event export never
// meets a full second.
func (s *Server) tick() int64 {
	ts := s.now().Unix()
	if ts < s.lastTS {
		ts = s.lastTS
	}
	limit := s.Faults().WritesPerSecond
	if limit <= 0 {
		limit = 400
	}
	if ts == s.lastTS {
		s.secCount++
		if s.secCount > limit {
			ts++
			s.secCount = 1
		}
	} else {
		s.secCount = 1
	}
	s.lastTS = ts
	return ts
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// ServeHTTP serves /api/v2/... and the /_sim/ control endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/oauth/") {
		s.serveOAuthControl(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveControl(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/oauth/") {
		s.serveOAuth(w, r)
		return
	}
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(r.Body, 32<<20))
	}
	rec := &recorder{ResponseWriter: w}
	key := counterKey(r.Method, r.URL.Path)
	defer func() {
		s.logRequest(r, key, rec.status, body)
	}()
	if !strings.HasPrefix(r.URL.Path, "/api/v2/") {
		writeJSON(rec, http.StatusNotFound, []byte(`{"error":"InvalidEndpoint","description":"Not found"}`))
		return
	}
	isExport := strings.HasPrefix(r.URL.Path, "/api/v2/incremental/")
	if !s.authOK(r) {
		s.rateHeaders(rec, isExport, false)
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			rec.Header().Set("WWW-Authenticate", `Bearer realm="Doorkeeper", error="invalid_token", error_description="`+descInvalidToken+`"`)
			oauthError(rec, http.StatusUnauthorized, "invalid_token", descInvalidToken)
			return
		}
		rec.Header().Set("WWW-Authenticate", `Basic realm="Web Password"`)
		writeJSON(rec, http.StatusUnauthorized, []byte(`{"error":"Couldn't authenticate you"}`))
		return
	}
	if retry, ok := s.rateHeaders(rec, isExport, true); !ok {
		rec.Header().Set("Retry-After", strconv.Itoa(retry))
		if isExport {
			writeJSON(rec, http.StatusTooManyRequests, []byte(`{"error":"APIRateLimitExceeded","description":"Number of allowed incremental export API requests per minute exceeded"}`))
		} else {
			writeJSON(rec, http.StatusTooManyRequests, []byte(`{"error":"APIRateLimitExceeded","description":"Number of allowed API requests per minute exceeded"}`))
		}
		return
	}
	if s.injectFault(rec, r) {
		return
	}
	s.route(rec, r, body)
}

func counterKey(method, path string) string {
	segs := strings.Split(strings.TrimSuffix(path, ".json"), "/")
	for i, sg := range segs {
		if sg != "" && strings.Trim(sg, "0123456789") == "" {
			segs[i] = "{id}"
		}
	}
	p := strings.Join(segs, "/")
	if strings.HasPrefix(p, "/api/v2/") {
		p += ".json"
	}
	return method + " " + p
}

func (s *Server) logRequest(r *http.Request, key string, status int, body []byte) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.counters[key]++
	switch {
	case status == 0:
		s.counters["dropped"]++
	case status == http.StatusTooManyRequests:
		s.counters["429"]++
	case status == http.StatusUnauthorized:
		s.counters["401"]++
	case status >= 500:
		s.counters["5xx"]++
	}
	if s.o.DisableRequestLog {
		return
	}
	l := RequestLog{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status, At: s.now()}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		l.Body = string(body)
	}
	if len(s.reqs) >= s.o.MaxRequestLog {
		s.reqs = append(s.reqs[:0], s.reqs[len(s.reqs)/2:]...)
	}
	s.reqs = append(s.reqs, l)
}

func (s *Server) authOK(r *http.Request) bool {
	s.mu.RLock()
	email, token := s.email, s.token
	s.mu.RUnlock()
	h := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(h, "Bearer "):
		bearer := strings.TrimPrefix(h, "Bearer ")
		return subtle.ConstantTimeCompare([]byte(bearer), []byte(token)) == 1 || s.oauthTokenOK(bearer)
	case strings.HasPrefix(h, "Basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h, "Basic "))
		if err != nil {
			return false
		}
		u, p, ok := strings.Cut(string(raw), ":")
		return ok && strings.EqualFold(u, email+"/token") && subtle.ConstantTimeCompare([]byte(p), []byte(token)) == 1
	}
	return false
}

// take consumes one request from a fixed window that starts at the first
// request after the previous window ended.
func (w *window) take(now time.Time, limit int, win time.Duration, consume bool) (remaining int, reset time.Duration, ok bool) {
	if w.start.IsZero() || now.Sub(w.start) >= win {
		w.start, w.used = now, 0
	}
	reset = w.start.Add(win).Sub(now)
	if limit <= 0 {
		if consume {
			w.used++
		}
		return 1000000 - w.used, reset, true
	}
	if w.used >= limit {
		return 0, reset, false
	}
	if consume {
		w.used++
	}
	return limit - w.used, reset, true
}

func ceilSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// rateHeaders writes the rate-limit headers and, when consume is set, counts
// the request; ok=false means the caller must answer 429 after retry secs.
func (s *Server) rateHeaders(w http.ResponseWriter, export, consume bool) (retry int, ok bool) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	now := s.now()
	f := s.faults
	limit := f.RateLimit
	if limit <= 0 {
		limit = 1000000
	}
	// Peek first so that a request refused by one limiter is not counted by the other.
	gRem, gReset, gOK := s.global.take(now, f.RateLimit, f.RateWindow, false)
	eRem, eReset, eOK := gRem, gReset, true
	if export {
		eRem, eReset, eOK = s.export.take(now, f.ExportRateLimit, f.RateWindow, false)
	}
	ok = gOK && eOK
	if ok && consume {
		gRem, _, _ = s.global.take(now, f.RateLimit, f.RateWindow, true)
		if export {
			eRem, _, _ = s.export.take(now, f.ExportRateLimit, f.RateWindow, true)
		}
	}
	h := w.Header()
	h.Set("X-Rate-Limit", strconv.Itoa(limit))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(gRem))
	h.Set("ratelimit-limit", strconv.Itoa(limit))
	h.Set("ratelimit-remaining", strconv.Itoa(gRem))
	h.Set("ratelimit-reset", strconv.Itoa(ceilSeconds(gReset)))
	if export {
		el := f.ExportRateLimit
		if el <= 0 {
			el = 1000000
		}
		h.Set("zendesk-ratelimit-incremental-exports", "total="+strconv.Itoa(el)+"; remaining="+strconv.Itoa(eRem)+"; resets="+strconv.Itoa(ceilSeconds(eReset)))
	}
	if !ok {
		retry = ceilSeconds(gReset)
		if !eOK {
			retry = ceilSeconds(eReset)
			if !gOK {
				retry = max(retry, ceilSeconds(gReset))
			}
		}
	}
	return retry, ok
}

// injectFault applies the configured failures; true means the response has
// been dealt with.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	s.fmu.Lock()
	f := s.faults
	drop := f.DropRate > 0 && s.rng.Float64() < f.DropRate
	fail := !drop && f.FailRate > 0 && s.rng.Float64() < f.FailRate
	unavailable := fail && s.rng.IntN(2) == 0
	s.fmu.Unlock()
	if f.Slow > 0 {
		select {
		case <-time.After(f.Slow):
		case <-r.Context().Done():
			return true
		}
	}
	switch {
	case drop:
		dropConn(w)
		return true
	case unavailable:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, []byte(`{"error":"ServiceUnavailable","description":"Service temporarily unavailable, retry later"}`))
		return true
	case fail:
		writeJSON(w, http.StatusInternalServerError, []byte(`{"error":"InternalError"}`))
		return true
	}
	return false
}

// dropConn closes the connection without a response, like a proxy dying.
func dropConn(w http.ResponseWriter) {
	if rec, ok := w.(*recorder); ok {
		w = rec.ResponseWriter
	}
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if err != nil {
		// httptest.ResponseRecorder cannot be hijacked; abort the handler the
		// way net/http documents for dropping a response.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) getBuf() *[]byte {
	return s.bufPool.Get().(*[]byte)
}

// putBuf keeps the grown slice for the next page; huge ones are dropped so
// one giant page does not pin memory.
func (s *Server) putBuf(bp *[]byte, b []byte) {
	if cap(b) <= 8<<20 {
		*bp = b[:0]
		s.bufPool.Put(bp)
	}
}

// SetFaults replaces the runtime knobs.
func (s *Server) SetFaults(f Faults) {
	if f.RateWindow <= 0 {
		f.RateWindow = time.Minute
	}
	if f.TicketUpdateLimit == 0 {
		f.TicketUpdateLimit = 30
	}
	s.fmu.Lock()
	s.faults = f
	s.global, s.export = window{}, window{}
	s.fmu.Unlock()
}

// Faults returns the current runtime knobs.
func (s *Server) Faults() Faults {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.faults
}

// Requests returns a copy of the request log (control requests excluded).
func (s *Server) Requests() []RequestLog {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	return append([]RequestLog(nil), s.reqs...)
}

// Counters returns request counts keyed "METHOD /api/v2/path.json" with
// numeric segments as {id}, plus "429", "401", "5xx" and "dropped".
func (s *Server) Counters() map[string]int {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	out := make(map[string]int, len(s.counters))
	for k, v := range s.counters {
		out[k] = v
	}
	return out
}

// ResetCounters clears counters and the request log.
func (s *Server) ResetCounters() {
	s.lmu.Lock()
	s.counters = map[string]int{}
	s.reqs = nil
	s.lmu.Unlock()
}

// BlockExport lets the next `after` cursor-export pages through and holds
// every later one until release is called (or the client gives up).
func (s *Server) BlockExport(after int) (release func()) {
	ch := make(chan struct{})
	s.fmu.Lock()
	s.blockAfter, s.blockSeen, s.blockCh = after, 0, ch
	s.fmu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.fmu.Lock()
			if s.blockCh == ch {
				s.blockCh = nil
			}
			s.fmu.Unlock()
			close(ch)
		})
	}
}

func (s *Server) waitExportBlock(ctx context.Context) bool {
	s.fmu.Lock()
	ch := s.blockCh
	if ch != nil {
		s.blockSeen++
		if s.blockSeen <= s.blockAfter {
			ch = nil
		}
	}
	s.fmu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// FailNextCreateAfterCommit makes the next POST tickets.json create the
// ticket and then close the connection without answering.
func (s *Server) FailNextCreateAfterCommit() {
	s.fmu.Lock()
	s.failCreate = true
	s.fmu.Unlock()
}
