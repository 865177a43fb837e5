-- +goose Up
-- OAuth (issue 12): an integration authenticates with an API token (auth = 'token', the sealed token in token_enc) or
-- with OAuth (auth = 'oauth': token_enc is empty and the credentials live in oauth_credentials).
ALTER TABLE integrations ADD COLUMN auth text NOT NULL DEFAULT 'token' CHECK (auth IN ('token', 'oauth'));

-- One row per OAuth integration: the registered client and the current grant. Everything secret is AES-GCM sealed
-- with the deployment's key (package secrets), like the API token. The row is also the refresh lock: Zendesk's
-- refresh tokens are single-use, so a worker refreshes only while holding this row FOR UPDATE, and after getting
-- it first re-reads what another worker may have stored.
CREATE TABLE oauth_credentials (
    integration_id       bigint PRIMARY KEY REFERENCES integrations(id) ON DELETE CASCADE,
    client_id            text NOT NULL,
    client_secret_enc    bytea NOT NULL,
    access_token_enc     bytea,       -- NULL until `starter integration connect`
    refresh_token_enc    bytea,
    access_expires_at    timestamptz, -- NULL: Zendesk gave no lifetime
    refresh_expires_at   timestamptz,
    issued_at            timestamptz, -- when the access token was issued (with access_expires_at: its lifetime)
    refreshes            bigint NOT NULL DEFAULT 0, -- refresh tokens spent since the last connect
    rejected_at          timestamptz, -- Zendesk refused the grant (revoked, expired): only a new connect helps
    rejected_reason      text,
    pending_redirect_uri text,        -- redirect_uri of the authorization in progress (the exchange must repeat it)
    connected_at         timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE oauth_credentials;
ALTER TABLE integrations DROP COLUMN auth;
