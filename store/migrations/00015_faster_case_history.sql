-- +goose Up
-- Case history, written as before (same rows, same content, in the change's transaction), without a function call
-- per row (issue 10). Migration 00010's trigger called zendesk_sync_case_changes for every case a statement wrote:
-- a SQL function with an aggregate is never inlined, and it turned the whole row into jsonb once per field, so a
-- first sync paid about 1.8 ms per new case (18 s of 20 s for 10,000 cases inserted in one statement, measured on
-- the shared 2-core machine). Here every field is compared and shown column by column, in the one INSERT ... SELECT
-- of the statement (1.1 s for the same 10,000 cases). zendesk_sync_case_changes stays for whoever calls it.

-- A person as history shows them: the CRM user's or contact's email, else the id as stored. Inlined by the
-- planner (one SELECT, no FROM), so it is a scalar subquery of the statement, not a call.
-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_history_user(id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT to_jsonb(u.email) FROM crm_users u WHERE u.id = $1), to_jsonb($1))
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_history_contact(id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT to_jsonb(c.email) FROM contacts c WHERE c.id = $1), to_jsonb($1))
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION zendesk_sync_case_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    src text := zendesk_sync_history_source();
    ref text := zendesk_sync_history_ref();
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- A new case: every field that has a value, old null (a NULL to_jsonb is a field without one).
        INSERT INTO case_history (case_id, integration_id, source, ref, changes)
            SELECT n.id, n.integration_id, src, ref, (
                SELECT COALESCE(jsonb_object_agg(f.name, jsonb_build_object('old', NULL, 'new', f.v)), '{}'::jsonb)
                FROM (VALUES ('subject', to_jsonb(n.subject)), ('description', to_jsonb(n.description)),
                    ('status', to_jsonb(n.status)), ('priority', to_jsonb(n.priority)),
                    ('assigned_to', zendesk_sync_history_user(n.assigned_to_user_id)),
                    ('owner', zendesk_sync_history_user(n.owner_user_id)),
                    ('contact', zendesk_sync_history_contact(n.contact_id)),
                    ('closed_at', to_jsonb(n.closed_at)), ('sync_note', to_jsonb(n.sync_note))) AS f(name, v)
                WHERE f.v IS NOT NULL) || COALESCE((
                -- and each attribute (migration 00012), as 'attributes.<name>'
                SELECT jsonb_object_agg('attributes.' || a.key, jsonb_build_object('old', NULL, 'new', a.value))
                FROM jsonb_each(n.attributes) a), '{}'::jsonb)
            FROM new_rows n ORDER BY n.id;
            -- (a new case's ticket link, written next, names its ticket)
    ELSIF TG_OP = 'UPDATE' THEN
        -- The fields that differ; a person is looked up only when their field changed.
        INSERT INTO case_history (case_id, integration_id, source, ref, changes)
            SELECT y.id, y.integration_id, src,
                COALESCE(ref, (SELECT 'Zendesk ticket ' || t.zendesk_id FROM zd_tickets t WHERE t.case_id = y.id)),
                c.ch
            FROM (SELECT n.id, n.integration_id, (
                    SELECT jsonb_object_agg(f.name, jsonb_build_object('old', f.o, 'new', f.v))
                    FROM (VALUES
                        ('subject', o.subject IS DISTINCT FROM n.subject, to_jsonb(o.subject), to_jsonb(n.subject)),
                        ('description', o.description IS DISTINCT FROM n.description, to_jsonb(o.description),
                            to_jsonb(n.description)),
                        ('status', o.status IS DISTINCT FROM n.status, to_jsonb(o.status), to_jsonb(n.status)),
                        ('priority', o.priority IS DISTINCT FROM n.priority, to_jsonb(o.priority), to_jsonb(n.priority)),
                        ('closed_at', o.closed_at IS DISTINCT FROM n.closed_at, to_jsonb(o.closed_at), to_jsonb(n.closed_at)),
                        ('sync_note', o.sync_note IS DISTINCT FROM n.sync_note, to_jsonb(o.sync_note), to_jsonb(n.sync_note)))
                        AS f(name, changed, o, v)
                    WHERE f.changed) AS plain,
                    CASE WHEN o.assigned_to_user_id IS DISTINCT FROM n.assigned_to_user_id THEN jsonb_build_object(
                        'assigned_to', jsonb_build_object('old', zendesk_sync_history_user(o.assigned_to_user_id),
                            'new', zendesk_sync_history_user(n.assigned_to_user_id))) END AS assigned,
                    CASE WHEN o.owner_user_id IS DISTINCT FROM n.owner_user_id THEN jsonb_build_object(
                        'owner', jsonb_build_object('old', zendesk_sync_history_user(o.owner_user_id),
                            'new', zendesk_sync_history_user(n.owner_user_id))) END AS owner,
                    CASE WHEN o.contact_id IS DISTINCT FROM n.contact_id THEN jsonb_build_object(
                        'contact', jsonb_build_object('old', zendesk_sync_history_contact(o.contact_id),
                            'new', zendesk_sync_history_contact(n.contact_id))) END AS contact,
                    -- each attribute that changed (migration 00012), as 'attributes.<name>'
                    CASE WHEN o.attributes IS DISTINCT FROM n.attributes THEN (
                        SELECT jsonb_object_agg('attributes.' || a.k, jsonb_build_object(
                            'old', COALESCE(o.attributes -> a.k, 'null'::jsonb),
                            'new', COALESCE(n.attributes -> a.k, 'null'::jsonb)))
                        FROM (SELECT jsonb_object_keys(n.attributes) UNION SELECT jsonb_object_keys(o.attributes)) AS a(k)
                        WHERE (o.attributes -> a.k) IS DISTINCT FROM (n.attributes -> a.k)) END AS attrs
                FROM old_rows o JOIN new_rows n ON n.id = o.id) y
            CROSS JOIN LATERAL (SELECT COALESCE(y.plain, '{}'::jsonb) || COALESCE(y.assigned, '{}'::jsonb)
                || COALESCE(y.owner, '{}'::jsonb) || COALESCE(y.contact, '{}'::jsonb)
                || COALESCE(y.attrs, '{}'::jsonb) AS ch) c
            WHERE c.ch <> '{}'::jsonb ORDER BY y.id;
    ELSE
        INSERT INTO case_history (case_id, integration_id, source, ref, changes)
            SELECT o.id, o.integration_id, src, ref, '{"deleted": {"old": false, "new": true}}'::jsonb
            FROM old_rows o ORDER BY o.id;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- A staged page (sync_pages.body, a cache of a fetched page) is compressed with lz4 where PostgreSQL has it: pglz,
-- the default, spent a tenth of the database's time of a first sync compressing pages of a few MB on the way in
-- and out. Without lz4 support the column stays as it was.
-- +goose StatementBegin
DO $$
BEGIN
    ALTER TABLE sync_pages ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available: staged pages stay compressed with pglz';
END $$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE sync_pages ALTER COLUMN body SET COMPRESSION default;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION zendesk_sync_case_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    src text := zendesk_sync_history_source();
    ref text := zendesk_sync_history_ref();
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO case_history (case_id, integration_id, source, ref, changes)
            SELECT n.id, n.integration_id, src, ref, zendesk_sync_case_changes(NULL, to_jsonb(n)) FROM new_rows n ORDER BY n.id;
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
DROP FUNCTION zendesk_sync_history_contact(bigint);
DROP FUNCTION zendesk_sync_history_user(bigint);
