package oauthtoken_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/internal/oauthtoken"
	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

const testKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

type fixture struct {
	t   *testing.T
	ctx context.Context
	st  *store.Store
	key *secrets.Key
	sim *sim.Server
	in  *store.Integration
}

// newFixture connects an OAuth integration to a simulator, through the authorization-code flow.
func newFixture(t *testing.T, o sim.OAuthOptions) *fixture {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	st, err := store.Open(ctx, testdb.New(t), 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	key, err := secrets.ParseKey(testKey)
	require.NoError(t, err)
	s := sim.New(sim.Options{Tickets: 30, OAuth: o})
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	s.SetBaseURL(hs.URL)

	owner, err := st.AddCRMUser(ctx, "owner@example.com", "Owner")
	require.NoError(t, err)
	clientID, secret := s.OAuthClient()
	sealed, err := key.Seal(secret)
	require.NoError(t, err)
	id, err := st.CreateIntegration(ctx, &store.Integration{Name: "acme", URL: hs.URL, Email: "agent@example.com",
		OwnerUserID: owner, Priority: "remote", IntervalSeconds: 300,
		OAuthClient: &store.OAuthClient{ClientID: clientID, ClientSecretEnc: sealed}})
	require.NoError(t, err)
	in, err := st.Integration(ctx, id)
	require.NoError(t, err)
	require.Equal(t, store.AuthOAuth, in.Auth)

	app := zendesk.OAuthApp{URL: hs.URL, ClientID: clientID, ClientSecret: secret}
	const redirect = "http://127.0.0.1:1/oauth/callback"
	authURL, err := app.AuthorizeURL(redirect, "state-1")
	require.NoError(t, err)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	tok, err := app.Exchange(ctx, loc.Query().Get("code"), redirect)
	require.NoError(t, err)
	g, err := oauthtoken.Seal(key, tok)
	require.NoError(t, err)
	require.NoError(t, st.ConnectOAuth(ctx, id, *g))
	return &fixture{t: t, ctx: ctx, st: st, key: key, sim: s, in: in}
}

// worker is what one worker process holds: its own Source and client.
func (f *fixture) worker() *zendesk.Client {
	c, err := zendesk.New(zendesk.Config{URL: f.in.URL, Tokens: oauthtoken.New(f.st, f.key, f.in, nil)})
	require.NoError(f.t, err)
	return c
}

func (f *fixture) call(c *zendesk.Client) error {
	_, err := c.SearchUsersByEmail(f.ctx, "agent@example.com")
	return err
}

func TestTwoWorkersRefreshingAtOnceSpendOneRefreshToken(t *testing.T) {
	f := newFixture(t, sim.OAuthOptions{AccessLifetime: time.Hour})
	workers := []*zendesk.Client{f.worker(), f.worker(), f.worker()}
	for _, w := range workers {
		require.NoError(t, f.call(w)) // each caches the same access token
	}
	// Zendesk kills the access token before its time (as a refresh elsewhere would): every worker draws a 401 at
	// once, and each wants to refresh.
	f.sim.ExpireOAuthAccessTokens()
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for _, w := range workers {
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- f.call(w)
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "no 401 reaches the caller")
	}
	st := f.sim.OAuthStats()
	assert.Equal(t, 1, st.Refreshes, "one refresh token spent")
	assert.Equal(t, 0, st.InvalidGrants, "nobody spent a dead refresh token")
	cred, err := f.st.OAuthCredential(f.ctx, f.in.ID)
	require.NoError(t, err)
	assert.EqualValues(t, 1, cred.Refreshes)
	assert.False(t, cred.RejectedAt.Valid)
	// And they keep working with the stored grant.
	for _, w := range workers {
		require.NoError(t, f.call(w))
	}
}

func TestAccessTokenIsRefreshedBeforeItExpires(t *testing.T) {
	f := newFixture(t, sim.OAuthOptions{AccessLifetime: 2 * time.Second})
	w := f.worker()
	require.NoError(t, f.call(w))
	time.Sleep(1700 * time.Millisecond) // inside the last fifth of the lifetime
	require.NoError(t, f.call(w))
	assert.Equal(t, 1, f.sim.OAuthStats().Refreshes)
	assert.Zero(t, f.sim.Counters()["401"], "refreshed ahead, not after a 401")
}

func TestRevokedGrantIsRecordedOnceAndReported(t *testing.T) {
	f := newFixture(t, sim.OAuthOptions{AccessLifetime: time.Hour})
	a, b := f.worker(), f.worker()
	require.NoError(t, f.call(a))
	f.sim.RevokeOAuthGrants()
	err := f.call(a)
	var ge *zendesk.OAuthGrantError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, "invalid_grant", ge.Code)
	cred, err := f.st.OAuthCredential(f.ctx, f.in.ID)
	require.NoError(t, err)
	require.True(t, cred.RejectedAt.Valid)
	assert.Contains(t, cred.RejectedReason.String, "invalid_grant")
	// The other worker learns it from the row, without spending anything at Zendesk.
	require.ErrorAs(t, f.call(b), &ge)
	assert.Equal(t, 1, f.sim.OAuthStats().InvalidGrants)
}
