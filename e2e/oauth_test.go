package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// oauthIntegration creates an OAuth integration, connects it as `starter integration connect` does (the browser's
// part played here: the simulator's consent page approves at once), and activates it.
func (e *env) oauthIntegration(name, url string, s *sim.Server) {
	e.t.Helper()
	if _, err := e.store.CRMUserByEmail(e.ctx, "owner@example.com"); err != nil {
		_, err := e.ctl.AddUser(e.ctx, "owner@example.com", "Owner")
		require.NoError(e.t, err)
	}
	id, secret := s.OAuthClient()
	_, err := e.ctl.CreateIntegration(e.ctx, control.IntegrationSpec{Name: name, URL: url, Email: simEmail,
		Owner: "owner@example.com", DefaultUserEmail: simEmail, Interval: time.Hour, Auth: "oauth",
		OAuthClientID: id, OAuthClientSecret: secret})
	require.NoError(e.t, err)
	e.connect(name)
	_, err = e.ctl.Activate(e.ctx, name)
	require.NoError(e.t, err)
}

// connect runs the authorization-code flow against the simulator.
func (e *env) connect(name string) {
	e.t.Helper()
	const redirect = "http://127.0.0.1:1/oauth/callback" // never called: the redirect is read, not followed
	authURL, state, err := e.ctl.ConnectBegin(e.ctx, name, redirect)
	require.NoError(e.t, err)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(authURL)
	require.NoError(e.t, err)
	resp.Body.Close()
	require.Equal(e.t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(e.t, err)
	require.Equal(e.t, state, loc.Query().Get("state"))
	require.NoError(e.t, e.ctl.ConnectFinish(e.ctx, name, loc.Query().Get("code")))
}

// assertNoOAuthSecret checks that no token the simulator issued, nor the client secret, sits in the workflow's
// history, the worker's logs or (in plain text) anywhere in a dump of the database.
func (e *env) assertNoOAuthSecret(name string, s *sim.Server) {
	e.t.Helper()
	in, err := e.store.IntegrationByName(e.ctx, name)
	require.NoError(e.t, err)
	wid := contract.IntegrationWorkflowID(in.ID)
	var all bytes.Buffer
	iter := e.ts.GetDefaultClient().GetWorkflowHistory(e.ctx, wid, "", false, 0)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(e.t, err)
		b, _ := json.Marshal(ev)
		all.Write(b)
	}
	dump, err := exec.CommandContext(e.ctx, "pg_dump", "--data-only", e.dbURL).Output()
	require.NoError(e.t, err, "pg_dump")
	require.Contains(e.t, string(dump), "oauth_credentials", "the dump holds the credentials table")
	_, clientSecret := s.OAuthClient()
	secrets := append(s.OAuthIssuedTokens(), clientSecret)
	require.NotEmpty(e.t, s.OAuthIssuedTokens())
	logs := strings.Join(e.logs.all(), "\n")
	for _, sec := range secrets {
		require.NotContains(e.t, all.String(), sec, "a secret reached Temporal")
		require.NotContains(e.t, logs, sec, "a secret was logged")
		require.NotContains(e.t, string(dump), sec, "a secret sits in PostgreSQL in plain text")
	}
}

