-- +goose Up
-- Look back (issue 13): every change of a case and of its ticket link, with its source, and a record of every sync
-- pass. Both tables are append-only bookkeeping, pruned after RETENTION (store/history_prune.go).
--
-- case_history is written by the database itself, in the transaction of the change: statement-level triggers on
-- cases and zd_tickets compare the old and new rows, so no writer (the sync, `starter`, the CRM, plain SQL) can
-- change a case without leaving its row. The source comes from transaction-local settings the store sets at the
-- start of each of its write transactions (store.markSource): zendesk_sync.source (import, push, conflict, local,
-- publish) and zendesk_sync.ref. Unset means a local edit, whose ref is the database user and, when the session
-- names one, its application (`starter` names itself). No foreign key to cases: the history of a deleted case
-- stays readable (its last row says it was deleted) until it expires.
CREATE TABLE case_history (
    id             bigserial PRIMARY KEY,
    case_id        bigint NOT NULL,
    integration_id bigint,
    -- The writing transaction: the rows one transaction wrote for a case are read back as one change.
    tx             bigint NOT NULL DEFAULT txid_current(),
    at             timestamptz NOT NULL DEFAULT now(),
    source         text NOT NULL CHECK (source IN ('import', 'push', 'conflict', 'local', 'publish')),
    ref            text,
    -- {field: {"old": value, "new": value}}; people are shown by email.
    changes        jsonb NOT NULL
);
CREATE INDEX case_history_case ON case_history (case_id, id);
CREATE INDEX case_history_at ON case_history (at);

-- Append-only: a row is never rewritten (pruning deletes whole rows once they expire).
-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_history is append-only';
END $$;
-- +goose StatementEnd
CREATE TRIGGER case_history_append_only BEFORE UPDATE ON case_history
    FOR EACH ROW EXECUTE FUNCTION zendesk_sync_history_append_only();

-- The source and ref of the running transaction's writes.
-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_history_source() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT COALESCE(NULLIF(current_setting('zendesk_sync.source', true), ''), 'local')
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_history_ref() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN NULLIF(current_setting('zendesk_sync.source', true), '') IS NULL
        THEN current_user || COALESCE(' via ' || NULLIF(current_setting('application_name', true), ''), '')
        ELSE NULLIF(current_setting('zendesk_sync.ref', true), '') END
$$;
-- +goose StatementEnd

