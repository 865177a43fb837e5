-- +goose Up
-- The newest generated_timestamp of the ticket pages applied in the current sync generation. When Zendesk refuses
-- the saved export cursor (400 "Invalid cursor": an account restore, a cursor it no longer knows), the ticket
-- stream restarts by time from here, minus an overlap, instead of retrying the refused cursor for ever. The
-- cursor export is ordered by generated_timestamp, so every ticket older than this has been read.
ALTER TABLE sync_state ADD COLUMN ticket_generated_max bigint NOT NULL DEFAULT 0;
UPDATE sync_state s SET ticket_generated_max = COALESCE((SELECT max(t.generated_timestamp) FROM zd_tickets t
    WHERE t.integration_id = s.integration_id AND t.sync_generation = s.generation), 0);

-- +goose Down
ALTER TABLE sync_state DROP COLUMN ticket_generated_max;
