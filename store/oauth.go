package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Auth kinds of an integration (integrations.auth).
const (
	AuthToken = "token"
	AuthOAuth = "oauth"
)

// OAuthClient is the OAuth client an integration authorizes with; the secret is sealed by package secrets.
type OAuthClient struct {
	ClientID        string
	ClientSecretEnc []byte
}

// OAuthCredential is an OAuth integration's row: its client and current grant, every secret sealed.
type OAuthCredential struct {
	IntegrationID      int64          `db:"integration_id"`
	ClientID           string         `db:"client_id"`
	ClientSecretEnc    []byte         `db:"client_secret_enc"`
	AccessTokenEnc     []byte         `db:"access_token_enc"`
	RefreshTokenEnc    []byte         `db:"refresh_token_enc"`
	AccessExpiresAt    sql.NullTime   `db:"access_expires_at"`
	RefreshExpiresAt   sql.NullTime   `db:"refresh_expires_at"`
	IssuedAt           sql.NullTime   `db:"issued_at"`
	Refreshes          int64          `db:"refreshes"`
	RejectedAt         sql.NullTime   `db:"rejected_at"`
	RejectedReason     sql.NullString `db:"rejected_reason"`
	PendingRedirectURI sql.NullString `db:"pending_redirect_uri"`
	ConnectedAt        sql.NullTime   `db:"connected_at"`
}

// Connected says whether a grant is stored (connect ran since the client was set).
func (c *OAuthCredential) Connected() bool { return len(c.RefreshTokenEnc) > 0 }

// OAuthGrant is a grant's sealed tokens, as a token request returned them.
type OAuthGrant struct {
	AccessTokenEnc, RefreshTokenEnc []byte
	AccessExpiresAt                 time.Time // zero: no lifetime given
	RefreshExpiresAt                time.Time
	IssuedAt                        time.Time
}

const oauthCols = `integration_id, client_id, client_secret_enc, access_token_enc, refresh_token_enc, access_expires_at,
	refresh_expires_at, issued_at, refreshes, rejected_at, rejected_reason, pending_redirect_uri, connected_at`

// OAuthCredential loads the integration's OAuth row.
func (s *Store) OAuthCredential(ctx context.Context, integrationID int64) (*OAuthCredential, error) {
	var c OAuthCredential
	err := s.DB.GetContext(ctx, &c, `SELECT `+oauthCols+` FROM oauth_credentials WHERE integration_id = $1`,
		integrationID)
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("OAuth credentials of integration %d", integrationID))
	}
	return &c, nil
}

// SetOAuthPending records the redirect_uri of an authorization in progress, so that the code's exchange (perhaps
// from another process, `connect --code`) repeats it as Zendesk requires.
func (s *Store) SetOAuthPending(ctx context.Context, integrationID int64, redirectURI string) error {
	res, err := s.DB.ExecContext(ctx, `UPDATE oauth_credentials SET pending_redirect_uri = $2, updated_at = now()
		WHERE integration_id = $1`, integrationID, redirectURI)
	if err != nil {
		return fmt.Errorf("record the pending OAuth authorization: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("OAuth credentials of integration %d: %w", integrationID, ErrNotFound)
	}
	return nil
}

// ConnectOAuth stores a new grant from `connect`: it clears a rejection and bumps the integration's
// settings_version, so workers rebuild their client and parked local changes resume (as after `integration edit`).
func (s *Store) ConnectOAuth(ctx context.Context, integrationID int64, g OAuthGrant) error {
	return s.InTx(ctx, func(tx *sqlxTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE oauth_credentials SET access_token_enc = $2, refresh_token_enc = $3,
			access_expires_at = $4, refresh_expires_at = $5, issued_at = $6, refreshes = 0, rejected_at = NULL,
			rejected_reason = NULL, pending_redirect_uri = NULL, connected_at = now(), updated_at = now()
			WHERE integration_id = $1`, integrationID, g.AccessTokenEnc, g.RefreshTokenEnc, nullTime(g.AccessExpiresAt),
			nullTime(g.RefreshExpiresAt), nullTime(g.IssuedAt))
		if err != nil {
			return fmt.Errorf("store the OAuth grant: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("OAuth credentials of integration %d: %w", integrationID, ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `UPDATE integrations SET settings_version = settings_version + 1,
			updated_at = now() WHERE id = $1`, integrationID)
		return err
	})
}

// OAuthLocked is what a caller holding the OAuth row lock decides: a refreshed grant to store, or a rejection.
type OAuthLocked struct {
	Refreshed *OAuthGrant
	Rejected  string // the reason Zendesk refused the grant
}

// WithOAuthLock runs fn on the integration's OAuth row locked FOR UPDATE and stores what it decided, in one
// transaction. Zendesk's refresh tokens are single-use: the lock makes sure two workers never spend the same one, and
// fn sees what the previous holder stored. fn's error rolls back; a refreshed grant must not be lost, so fn returns
// it rather than an error once Zendesk has answered.
func (s *Store) WithOAuthLock(ctx context.Context, integrationID int64,
	fn func(c *OAuthCredential) (OAuthLocked, error)) error {
	return s.InTx(ctx, func(tx *sqlxTx) error {
		var c OAuthCredential
		err := tx.GetContext(ctx, &c, `SELECT `+oauthCols+` FROM oauth_credentials WHERE integration_id = $1
			FOR UPDATE`, integrationID)
		if err != nil {
			return notFound(err, fmt.Sprintf("OAuth credentials of integration %d", integrationID))
		}
		out, err := fn(&c)
		if err != nil {
			return err
		}
		switch {
		case out.Refreshed != nil:
			g := out.Refreshed
			_, err = tx.ExecContext(ctx, `UPDATE oauth_credentials SET access_token_enc = $2, refresh_token_enc = $3,
				access_expires_at = $4, refresh_expires_at = $5, issued_at = $6, refreshes = refreshes + 1,
				updated_at = now() WHERE integration_id = $1`, integrationID, g.AccessTokenEnc, g.RefreshTokenEnc,
				nullTime(g.AccessExpiresAt), nullTime(g.RefreshExpiresAt), nullTime(g.IssuedAt))
		case out.Rejected != "":
			_, err = tx.ExecContext(ctx, `UPDATE oauth_credentials SET rejected_at = now(), rejected_reason = $2,
				updated_at = now() WHERE integration_id = $1`, integrationID, out.Rejected)
		}
		if err != nil {
			return fmt.Errorf("store the refreshed OAuth grant: %w", err)
		}
		return nil
	})
}

func nullTime(t time.Time) sql.NullTime {
	return sql.NullTime{Time: t, Valid: !t.IsZero()}
}
