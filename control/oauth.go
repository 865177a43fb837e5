package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/internal/oauthtoken"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

func authOf(in *store.Integration) string {
	if in.Auth == "" {
		return store.AuthToken
	}
	return in.Auth
}

// oauthClient validates the OAuth part of a create and seals the client secret; nil for a token integration.
func (c *Control) oauthClient(s IntegrationSpec) (*store.OAuthClient, error) {
	switch s.Auth {
	case "", store.AuthToken:
		if s.OAuthClientID != "" {
			return nil, invalidf("--oauth-client-id needs --auth oauth")
		}
		return nil, nil
	case store.AuthOAuth:
	default:
		return nil, invalidf("--auth must be token or oauth, not %q", s.Auth)
	}
	if s.Token != "" {
		return nil, invalidf("--token and --auth oauth exclude each other: OAuth integrations get their tokens from `starter integration connect`")
	}
	if strings.TrimSpace(s.OAuthClientID) == "" {
		return nil, invalidf("--auth oauth needs --oauth-client-id (the OAuth client's identifier in Zendesk)")
	}
	if strings.TrimSpace(s.OAuthClientSecret) == "" {
		return nil, invalidf("--auth oauth needs the client secret: set ZENDESK_OAUTH_CLIENT_SECRET or --oauth-client-secret-file")
	}
	k, err := c.key()
	if err != nil {
		return nil, err
	}
	sealed, err := k.Seal(strings.TrimSpace(s.OAuthClientSecret))
	if err != nil {
		return nil, err
	}
	return &store.OAuthClient{ClientID: strings.TrimSpace(s.OAuthClientID), ClientSecretEnc: sealed}, nil
}

// oauthIntegration loads an OAuth integration and its credentials row.
func (c *Control) oauthIntegration(ctx context.Context, name string) (*store.Integration, *store.OAuthCredential, error) {
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if in.Auth != store.AuthOAuth {
		return nil, nil, fmt.Errorf("integration %q uses an API token, not OAuth (change its token with `starter integration edit %s --token ...`)", name, name)
	}
	cred, err := c.Store.OAuthCredential(ctx, in.ID)
	if err != nil {
		return nil, nil, err
	}
	return in, cred, nil
}

// ConnectBegin starts an authorization: it records redirectURI (the exchange must repeat it) and returns the URL
// where a Zendesk admin grants access, and the state Zendesk will send back with the code.
func (c *Control) ConnectBegin(ctx context.Context, name, redirectURI string) (authURL, state string, err error) {
	in, cred, err := c.oauthIntegration(ctx, name)
	if err != nil {
		return "", "", err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("make the OAuth state: %w", err)
	}
	state = hex.EncodeToString(b)
	app := zendesk.OAuthApp{URL: in.URL, ClientID: cred.ClientID}
	if authURL, err = app.AuthorizeURL(redirectURI, state); err != nil {
		return "", "", err
	}
	if err := c.Store.SetOAuthPending(ctx, in.ID, redirectURI); err != nil {
		return "", "", err
	}
	return authURL, state, nil
}

// ConnectFinish exchanges the authorization code for tokens, stores them sealed and tells a running workflow, so a
// sync stopped by a refused grant resumes by itself.
func (c *Control) ConnectFinish(ctx context.Context, name, code string) error {
	in, cred, err := c.oauthIntegration(ctx, name)
	if err != nil {
		return err
	}
	if strings.TrimSpace(code) == "" {
		return invalidf("--code must not be empty")
	}
	if !cred.PendingRedirectURI.Valid {
		return fmt.Errorf("no authorization of %q is in progress: run `starter integration connect %s` first, "+
			"open the URL it prints, then give the code", name, name)
	}
	k, err := c.key()
	if err != nil {
		return err
	}
	secret, err := k.Open(cred.ClientSecretEnc)
	if err != nil {
		return fmt.Errorf("open the OAuth client secret of %q: %w", name, err)
	}
	app := zendesk.OAuthApp{URL: in.URL, ClientID: cred.ClientID, ClientSecret: secret, HTTPClient: c.HTTPClient}
	t, err := app.Exchange(ctx, strings.TrimSpace(code), cred.PendingRedirectURI.String)
	var ge *zendesk.OAuthGrantError
	if errors.As(err, &ge) && ge.Code == "invalid_grant" {
		return fmt.Errorf("connect %q: Zendesk refused the code (used already, expired, or from another authorization): "+
			"run `starter integration connect %s` again: %w", name, name, err)
	}
	if err != nil {
		return fmt.Errorf("connect %q: %w", name, err)
	}
	g, err := oauthtoken.Seal(k, t)
	if err != nil {
		return err
	}
	if err := c.Store.ConnectOAuth(ctx, in.ID, *g); err != nil {
		return err
	}
	if in.Active {
		return c.signal(ctx, in.ID, contract.SignalSettingsChanged)
	}
	return nil
}
