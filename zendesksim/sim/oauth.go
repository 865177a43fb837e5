package sim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OAuthOptions configure the simulator's OAuth client and the lifetimes of what it issues. Zero values get the
// defaults noted.
type OAuthOptions struct {
	ClientID     string // default "zendesk-sync"
	ClientSecret string // default "sim-oauth-secret"
	// AccessLifetime, when set, is the lifetime of every access token, whatever the client asks for (tests use a
	// few seconds). Unset, a token lives as long as the request's expires_in (Zendesk clamps it to 5 min–48 h) and
	// does not expire when none was asked for, as Zendesk's older tokens.
	AccessLifetime time.Duration
	// RefreshLifetime, when set, is the lifetime of every refresh token; unset, the request's
	// refresh_token_expires_in (7–90 days), else 30 days.
	RefreshLifetime time.Duration
}

// OAuthStats count what the OAuth endpoints did (GET /_sim/oauth/stats).
type OAuthStats struct {
	Authorizations int `json:"authorizations"` // codes issued by the authorization endpoint
	CodeExchanges  int `json:"code_exchanges"` // authorization_code grants that succeeded
	Refreshes      int `json:"refreshes"`      // refresh_token grants that succeeded (refresh tokens spent)
	InvalidGrants  int `json:"invalid_grants"` // grants refused with invalid_grant
	Revocations    int `json:"revocations"`    // grants revoked through the control API
	LiveGrants     int `json:"live_grants"`
}

// Zendesk's OAuth server answers with the standard OAuth 2.0 error bodies (RFC 6749 §5.2) and the descriptions of
// the Rails library it runs on (the invalid_token text is recorded in fprimex/zdesk #58).
const (
	descInvalidGrant = "The provided authorization grant is invalid, expired, revoked, does not match the " +
		"redirection URI used in the authorization request, or was issued to another client."
	descInvalidClient = "Client authentication failed due to unknown client, no client authentication included, " +
		"or unsupported authentication method."
	descInvalidToken = "The access token provided is expired, revoked, malformed or invalid for other reasons."
)

type oauthGrant struct {
	revoked bool
}

type oauthIssued struct {
	grant   *oauthGrant
	expires time.Time // zero: never
}

type oauthCode struct {
	clientID, redirectURI string
	expires               time.Time
}

type oauthState struct {
	mu      sync.Mutex
	codes   map[string]oauthCode
	access  map[string]oauthIssued
	refresh map[string]oauthIssued
	grants  []*oauthGrant
	stats   OAuthStats
	issued  []string // every token ever issued, for tests that look for leaks
}

func (o *oauthState) init() {
	if o.codes == nil {
		o.codes = map[string]oauthCode{}
		o.access = map[string]oauthIssued{}
		o.refresh = map[string]oauthIssued{}
	}
}

