package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// syncBuffer is written by a running command while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var authURLRe = regexp.MustCompile(`http://\S+/oauth/authorizations/new\?\S+`)

// startConnect runs `integration connect NAME` in the background and returns the authorization URL it prints.
func (c *cli) startConnect(ctx context.Context, name string) (authURL string, out *syncBuffer, done chan int) {
	c.t.Helper()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done = make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--database-url", c.dbURL, "--temporal-address", "127.0.0.1:1",
			"integration", "connect", name}, out, errOut)
	}()
	require.Eventually(c.t, func() bool { return authURLRe.MatchString(out.String()) }, 10*time.Second,
		20*time.Millisecond, "stderr: %s", errOut.String())
	return authURLRe.FindString(out.String()), out, done
}

func TestOAuthCreateAndConnectThroughTheLoopbackAndWithCode(t *testing.T) {
	c := newCLI(t)
	s := sim.New(sim.Options{Tickets: 30})
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	s.SetBaseURL(hs.URL)
	id, secret := s.OAuthClient()
	c.ok("user", "add", "--email", "admin@example.com", "--name", "Admin")
	create := func(name string, extra ...string) []string {
		return append([]string{"integration", "create", "--name", name, "--url", hs.URL, "--email", "agent@example.com",
			"--owner", "admin@example.com", "--auth", "oauth", "--oauth-client-id", id}, extra...)
	}

	t.Setenv(EnvOAuthClientSecret, "")
	c.fails(2, EnvOAuthClientSecret, create("loop")...)
	c.fails(2, "exclude each other", create("loop", "--token", testToken)...)
	c.fails(2, "--token is required", "integration", "create", "--name", "x", "--url", hs.URL, "--email", "a@b.com",
		"--owner", "admin@example.com")
	t.Setenv(EnvOAuthClientSecret, secret)
	help := c.ok("integration", "create", "--help")
	assert.Contains(t, help, EnvOAuthClientSecret)
	assert.NotContains(t, help, secret, "no --help shows a secret")
	c.ok(create("loop")...)
	var view map[string]any
	require.NoError(t, json.Unmarshal([]byte(c.ok("integration", "show", "loop", "-o", "json")), &view))
	assert.Equal(t, "oauth", view["auth"])

	// The browser follows Zendesk's redirect to the loopback listener: connect exchanges the code and returns.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	authURL, out, done := c.startConnect(ctx, "loop")
	resp, err := http.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 0, <-done, out.String())
	assert.Contains(t, out.String(), "connected")
	assert.Equal(t, 1, s.OAuthStats().CodeExchanges)

	// Headless: the client secret from a file; the code copied from the address the browser landed on.
	t.Setenv(EnvOAuthClientSecret, "")
	f := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(f, []byte(secret+"\n"), 0o600))
	c.ok(create("headless", "--oauth-client-secret-file", f)...)
	c.fails(1, "no authorization of \"headless\" is in progress", "integration", "connect", "headless", "--code", "abc")
	hctx, stop := context.WithCancel(context.Background())
	authURL, _, done = c.startConnect(hctx, "headless")
	stop() // Ctrl-C: nobody listens any more
	<-done
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	landed := resp.Header.Get("Location")
	c.fails(1, "refused the code", "integration", "connect", "headless", "--code", "not-a-code")
	assert.Contains(t, c.ok("integration", "connect", "headless", "--code", landed), "connected")
	assert.Equal(t, 2, s.OAuthStats().CodeExchanges)
	c.fails(2, "authenticates with OAuth", "integration", "edit", "headless", "--token", "x")
	c.ok("integration", "create", "--name", "tok", "--url", hs.URL, "--email", "agent@example.com", "--owner",
		"admin@example.com", "--token", testToken, "--no-check")
	c.fails(1, "uses an API token", "integration", "connect", "tok", "--code", "x")
	for _, o := range c.outputs {
		assert.NotContains(t, o, secret)
		for _, tok := range s.OAuthIssuedTokens() {
			assert.NotContains(t, o, tok)
		}
	}
}
