-- +goose NO TRANSACTION
-- Indexes for pruning (store/prune.go): each batch finds its expired rows through an index instead of scanning
-- the whole table. Built CONCURRENTLY, so upgrading a database with a large outbox does not block the CRM's
-- writes (the outbox is written by triggers on cases) while the index is built. Each index is dropped first in
-- case an interrupted earlier attempt left an invalid one behind; without a transaction, a failed run of this
-- file is simply run again.
-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS outbox_processed;
CREATE INDEX CONCURRENTLY outbox_processed ON outbox (processed_at) WHERE processed_at IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS conflicts_decided;
CREATE INDEX CONCURRENTLY conflicts_decided ON conflicts (decided_at);
DROP INDEX CONCURRENTLY IF EXISTS sync_failures_resolved;
CREATE INDEX CONCURRENTLY sync_failures_resolved ON sync_failures (resolved_at) WHERE resolved_at IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS outbox_processed;
DROP INDEX CONCURRENTLY IF EXISTS conflicts_decided;
DROP INDEX CONCURRENTLY IF EXISTS sync_failures_resolved;