-- A field's value as history shows it: people by email, everything else as stored.
-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_history_value(kind text, v jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN v IS NULL OR v = 'null'::jsonb THEN 'null'::jsonb
        WHEN kind = 'user' THEN COALESCE((SELECT to_jsonb(email) FROM crm_users WHERE id = (v #>> '{}')::bigint), v)
        WHEN kind = 'contact' THEN COALESCE((SELECT to_jsonb(email) FROM contacts WHERE id = (v #>> '{}')::bigint), v)
        ELSE v END
$$;
-- +goose StatementEnd

-- The fields that differ between two versions of a case row (o is NULL for a new case).
-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_case_changes(o jsonb, n jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT COALESCE(jsonb_object_agg(f.name, jsonb_build_object(
            'old', zendesk_sync_history_value(f.kind, o -> f.col),
            'new', zendesk_sync_history_value(f.kind, n -> f.col))), '{}'::jsonb)
    FROM (VALUES ('subject', 'subject', ''), ('description', 'description', ''), ('status', 'status', ''),
        ('priority', 'priority', ''), ('assigned_to', 'assigned_to_user_id', 'user'), ('owner', 'owner_user_id', 'user'),
        ('contact', 'contact_id', 'contact'), ('closed_at', 'closed_at', ''), ('sync_note', 'sync_note', ''))
        AS f(name, col, kind)
    WHERE COALESCE(o -> f.col, 'null'::jsonb) IS DISTINCT FROM COALESCE(n -> f.col, 'null'::jsonb)
$$;
-- +goose StatementEnd

-- Statement-level, with transition tables: one INSERT per statement, however many cases a page writes. A sync write
-- without a ref names the case's ticket.
-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_case_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    src text := zendesk_sync_history_source();
    ref text := zendesk_sync_history_ref();
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO case_history (case_id, integration_id, source, ref, changes)
            SELECT n.id, n.integration_id, src, ref, zendesk_sync_case_changes(NULL, to_jsonb(n)) FROM new_rows n ORDER BY n.id;
            -- (a new case's ticket link, written next, names its ticket)
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO case_history (case_id, integration_id, source, ref, changes)
            SELECT id, integration_id, src,
                COALESCE(ref, (SELECT 'Zendesk ticket ' || t.zendesk_id FROM zd_tickets t WHERE t.case_id = x.id)), ch FROM (
                SELECT n.id, n.integration_id, zendesk_sync_case_changes(to_jsonb(o), to_jsonb(n)) AS ch
                FROM old_rows o JOIN new_rows n ON n.id = o.id) x
            WHERE ch <> '{}'::jsonb ORDER BY id;
    ELSE
        INSERT INTO case_history (case_id, integration_id, source, ref, changes)
            SELECT o.id, o.integration_id, src, ref, '{"deleted": {"old": false, "new": true}}'::jsonb
            FROM old_rows o ORDER BY o.id;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER cases_history_insert AFTER INSERT ON cases REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zendesk_sync_case_history();
CREATE TRIGGER cases_history_update AFTER UPDATE ON cases REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zendesk_sync_case_history();
CREATE TRIGGER cases_history_delete AFTER DELETE ON cases REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zendesk_sync_case_history();

-- The ticket link: a case gets (or loses) its Zendesk ticket. For the sync's writes the ref names the ticket.
-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_ticket_link_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    src text := zendesk_sync_history_source();
    ref text := zendesk_sync_history_ref();
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO case_history (case_id, integration_id, source, ref, changes)
            SELECT n.case_id, n.integration_id, src, COALESCE(ref, 'Zendesk ticket ' || n.zendesk_id),
                jsonb_build_object('ticket', jsonb_build_object('old', NULL, 'new', n.zendesk_id))
            FROM new_rows n WHERE n.case_id IS NOT NULL ORDER BY n.case_id;
    ELSE
        INSERT INTO case_history (case_id, integration_id, source, ref, changes)
            SELECT x.case_id, x.integration_id, src, COALESCE(ref, 'Zendesk ticket ' || x.zendesk_id),
                jsonb_build_object('ticket', jsonb_build_object('old', x.old_ticket, 'new', x.new_ticket))
            FROM (SELECT n.case_id, n.integration_id, n.zendesk_id, NULL::bigint AS old_ticket, n.zendesk_id AS new_ticket
                    FROM old_rows o JOIN new_rows n USING (integration_id, zendesk_id)
                    WHERE n.case_id IS NOT NULL AND n.case_id IS DISTINCT FROM o.case_id
                UNION ALL
                SELECT o.case_id, o.integration_id, o.zendesk_id, o.zendesk_id, NULL
                    FROM old_rows o JOIN new_rows n USING (integration_id, zendesk_id)
                    WHERE o.case_id IS NOT NULL AND n.case_id IS DISTINCT FROM o.case_id) x
            ORDER BY x.case_id;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER zd_tickets_link_insert AFTER INSERT ON zd_tickets REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zendesk_sync_ticket_link_history();
CREATE TRIGGER zd_tickets_link_update AFTER UPDATE ON zd_tickets REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zendesk_sync_ticket_link_history();

-- A conflict decision is part of its case's history: both values, the winner and the rule that decided.
-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_conflict_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO case_history (case_id, integration_id, source, ref, changes)
        SELECT n.case_id, n.integration_id, 'conflict',
            format('Zendesk ticket %s: %s changed on both sides; %s wins (the integration''s sync priority is %s)',
                n.ticket_id, n.field, n.winner, COALESCE(i.priority, n.winner)),
            jsonb_build_object(n.field, jsonb_build_object(
                'old', zendesk_sync_history_value(CASE WHEN n.field IN ('owner', 'assigned_to') THEN 'user'
                    WHEN n.field = 'contact' THEN 'contact' ELSE '' END, to_jsonb(NULLIF(n.local_value, ''))),
                'new', zendesk_sync_history_value(CASE WHEN n.field IN ('owner', 'assigned_to') THEN 'user'
                    WHEN n.field = 'contact' THEN 'contact' ELSE '' END,
                    to_jsonb(NULLIF(CASE WHEN n.winner = 'local' THEN n.local_value ELSE n.remote_value END, ''))),
                'local', to_jsonb(n.local_value), 'remote', to_jsonb(n.remote_value), 'base', to_jsonb(n.base_value),
                'winner', n.winner))
        FROM new_rows n LEFT JOIN integrations i ON i.id = n.integration_id
        WHERE n.case_id IS NOT NULL ORDER BY n.id;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER conflicts_history AFTER INSERT ON conflicts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION zendesk_sync_conflict_history();

-- One row per sync pass: opened by the pass's first step (its SyncPosition activity), closed by its last (EndSync,
-- or RecordError when it failed). A pass that continues in the next workflow run stays one row. The counts are the
-- difference of the integration's progress counters between the start and the end; requests are counted by the
-- worker's Zendesk client as they are sent.
CREATE TABLE sync_passes (
    id             bigserial PRIMARY KEY,
    integration_id bigint NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    generation     integer NOT NULL,
    first_sync     boolean NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    ended_at       timestamptz,
    -- The progress counters (sync_state) when the pass started, to count what it did.
    start_counters jsonb NOT NULL,
    requests       bigint NOT NULL DEFAULT 0,
    tickets        bigint NOT NULL DEFAULT 0,
    cases_created  bigint NOT NULL DEFAULT 0,
    cases_updated  bigint NOT NULL DEFAULT 0,
    comments       bigint NOT NULL DEFAULT 0,
    failures       bigint NOT NULL DEFAULT 0,
    error          text
);
CREATE INDEX sync_passes_integration ON sync_passes (integration_id, started_at);
CREATE UNIQUE INDEX sync_passes_open ON sync_passes (integration_id) WHERE ended_at IS NULL;
CREATE INDEX sync_passes_ended ON sync_passes (ended_at) WHERE ended_at IS NOT NULL;

-- +goose Down
DROP TABLE sync_passes;
DROP TRIGGER conflicts_history ON conflicts;
DROP FUNCTION zendesk_sync_conflict_history();
DROP TRIGGER zd_tickets_link_update ON zd_tickets;
DROP TRIGGER zd_tickets_link_insert ON zd_tickets;
DROP FUNCTION zendesk_sync_ticket_link_history();
DROP TRIGGER cases_history_delete ON cases;
DROP TRIGGER cases_history_update ON cases;
DROP TRIGGER cases_history_insert ON cases;
DROP FUNCTION zendesk_sync_case_history();
DROP FUNCTION zendesk_sync_case_changes(jsonb, jsonb);
DROP FUNCTION zendesk_sync_history_value(text, jsonb);
DROP FUNCTION zendesk_sync_history_ref();
DROP FUNCTION zendesk_sync_history_source();
DROP TABLE case_history;
DROP FUNCTION zendesk_sync_history_append_only();