func (s *Server) oauthOptions() OAuthOptions {
	o := s.o.OAuth
	if o.ClientID == "" {
		o.ClientID = "zendesk-sync"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "sim-oauth-secret"
	}
	return o
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// serveOAuth answers /oauth/authorizations/new and /oauth/tokens.
func (s *Server) serveOAuth(w http.ResponseWriter, r *http.Request) {
	switch p := strings.TrimSuffix(r.URL.Path, "/"); {
	case r.Method == http.MethodGet && p == "/oauth/authorizations/new":
		s.handleAuthorize(w, r)
	case r.Method == http.MethodPost && p == "/oauth/tokens":
		s.handleToken(w, r)
	default:
		writeJSON(w, http.StatusNotFound, []byte(`{"error":"InvalidEndpoint","description":"Not found"}`))
	}
}

// handleAuthorize plays the consent page of an auto-approving user (the API user): it redirects at once with a
// code. Like Zendesk it never redirects to an unverified redirect_uri: a bad client or redirect is an error page.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := s.oauthOptions()
	redirect := q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	switch {
	case q.Get("client_id") != opts.ClientID:
		oauthError(w, http.StatusBadRequest, "invalid_client", descInvalidClient)
		return
	case redirect == "" || err != nil || !ru.IsAbs() || (ru.Scheme != "https" && !isLoopbackHost(ru.Hostname())):
		oauthError(w, http.StatusBadRequest, "invalid_redirect_uri",
			"The requested redirect uri is malformed or doesn't match client redirect URI.")
		return
	}
	back := ru.Query()
	if st := q.Get("state"); st != "" {
		back.Set("state", st)
	}
	if q.Get("response_type") != "code" {
		back.Set("error", "unsupported_response_type")
		back.Set("error_description", "The authorization server does not support this response type.")
	} else {
		code := randomToken()
		s.oa.mu.Lock()
		s.oa.init()
		s.oa.codes[code] = oauthCode{clientID: opts.ClientID, redirectURI: redirect, expires: s.now().Add(2 * time.Minute)}
		s.oa.stats.Authorizations++
		s.oa.mu.Unlock()
		back.Set("code", code)
	}
	ru.RawQuery = back.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

func isLoopbackHost(h string) bool {
	return h == "127.0.0.1" || h == "localhost" || h == "::1"
}

// tokenRequest is the body of POST /oauth/tokens; Zendesk documents JSON and also takes a form.
type tokenRequest struct {
	GrantType             string `json:"grant_type"`
	Code                  string `json:"code"`
	ClientID              string `json:"client_id"`
	ClientSecret          string `json:"client_secret"`
	RedirectURI           string `json:"redirect_uri"`
	Scope                 string `json:"scope"`
	RefreshToken          string `json:"refresh_token"`
	ExpiresIn             int64  `json:"expires_in"`
	RefreshTokenExpiresIn int64  `json:"refresh_token_expires_in"`
}

func readTokenRequest(r *http.Request) (tokenRequest, bool) {
	var in tokenRequest
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		return in, json.Unmarshal(body, &in) == nil
	}
	if err := r.ParseForm(); err != nil {
		return in, false
	}
	f := r.PostForm
	in = tokenRequest{GrantType: f.Get("grant_type"), Code: f.Get("code"), ClientID: f.Get("client_id"),
		ClientSecret: f.Get("client_secret"), RedirectURI: f.Get("redirect_uri"), Scope: f.Get("scope"),
		RefreshToken: f.Get("refresh_token")}
	in.ExpiresIn, _ = strconv.ParseInt(f.Get("expires_in"), 10, 64)
	in.RefreshTokenExpiresIn, _ = strconv.ParseInt(f.Get("refresh_token_expires_in"), 10, 64)
	if id, secret, ok := r.BasicAuth(); ok && in.ClientID == "" {
		in.ClientID, in.ClientSecret = id, secret
	}
	return in, true
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	in, ok := readTokenRequest(r)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request is missing a required parameter, "+
			"includes an unsupported parameter value, or is otherwise malformed.")
		return
	}
	opts := s.oauthOptions()
	if in.ClientID != opts.ClientID ||
		subtle.ConstantTimeCompare([]byte(in.ClientSecret), []byte(opts.ClientSecret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client", descInvalidClient)
		return
	}
	s.oa.mu.Lock()
	defer s.oa.mu.Unlock()
	s.oa.init()
	now := s.now()
	var grant *oauthGrant
	switch in.GrantType {
	case "authorization_code":
		c, found := s.oa.codes[in.Code]
		delete(s.oa.codes, in.Code) // a code is single-use, even when the exchange fails
		if !found || now.After(c.expires) || c.redirectURI != in.RedirectURI {
			s.oa.stats.InvalidGrants++
			oauthError(w, http.StatusBadRequest, "invalid_grant", descInvalidGrant)
			return
		}
		grant = &oauthGrant{}
		s.oa.grants = append(s.oa.grants, grant)
		s.oa.stats.CodeExchanges++
	case "refresh_token":
		rt, found := s.oa.refresh[in.RefreshToken]
		if !found || rt.grant.revoked || (!rt.expires.IsZero() && now.After(rt.expires)) {
			s.oa.stats.InvalidGrants++
			oauthError(w, http.StatusBadRequest, "invalid_grant", descInvalidGrant)
			return
		}
		grant = rt.grant
		// Rotation: the refresh token is spent, and the access tokens it stood for die with it.
		delete(s.oa.refresh, in.RefreshToken)
		for k, v := range s.oa.access {
			if v.grant == grant {
				delete(s.oa.access, k)
			}
		}
		s.oa.stats.Refreshes++
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type",
			"The authorization grant type is not supported by the authorization server.")
		return
	}
	writeJSON(w, http.StatusOK, s.issueTokens(grant, in, now))
}

