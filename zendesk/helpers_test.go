package zendesk

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	testEmail = "agent@example.com"
	testToken = "s3cr3t-T0KEN-value"
)

// seen is one request as the fake server received it.
type seen struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	At     time.Time
}

// fakeZendesk is an httptest server whose handler gets the 0-based index of each request, and which records them.
type fakeZendesk struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []seen
	logs *bytes.Buffer
}

func newFake(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) (*fakeZendesk, *Client) {
	t.Helper()
	return newFakeWith(t, Config{}, h)
}

func newFakeWith(t *testing.T, cfg Config, h func(w http.ResponseWriter, r *http.Request, n int)) (*fakeZendesk, *Client) {
	t.Helper()
	f := &fakeZendesk{logs: &bytes.Buffer{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		n := len(f.reqs)
		f.reqs = append(f.reqs, seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(),
			Body: body, At: time.Now()})
		f.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(f.srv.Close)
	if cfg.URL == "" {
		cfg.URL = f.srv.URL
	}
	if cfg.Email == "" && cfg.OAuthToken == "" {
		cfg.Email, cfg.Token = testEmail, testToken
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: f.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := New(cfg)
	require.NoError(t, err)
	return f, c
}

func (f *fakeZendesk) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func recordedFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "recorded", name))
	require.NoError(t, err)
	return b
}

func ptr[T any](v T) *T { return &v }
