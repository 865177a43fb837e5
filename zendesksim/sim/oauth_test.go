package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// authorize plays the browser: it asks for a code and reads it from the redirect without following it.
func (e *env) authorize(redirect, state string) string {
	e.t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {"zendesk-sync"}, "redirect_uri": {redirect},
		"scope": {"read write"}, "state": {state}}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(e.srv.URL + "/oauth/authorizations/new?" + q.Encode())
	require.NoError(e.t, err)
	resp.Body.Close()
	require.Equal(e.t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(e.t, err)
	assert.True(e.t, strings.HasPrefix(loc.String(), redirect))
	assert.Equal(e.t, state, loc.Query().Get("state"))
	require.NotEmpty(e.t, loc.Query().Get("code"))
	return loc.Query().Get("code")
}

type tokenAnswer struct {
	AccessToken           string `json:"access_token"`
	RefreshToken          string `json:"refresh_token"`
	TokenType             string `json:"token_type"`
	Scope                 string `json:"scope"`
	ExpiresIn             int64  `json:"expires_in"`
	RefreshTokenExpiresIn int64  `json:"refresh_token_expires_in"`
	Error                 string `json:"error"`
	ErrorDescription      string `json:"error_description"`
}

func (e *env) token(form url.Values) (int, tokenAnswer) {
	e.t.Helper()
	resp, err := http.PostForm(e.srv.URL+"/oauth/tokens", form)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a tokenAnswer
	require.NoError(e.t, json.Unmarshal(b, &a), string(b))
	return resp.StatusCode, a
}

func (e *env) bearer(tok string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v2/users/me.json", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		b, _ := io.ReadAll(resp.Body)
		assert.JSONEq(e.t, `{"error":"invalid_token","error_description":"`+descInvalidToken+`"}`, string(b))
	}
	return resp.StatusCode
}

func TestOAuthCodeGrantRefreshRotationAndRevocation(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newEnv(t, Options{Now: func() time.Time { return now }})
	const redirect = "http://127.0.0.1:9999/oauth/callback"
	code := e.authorize(redirect, "st-1")
	client := url.Values{"client_id": {"zendesk-sync"}, "client_secret": {"sim-oauth-secret"}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range client {
			v[k] = vs
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	// A wrong redirect_uri spends the code all the same.
	st, a := e.token(with("grant_type", "authorization_code", "code", code, "redirect_uri", "http://127.0.0.1:1/x"))
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "invalid_grant", a.Error)
	code = e.authorize(redirect, "st-2")
	st, a = e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"zendesk-sync"},
		"client_secret": {"wrong"}, "redirect_uri": {redirect}})
	assert.Equal(t, http.StatusUnauthorized, st)
	assert.Equal(t, "invalid_client", a.Error)

	st, a = e.token(with("grant_type", "authorization_code", "code", code, "redirect_uri", redirect,
		"expires_in", "600", "refresh_token_expires_in", "864000"))
	require.Equal(t, http.StatusOK, st, a.ErrorDescription)
	assert.Equal(t, "bearer", a.TokenType)
	assert.Equal(t, "read write", a.Scope)
	assert.Equal(t, int64(600), a.ExpiresIn)
	assert.Equal(t, int64(864000), a.RefreshTokenExpiresIn)
	assert.Equal(t, http.StatusOK, e.bearer(a.AccessToken))
	// The code is single-use.
	st, _ = e.token(with("grant_type", "authorization_code", "code", code, "redirect_uri", redirect))
	assert.Equal(t, http.StatusBadRequest, st)

	// The access token expires after its lifetime.
	now = now.Add(601 * time.Second)
	assert.Equal(t, http.StatusUnauthorized, e.bearer(a.AccessToken))

	// Refresh rotates: the old refresh token (and access token) die, a second use is an invalid_grant.
	st, b := e.token(with("grant_type", "refresh_token", "refresh_token", a.RefreshToken))
	require.Equal(t, http.StatusOK, st)
	assert.NotEqual(t, a.RefreshToken, b.RefreshToken)
	assert.Equal(t, http.StatusOK, e.bearer(b.AccessToken))
	st, c := e.token(with("grant_type", "refresh_token", "refresh_token", a.RefreshToken))
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "invalid_grant", c.Error)
	assert.Equal(t, descInvalidGrant, c.ErrorDescription)
	assert.Equal(t, 1, e.s.OAuthStats().Refreshes)

	// Revocation through the control API: the access token stops working, the refresh token too.
	resp, err := http.Post(e.srv.URL+"/_sim/oauth/revoke", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, e.bearer(b.AccessToken))
	st, c = e.token(with("grant_type", "refresh_token", "refresh_token", b.RefreshToken))
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, "invalid_grant", c.Error)
}

func TestOAuthLifetimeOptionAndJSONBody(t *testing.T) {
	e := newEnv(t, Options{OAuth: OAuthOptions{AccessLifetime: 3 * time.Second, ClientID: "c", ClientSecret: "s"}})
	q := url.Values{"response_type": {"code"}, "client_id": {"other"}, "redirect_uri": {"http://127.0.0.1/cb"}}
	resp, err := http.Get(e.srv.URL + "/oauth/authorizations/new?" + q.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "an unknown client is an error page, never a redirect")

	q.Set("client_id", "c")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = c.Get(e.srv.URL + "/oauth/authorizations/new?" + q.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	body := `{"grant_type":"authorization_code","code":"` + loc.Query().Get("code") +
		`","client_id":"c","client_secret":"s","redirect_uri":"http://127.0.0.1/cb","scope":"read write"}`
	resp, err = http.Post(e.srv.URL+"/oauth/tokens", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var a tokenAnswer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int64(3), a.ExpiresIn, "the configured lifetime wins")
	assert.Equal(t, http.StatusOK, e.bearer(a.AccessToken))
}