// issueTokens must be called with oa.mu held.
func (s *Server) issueTokens(grant *oauthGrant, in tokenRequest, now time.Time) []byte {
	opts := s.oauthOptions()
	access := opts.AccessLifetime
	if access <= 0 && in.ExpiresIn > 0 {
		access = min(max(time.Duration(in.ExpiresIn)*time.Second, 5*time.Minute), 48*time.Hour)
	}
	refresh := opts.RefreshLifetime
	if refresh <= 0 {
		refresh = 30 * 24 * time.Hour
		if in.RefreshTokenExpiresIn > 0 {
			refresh = min(max(time.Duration(in.RefreshTokenExpiresIn)*time.Second, 7*24*time.Hour), 90*24*time.Hour)
		}
	}
	at, rt := randomToken(), randomToken()
	a := oauthIssued{grant: grant}
	if access > 0 {
		a.expires = now.Add(access)
	}
	s.oa.access[at] = a
	s.oa.issued = append(s.oa.issued, at, rt)
	s.oa.refresh[rt] = oauthIssued{grant: grant, expires: now.Add(refresh)}
	out := map[string]any{"access_token": at, "token_type": "bearer", "scope": "read write",
		"refresh_token": rt, "refresh_token_expires_in": int64(refresh / time.Second)}
	if access > 0 {
		out["expires_in"] = int64(max(access/time.Second, 1))
	}
	b, _ := json.Marshal(out)
	return b
}

// oauthTokenOK says whether a Bearer token is a live access token issued by the OAuth endpoints.
func (s *Server) oauthTokenOK(token string) bool {
	s.oa.mu.Lock()
	defer s.oa.mu.Unlock()
	a, ok := s.oa.access[token]
	return ok && !a.grant.revoked && (a.expires.IsZero() || s.now().Before(a.expires))
}

// RevokeOAuthGrants revokes every grant, as a user removing the app's access in Zendesk does: the access tokens
// stop working and the next refresh is an invalid_grant.
func (s *Server) RevokeOAuthGrants() {
	s.oa.mu.Lock()
	defer s.oa.mu.Unlock()
	for _, g := range s.oa.grants {
		if !g.revoked {
			g.revoked = true
			s.oa.stats.Revocations++
		}
	}
}

// ExpireOAuthAccessTokens makes every access token issued so far expired, so the next API call draws a 401.
func (s *Server) ExpireOAuthAccessTokens() {
	s.oa.mu.Lock()
	defer s.oa.mu.Unlock()
	past := s.now().Add(-time.Second)
	for k, v := range s.oa.access {
		v.expires = past
		s.oa.access[k] = v
	}
}

// OAuthIssuedTokens returns every access and refresh token issued so far, so a test can check that none leaked.
func (s *Server) OAuthIssuedTokens() []string {
	s.oa.mu.Lock()
	defer s.oa.mu.Unlock()
	return append([]string(nil), s.oa.issued...)
}

// OAuthClient returns the id and secret of the simulator's OAuth client.
func (s *Server) OAuthClient() (id, secret string) {
	o := s.oauthOptions()
	return o.ClientID, o.ClientSecret
}

// OAuthStats returns what the OAuth endpoints did.
func (s *Server) OAuthStats() OAuthStats {
	s.oa.mu.Lock()
	defer s.oa.mu.Unlock()
	st := s.oa.stats
	for _, g := range s.oa.grants {
		if !g.revoked {
			st.LiveGrants++
		}
	}
	return st
}

// serveOAuthControl answers /_sim/oauth/{stats,revoke,expire}.
func (s *Server) serveOAuthControl(w http.ResponseWriter, r *http.Request) {
	ok := func(v any) {
		b, _ := json.Marshal(v)
		writeJSON(w, http.StatusOK, b)
	}
	switch p := strings.TrimPrefix(r.URL.Path, "/_sim/oauth/"); {
	case r.Method == http.MethodGet && p == "stats":
		ok(s.OAuthStats())
	case r.Method == http.MethodPost && p == "revoke":
		s.RevokeOAuthGrants()
		ok(s.OAuthStats())
	case r.Method == http.MethodPost && p == "expire":
		s.ExpireOAuthAccessTokens()
		ok(map[string]bool{"ok": true})
	default:
		writeJSON(w, http.StatusNotFound, []byte(`{"error":"InvalidEndpoint","description":"Not found"}`))
	}
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	writeJSON(w, status, b)
}
