package zendesk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/oauth2"
)

// TokenSource hands the client OAuth access tokens. Zendesk's access tokens expire and their refresh tokens are
// single-use, so whoever refreshes must make sure no two processes spend the same refresh token: that is the
// source's job (the worker serialises it on a PostgreSQL row lock), not the client's.
type TokenSource interface {
	// AccessToken returns a token to send now, refreshed first when it is about to expire.
	AccessToken(ctx context.Context) (string, error)
	// Rejected is told that Zendesk answered 401 to token and returns the token to retry with: one another caller
	// stored meanwhile, or a refreshed one.
	Rejected(ctx context.Context, token string) (string, error)
}

// OAuthScope is what the sync needs: it reads tickets and users and writes tickets.
const OAuthScope = "read write"

// Lifetimes the sync asks for. Zendesk issues expiring tokens only when asked (expires_in), defaults them to 30 min
// and 30 days, and takes 5 min–48 h and 7–90 days.
const (
	AccessTokenLifetime  = 30 * time.Minute
	RefreshTokenLifetime = 30 * 24 * time.Hour
)

// OAuthApp is an OAuth client registered in Zendesk (Admin Center → Apps and integrations → APIs → OAuth clients).
type OAuthApp struct {
	URL          string // the account, as for Config.URL
	ClientID     string // the client's "Identifier"
	ClientSecret string
	HTTPClient   *http.Client // optional
}

// OAuthTokens is what a token grant returned.
type OAuthTokens struct {
	AccessToken, RefreshToken   string
	AccessExpiry, RefreshExpiry time.Time // zero: Zendesk gave no lifetime
	IssuedAt                    time.Time
}

// OAuthGrantError is Zendesk's OAuth server refusing a grant, e.g. invalid_grant for a refresh token that was
// revoked, expired or already spent, or invalid_client for a wrong client secret. Only a new authorization helps.
type OAuthGrantError struct {
	StatusCode  int
	Code        string // "invalid_grant", "invalid_client", ...
	Description string
}

func (e *OAuthGrantError) Error() string {
	return fmt.Sprintf("zendesk: OAuth token request refused (HTTP %d, %s): %s", e.StatusCode, e.Code,
		orDefault(e.Description, "no details"))
}

func (a OAuthApp) config(redirectURI string) (*oauth2.Config, error) {
	base, err := NormalizeURL(a.URL)
	if err != nil {
		return nil, err
	}
	if a.ClientID == "" {
		return nil, errors.New("zendesk: OAuth client id is empty")
	}
	return &oauth2.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret, RedirectURL: redirectURI,
		Scopes: []string{"read", "write"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorizations/new", TokenURL: base + "/oauth/tokens",
			// Zendesk documents the client credentials as body parameters.
			AuthStyle: oauth2.AuthStyleInParams}}, nil
}

func (a OAuthApp) ctx(ctx context.Context) context.Context {
	hc := a.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}

// AuthorizeURL is the page where a Zendesk admin grants the sync access; Zendesk then redirects the browser to
// redirectURI with ?code=…&state=state.
func (a OAuthApp) AuthorizeURL(redirectURI, state string) (string, error) {
	c, err := a.config(redirectURI)
	if err != nil {
		return "", err
	}
	return c.AuthCodeURL(state), nil
}

// lifetimes asks Zendesk for expiring tokens (it issues them only when asked).
func lifetimes() []oauth2.AuthCodeOption {
	return []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("expires_in", strconv.Itoa(int(AccessTokenLifetime/time.Second))),
		oauth2.SetAuthURLParam("refresh_token_expires_in", strconv.Itoa(int(RefreshTokenLifetime/time.Second))),
		oauth2.SetAuthURLParam("scope", OAuthScope),
	}
}

// Exchange trades an authorization code for tokens (grant_type=authorization_code).
func (a OAuthApp) Exchange(ctx context.Context, code, redirectURI string) (*OAuthTokens, error) {
	c, err := a.config(redirectURI)
	if err != nil {
		return nil, err
	}
	tok, err := c.Exchange(a.ctx(ctx), code, lifetimes()...)
	if err != nil {
		return nil, grantError(err)
	}
	return tokensOf(tok)
}

// Refresh spends refreshToken for a new access token and a new refresh token (grant_type=refresh_token). The old
// refresh token is dead once Zendesk answers, whatever happens to the answer: store the new one before anything
// else.
func (a OAuthApp) Refresh(ctx context.Context, refreshToken string) (*OAuthTokens, error) {
	c, err := a.config("")
	if err != nil {
		return nil, err
	}
	tok, err := c.TokenSource(a.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, grantError(err)
	}
	return tokensOf(tok)
}

func tokensOf(tok *oauth2.Token) (*OAuthTokens, error) {
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		return nil, &MalformedResponseError{Endpoint: "/oauth/tokens",
			Err: errors.New("the answer lacks access_token or refresh_token")}
	}
	now := time.Now()
	out := &OAuthTokens{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, AccessExpiry: tok.Expiry,
		IssuedAt: now}
	if v, ok := tok.Extra("refresh_token_expires_in").(float64); ok && v > 0 {
		out.RefreshExpiry = now.Add(time.Duration(v) * time.Second)
	}
	return out, nil
}

// grantError keeps the OAuth error code and description of a refusal, and never the request (it holds secrets).
func grantError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if re.ErrorCode == "" {
			if status >= 500 || status == http.StatusTooManyRequests {
				return &ServerError{StatusCode: status, Message: "OAuth token endpoint unavailable"}
			}
			return &OAuthGrantError{StatusCode: status, Code: "unknown", Description: "Zendesk refused the token request"}
		}
		return &OAuthGrantError{StatusCode: status, Code: re.ErrorCode, Description: re.ErrorDescription}
	}
	return &NetworkError{Method: http.MethodPost, Path: "/oauth/tokens", Err: err}
}
