package zendesk_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/zendesk"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// memSource is the simplest TokenSource: one process, tokens in memory.
type memSource struct {
	app      zendesk.OAuthApp
	mu       sync.Mutex
	tok      *zendesk.OAuthTokens
	rejected int
	refuse   bool // Rejected hands back the same token (a source that cannot renew)
}

func (m *memSource) AccessToken(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tok.AccessToken, nil
}

func (m *memSource) Rejected(ctx context.Context, token string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rejected++
	if m.refuse {
		return token, nil
	}
	t, err := m.app.Refresh(ctx, m.tok.RefreshToken)
	if err != nil {
		return "", err
	}
	m.tok = t
	return t.AccessToken, nil
}

func connected(t *testing.T) (*sim.Server, *memSource) {
	t.Helper()
	s := sim.New(sim.Options{Tickets: 40})
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	s.SetBaseURL(hs.URL)
	id, secret := s.OAuthClient()
	app := zendesk.OAuthApp{URL: hs.URL, ClientID: id, ClientSecret: secret}
	const redirect = "http://127.0.0.1:1/cb"
	u, err := app.AuthorizeURL(redirect, "st")
	require.NoError(t, err)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(u)
	require.NoError(t, err)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := app.Exchange(context.Background(), loc.Query().Get("code"), redirect)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(zendesk.AccessTokenLifetime), tok.AccessExpiry, time.Minute,
		"expiring tokens were asked for")
	assert.WithinDuration(t, time.Now().Add(zendesk.RefreshTokenLifetime), tok.RefreshExpiry, time.Minute)
	return s, &memSource{app: app, tok: tok}
}

func TestA401IsRefreshedAndTheWriteSentOnceMore(t *testing.T) {
	s, src := connected(t)
	c, err := zendesk.New(zendesk.Config{URL: src.app.URL, Tokens: src})
	require.NoError(t, err)
	id := s.Special().Open
	s.ExpireOAuthAccessTokens()
	subject := "renamed with a refreshed token"
	_, err = c.UpdateTicket(context.Background(), id, zendesk.TicketUpdate{Subject: &subject})
	require.NoError(t, err)
	assert.Equal(t, 1, src.rejected)
	assert.Equal(t, 1, s.OAuthStats().Refreshes)
	cnt := s.Counters()
	assert.Equal(t, 1, cnt["401"])
	assert.Equal(t, 2, cnt["PUT /api/v2/tickets/{id}.json"], "the refused write went once more, and only once")
}

func TestA401AfterRenewalIsACredentialsError(t *testing.T) {
	s, src := connected(t)
	src.refuse = true
	c, err := zendesk.New(zendesk.Config{URL: src.app.URL, Tokens: src, MaxRetries: -1})
	require.NoError(t, err)
	s.ExpireOAuthAccessTokens()
	_, err = c.SearchUsersByEmail(context.Background(), "agent@example.com")
	var ce *zendesk.CredentialsError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, http.StatusUnauthorized, ce.StatusCode)
	assert.Equal(t, 1, src.rejected, "renewed once, not in a loop")
}

func TestARevokedGrantIsAnOAuthGrantError(t *testing.T) {
	s, src := connected(t)
	c, err := zendesk.New(zendesk.Config{URL: src.app.URL, Tokens: src})
	require.NoError(t, err)
	s.RevokeOAuthGrants()
	_, err = c.SearchUsersByEmail(context.Background(), "agent@example.com")
	var ge *zendesk.OAuthGrantError
	require.True(t, errors.As(err, &ge), "%v", err)
	assert.Equal(t, "invalid_grant", ge.Code)
	assert.Equal(t, http.StatusBadRequest, ge.StatusCode)
	assert.NotContains(t, err.Error(), src.tok.RefreshToken)
}
