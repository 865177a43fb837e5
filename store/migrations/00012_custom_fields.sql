-- +goose Up
-- Custom fields and tags (issue 13).
--
-- cases.attributes holds a case's attributes: a JSON object of name → value (a string, number, boolean or array,
-- never null: an attribute without a value is absent). The integration's mapping derives them from the ticket's
-- custom fields and tags (direction import or both) and pushes CRM edits of them back (push or both). The CRM may
-- keep attributes of its own there too: the sync only ever writes the names its mapping maps.
ALTER TABLE cases ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}'
    CONSTRAINT cases_attributes_object CHECK (jsonb_typeof(attributes) = 'object');

-- The integration's mapping: as the worker reads it (mapping, the parsed file as JSON, mapping.Mapping) and as
-- the user wrote it (mapping_source, the YAML file, comments included, shown by `integration show`). NULL: none.
ALTER TABLE integrations ADD COLUMN mapping jsonb, ADD COLUMN mapping_source text;

-- A CRM edit of an attribute is recorded for the push like any field, per attribute ('attributes.<name>').
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION zendesk_sync_capture_case() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text[] := '{}';
    parked text;
BEGIN
    IF current_setting('zendesk_sync.origin', true) = 'sync' OR NEW.integration_id IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT i.outbox_parked INTO parked FROM integrations i WHERE i.id = NEW.integration_id AND i.two_way;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.subject IS DISTINCT FROM OLD.subject THEN changed := array_append(changed, 'subject'); END IF;
        IF NEW.description IS DISTINCT FROM OLD.description THEN changed := array_append(changed, 'description'); END IF;
        IF NEW.status IS DISTINCT FROM OLD.status THEN changed := array_append(changed, 'status'); END IF;
        IF NEW.priority IS DISTINCT FROM OLD.priority THEN changed := array_append(changed, 'priority'); END IF;
        IF NEW.assigned_to_user_id IS DISTINCT FROM OLD.assigned_to_user_id THEN changed := array_append(changed, 'assigned_to'); END IF;
        IF NEW.owner_user_id IS DISTINCT FROM OLD.owner_user_id THEN changed := array_append(changed, 'owner'); END IF;
        IF NEW.contact_id IS DISTINCT FROM OLD.contact_id THEN changed := array_append(changed, 'contact'); END IF;
        IF NEW.attributes IS DISTINCT FROM OLD.attributes THEN
            changed := changed || ARRAY(SELECT 'attributes.' || k
                FROM (SELECT jsonb_object_keys(NEW.attributes) UNION SELECT jsonb_object_keys(OLD.attributes)) AS x(k)
                WHERE NEW.attributes -> k IS DISTINCT FROM OLD.attributes -> k ORDER BY k);
        END IF;
        IF cardinality(changed) = 0 THEN
            RETURN NULL;
        END IF;
    ELSE
        changed := ARRAY['subject', 'description', 'status', 'priority', 'assigned_to', 'owner', 'contact'];
    END IF;
    INSERT INTO outbox (integration_id, case_id, fields, parked_at, park_reason)
        VALUES (NEW.integration_id, NEW.id, changed, CASE WHEN parked IS NOT NULL THEN now() END, parked);
    IF parked IS NULL THEN
        PERFORM pg_notify('zendesk_sync_outbox', NEW.integration_id::text);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- A case's history (migration 00010) names each attribute that changed, as 'attributes.<name>'.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION zendesk_sync_case_changes(o jsonb, n jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT COALESCE(jsonb_object_agg(x.name, x.change), '{}'::jsonb) FROM (
        SELECT f.name, jsonb_build_object('old', zendesk_sync_history_value(f.kind, o -> f.col),
                'new', zendesk_sync_history_value(f.kind, n -> f.col)) AS change
        FROM (VALUES ('subject', 'subject', ''), ('description', 'description', ''), ('status', 'status', ''),
            ('priority', 'priority', ''), ('assigned_to', 'assigned_to_user_id', 'user'), ('owner', 'owner_user_id', 'user'),
            ('contact', 'contact_id', 'contact'), ('closed_at', 'closed_at', ''), ('sync_note', 'sync_note', ''))
            AS f(name, col, kind)
        WHERE COALESCE(o -> f.col, 'null'::jsonb) IS DISTINCT FROM COALESCE(n -> f.col, 'null'::jsonb)
        UNION ALL
        SELECT 'attributes.' || a.k, jsonb_build_object('old', COALESCE(o -> 'attributes' -> a.k, 'null'::jsonb),
                'new', COALESCE(n -> 'attributes' -> a.k, 'null'::jsonb))
        FROM (SELECT jsonb_object_keys(COALESCE(n -> 'attributes', '{}'::jsonb))
            UNION SELECT jsonb_object_keys(COALESCE(o -> 'attributes', '{}'::jsonb))) AS a(k)
        WHERE COALESCE(o -> 'attributes', '{}'::jsonb) IS DISTINCT FROM COALESCE(n -> 'attributes', '{}'::jsonb)
            AND (o -> 'attributes' -> a.k) IS DISTINCT FROM (n -> 'attributes' -> a.k)) x
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION zendesk_sync_case_changes(o jsonb, n jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
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
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION zendesk_sync_capture_case() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text[] := '{}';
    parked text;
BEGIN
    IF current_setting('zendesk_sync.origin', true) = 'sync' OR NEW.integration_id IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT i.outbox_parked INTO parked FROM integrations i WHERE i.id = NEW.integration_id AND i.two_way;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.subject IS DISTINCT FROM OLD.subject THEN changed := array_append(changed, 'subject'); END IF;
        IF NEW.description IS DISTINCT FROM OLD.description THEN changed := array_append(changed, 'description'); END IF;
        IF NEW.status IS DISTINCT FROM OLD.status THEN changed := array_append(changed, 'status'); END IF;
        IF NEW.priority IS DISTINCT FROM OLD.priority THEN changed := array_append(changed, 'priority'); END IF;
        IF NEW.assigned_to_user_id IS DISTINCT FROM OLD.assigned_to_user_id THEN changed := array_append(changed, 'assigned_to'); END IF;
        IF NEW.owner_user_id IS DISTINCT FROM OLD.owner_user_id THEN changed := array_append(changed, 'owner'); END IF;
        IF NEW.contact_id IS DISTINCT FROM OLD.contact_id THEN changed := array_append(changed, 'contact'); END IF;
        IF cardinality(changed) = 0 THEN
            RETURN NULL;
        END IF;
    ELSE
        changed := ARRAY['subject', 'description', 'status', 'priority', 'assigned_to', 'owner', 'contact'];
    END IF;
    INSERT INTO outbox (integration_id, case_id, fields, parked_at, park_reason)
        VALUES (NEW.integration_id, NEW.id, changed, CASE WHEN parked IS NOT NULL THEN now() END, parked);
    IF parked IS NULL THEN
        PERFORM pg_notify('zendesk_sync_outbox', NEW.integration_id::text);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
ALTER TABLE integrations DROP COLUMN mapping_source, DROP COLUMN mapping;
ALTER TABLE cases DROP COLUMN attributes;