func TestOAuthAccessTokenExpiringMidFirstSyncLosesNothing(t *testing.T) {
	e := newEnv(t, withPerPage(100))
	s, url := newSim(t, sim.Options{Seed: 41, Tickets: 1200,
		OAuth: sim.OAuthOptions{AccessLifetime: 4 * time.Second}})
	release := s.BlockExport(3)
	defer release()
	e.oauthIntegration("oa", url, s)

	// Whatever progress shows meanwhile, no credentials error may appear.
	var mu sync.Mutex
	var seen []string
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if p, err := e.ctl.Progress(e.ctx, "oa"); err == nil && (p.LastError != nil || p.Phase == contract.PhaseCredentialsRejected) {
				mu.Lock()
				seen = append(seen, p.Phase+": "+deref(p.LastError))
				mu.Unlock()
			}
		}
	}()
	// Three pages in (the fourth held), Zendesk kills the access token: the next request draws a 401, refreshes and goes on.
	require.Eventually(t, func() bool { return s.Counters()["GET /api/v2/incremental/tickets/cursor.json"] >= 3 },
		time.Minute, 20*time.Millisecond)
	s.ExpireOAuthAccessTokens()
	release()
	p := e.firstSyncDone("oa")
	close(stop)
	<-watched
	assert.Nil(t, p.LastError)
	assert.Empty(t, seen, "a credentials problem reached the user")
	assert.GreaterOrEqual(t, s.Counters()["401"], 1, "the expired token was refused once")
	assert.GreaterOrEqual(t, s.OAuthStats().Refreshes, 1)
	assert.Zero(t, s.OAuthStats().InvalidGrants)
	live := 0
	for _, id := range s.TicketIDs() {
		if !s.IsDeleted(id) {
			live++
		}
	}
	assert.Equal(t, live, e.count(`SELECT count(*) FROM cases`), "nothing lost")
	fs, err := e.ctl.Failures(e.ctx, "oa")
	require.NoError(t, err)
	assert.Empty(t, fs)
	e.assertNoOAuthSecret("oa", s)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestOAuthRevokedGrantAsksToReconnectAndConnectResumes(t *testing.T) {
	e := newEnv(t)
	s, url := newSim(t, sim.Options{Seed: 42, Tickets: 200})
	e.oauthIntegration("rev", url, s)
	e.firstSyncDone("rev")

	s.RevokeOAuthGrants()
	_, err := e.ctl.SyncNow(e.ctx, "rev", true)
	require.Error(t, err, "sync --wait fails with the reason")
	assert.Contains(t, err.Error(), "reconnect with `starter integration connect rev`")
	p := e.waitProgress("rev", time.Minute, func(p control.ProgressView) bool {
		return p.Phase == contract.PhaseCredentialsRejected
	})
	require.NotNil(t, p.LastError)
	assert.Contains(t, *p.LastError, "reconnect with `starter integration connect rev`")
	assert.Contains(t, *p.LastError, "invalid_grant")

	// A change made while the grant is revoked arrives once the integration is connected again, by itself.
	id := s.TicketIDs()[10]
	subject := "changed while the grant was revoked"
	require.NoError(t, s.ChangeTicket(id, sim.TicketChange{Subject: &subject}))
	e.connect("rev")
	require.Eventually(t, func() bool { return e.cases("rev")[id].Subject == subject }, 2*time.Minute, 200*time.Millisecond)
	p = e.waitProgress("rev", time.Minute, func(p control.ProgressView) bool {
		return p.Phase != contract.PhaseCredentialsRejected && p.LastError == nil
	})
	assert.Equal(t, 2, s.OAuthStats().CodeExchanges)
	e.assertNoOAuthSecret("rev", s)

	in, err := e.store.IntegrationByName(e.ctx, "rev")
	require.NoError(t, err)
	assert.Equal(t, "oauth", control.View(in).Auth)
}

// Two workers (each with its own Activities, client cache and token source, sharing the database) sync one OAuth
// integration whose access tokens live two seconds: they refresh many times, never spend a refresh token twice,
// and the sync loses nothing.
func TestOAuthTwoWorkersWithShortLivedTokensNeverSpendARefreshTokenTwice(t *testing.T) {
	e := newEnv(t, withPerPage(50))
	e.startWorker(nil)
	s, url := newSim(t, sim.Options{Seed: 43, Tickets: 1500, Slow: 5 * time.Millisecond,
		OAuth: sim.OAuthOptions{AccessLifetime: 2 * time.Second}})
	e.oauthIntegration("two", url, s)
	p := e.firstSyncDone("two")
	assert.Nil(t, p.LastError)
	st := s.OAuthStats()
	assert.GreaterOrEqual(t, st.Refreshes, 1)
	assert.Zero(t, st.InvalidGrants, "a refresh token was spent twice")
	assert.Equal(t, 1, st.LiveGrants)
	live := 0
	for _, id := range s.TicketIDs() {
		if !s.IsDeleted(id) {
			live++
		}
	}
	assert.Equal(t, live, e.count(`SELECT count(*) FROM cases`))
	t.Logf("refreshes %d, 401s %d", st.Refreshes, s.Counters()["401"])
}
