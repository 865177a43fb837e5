-- +goose Up
-- A digest of the ticket exactly as Zendesk last sent it. `updated_at` has whole-second resolution, so two edits of
-- one ticket inside one second give the same `updated_at`: comparing it alone took the second edit for a ticket
-- already synced, and lost it. Comparing the digest of the (cleaned) payload tells any change apart. NULL for rows
-- written before this column existed: they are compared the old way until their ticket changes once.
ALTER TABLE zd_tickets ADD COLUMN raw_digest text;

-- +goose Down
ALTER TABLE zd_tickets DROP COLUMN raw_digest;
