-- +goose Up
-- Zendesk webhooks (issue 12): the webhook and trigger this integration registered in Zendesk, and the webhook's
-- signing secret, sealed with the deployment's key like the API token (never stored in plain text).
ALTER TABLE integrations
    ADD COLUMN webhook_id         text,
    ADD COLUMN webhook_trigger_id bigint,
    ADD COLUMN webhook_url        text,
    ADD COLUMN webhook_secret_enc bytea;

-- The signatures of the webhook calls accepted recently, so a replayed call is refused by whichever worker it
-- reaches. A call older than the receiver's window is refused on its timestamp alone, so a row is only needed
-- until then (expires_at); older rows are deleted as new calls come in.
CREATE TABLE webhook_calls (
    integration_id bigint      NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    signature      text        NOT NULL,
    expires_at     timestamptz NOT NULL,
    PRIMARY KEY (integration_id, signature)
);
CREATE INDEX webhook_calls_expires ON webhook_calls (expires_at);

-- +goose Down
DROP TABLE webhook_calls;
ALTER TABLE integrations
    DROP COLUMN webhook_secret_enc,
    DROP COLUMN webhook_url,
    DROP COLUMN webhook_trigger_id,
    DROP COLUMN webhook_id;
