// Package oauthtoken keeps an OAuth integration's access token fresh for the Zendesk client, across processes.
//
// Zendesk's refresh tokens are single-use and rotate: a refresh returns a new refresh token and kills the old one
// (and the old access token). Two workers refreshing at once would spend the same token twice, and the loser's
// grant would look revoked. So a refresh happens only under the integration's oauth_credentials row lock, and the
// holder first re-reads the row: when another process stored a fresh token meanwhile, that one is used instead.
package oauthtoken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// maxMargin bounds how long before its expiry a token is refreshed: early enough that a request sent with it does
// not arrive after it died, late enough to spend few refreshes.
const maxMargin = 2 * time.Minute

// Source is a zendesk.TokenSource for one OAuth integration. It is safe for concurrent use; one Source per
// process and integration keeps refreshes down to one per expiry.
type Source struct {
	st            *store.Store
	key           *secrets.Key
	url           string
	integrationID int64
	hc            *http.Client

	mu     sync.Mutex
	access string
	expiry time.Time // zero: no lifetime
	issued time.Time
}

// New returns the Source of the integration; it reads nothing yet.
func New(st *store.Store, key *secrets.Key, in *store.Integration, hc *http.Client) *Source {
	return &Source{st: st, key: key, url: in.URL, integrationID: in.ID, hc: hc}
}

// fresh says whether a token issued at issued and expiring at expiry may still be sent.
func fresh(expiry, issued, now time.Time) bool {
	if expiry.IsZero() {
		return true
	}
	margin := maxMargin
	if !issued.IsZero() {
		margin = min(margin, expiry.Sub(issued)/5)
	}
	return now.Before(expiry.Add(-margin))
}

// AccessToken returns the access token to send, refreshing it first when it is about to expire.
func (s *Source) AccessToken(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.access != "" && fresh(s.expiry, s.issued, time.Now()) {
		return s.access, nil
	}
	return s.renew(ctx, s.access)
}

// Rejected is told that Zendesk refused token (a 401): it returns a token another caller stored since, or a
// refreshed one.
func (s *Source) Rejected(ctx context.Context, token string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.access != "" && s.access != token && fresh(s.expiry, s.issued, time.Now()) {
		return s.access, nil
	}
	return s.renew(ctx, token)
}

// renew runs under the row lock: it adopts a fresh token stored by someone else (anything but stale), else spends
// the refresh token. Must be called with s.mu held.
func (s *Source) renew(ctx context.Context, stale string) (string, error) {
	var refused error
	err := s.st.WithOAuthLock(ctx, s.integrationID, func(c *store.OAuthCredential) (store.OAuthLocked, error) {
		if !c.Connected() {
			return store.OAuthLocked{}, &zendesk.OAuthGrantError{Code: "not_connected",
				Description: "no OAuth grant stored yet"}
		}
		if c.RejectedAt.Valid {
			return store.OAuthLocked{}, &zendesk.OAuthGrantError{Code: "rejected", Description: c.RejectedReason.String}
		}
		access, err := s.key.Open(c.AccessTokenEnc)
		if err != nil {
			return store.OAuthLocked{}, fmt.Errorf("open the stored OAuth access token: %w", err)
		}
		if access != stale && fresh(c.AccessExpiresAt.Time, c.IssuedAt.Time, time.Now()) {
			s.access, s.expiry, s.issued = access, c.AccessExpiresAt.Time, c.IssuedAt.Time
			return store.OAuthLocked{}, nil
		}
		g, err := s.refresh(ctx, c)
		var ge *zendesk.OAuthGrantError
		if errors.As(err, &ge) {
			// Stored, so that no other worker tries the dead grant again and every one reports it alike.
			refused = ge
			return store.OAuthLocked{Rejected: ge.Code + ": " + ge.Description}, nil
		}
		if err != nil {
			return store.OAuthLocked{}, err
		}
		return store.OAuthLocked{Refreshed: g}, nil
	})
	if err != nil {
		return "", err
	}
	if refused != nil {
		return "", refused
	}
	return s.access, nil
}

// refresh spends the stored refresh token and returns the new grant, sealed; it also takes the new access token.
func (s *Source) refresh(ctx context.Context, c *store.OAuthCredential) (*store.OAuthGrant, error) {
	secret, err := s.key.Open(c.ClientSecretEnc)
	if err != nil {
		return nil, fmt.Errorf("open the stored OAuth client secret: %w", err)
	}
	rt, err := s.key.Open(c.RefreshTokenEnc)
	if err != nil {
		return nil, fmt.Errorf("open the stored OAuth refresh token: %w", err)
	}
	app := zendesk.OAuthApp{URL: s.url, ClientID: c.ClientID, ClientSecret: secret, HTTPClient: s.hc}
	t, err := app.Refresh(ctx, rt)
	if err != nil {
		return nil, err
	}
	g, err := Seal(s.key, t)
	if err != nil {
		return nil, err
	}
	s.access, s.expiry, s.issued = t.AccessToken, t.AccessExpiry, t.IssuedAt
	return g, nil
}

// Seal seals a token grant's answer for storage.
func Seal(key *secrets.Key, t *zendesk.OAuthTokens) (*store.OAuthGrant, error) {
	at, err := key.Seal(t.AccessToken)
	if err != nil {
		return nil, err
	}
	rt, err := key.Seal(t.RefreshToken)
	if err != nil {
		return nil, err
	}
	return &store.OAuthGrant{AccessTokenEnc: at, RefreshTokenEnc: rt, AccessExpiresAt: t.AccessExpiry,
		RefreshExpiresAt: t.RefreshExpiry, IssuedAt: t.IssuedAt}, nil
}
