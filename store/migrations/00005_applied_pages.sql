-- +goose Up
-- What each recently applied page added to the progress counters, so a retried apply (its first completion lost)
-- can report them instead of zeros. Only the last few pages of each stream are kept: a retry only ever concerns
-- the page just applied, and ApplyPage prunes the older records in the transaction that adds a new one. Unlike
-- sync_pages this table is logged: a record must survive a crash between the apply and its retry.
CREATE TABLE applied_pages (
    integration_id bigint NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('tickets', 'comments')),
    generation     integer NOT NULL,
    from_pos       text NOT NULL,
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    counters       jsonb NOT NULL,
    applied_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, kind, generation, from_pos)
);
CREATE INDEX applied_pages_stream ON applied_pages (integration_id, kind, seq);

-- +goose Down
DROP TABLE applied_pages;
