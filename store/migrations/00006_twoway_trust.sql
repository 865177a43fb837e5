-- +goose Up
-- Two-way trust (issue 9).
--
-- Parked outbox rows: a local change that cannot be pushed now (two-way sync switched off, credentials rejected by
-- Zendesk) is parked with its reason instead of being signalled again and again. The relay and the push skip
-- parked rows; `starter failures N` lists them. They resume (parked_at back to NULL, and a NOTIFY) when the
-- integration's settings are saved with two-way on, or when a sync pass ends well (the credentials work again).
ALTER TABLE outbox ADD COLUMN parked_at timestamptz, ADD COLUMN park_reason text;
CREATE INDEX outbox_ready ON outbox (integration_id, id) WHERE processed_at IS NULL AND parked_at IS NULL;
-- Set while the whole integration's outbox is parked (credentials rejected): a change recorded meanwhile is
-- parked as it is recorded, with the same reason, and wakes nobody.
ALTER TABLE integrations ADD COLUMN outbox_parked text;

-- A case deleted in the CRM stays deleted: its ticket remembers it, and the import does not create it again.
ALTER TABLE zd_tickets ADD COLUMN case_deleted_at timestamptz;

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

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION zendesk_sync_capture_comment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    integ bigint;
    parked text;
BEGIN
    IF current_setting('zendesk_sync.origin', true) = 'sync' THEN
        RETURN NULL;
    END IF;
    SELECT c.integration_id, i.outbox_parked INTO integ, parked FROM cases c
        JOIN integrations i ON i.id = c.integration_id AND i.two_way WHERE c.id = NEW.case_id;
    IF integ IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO outbox (integration_id, case_id, comment_id, parked_at, park_reason)
        VALUES (integ, NEW.case_id, NEW.id, CASE WHEN parked IS NOT NULL THEN now() END, parked);
    IF parked IS NULL THEN
        PERFORM pg_notify('zendesk_sync_outbox', integ::text);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- zendesk_sync_resume_outbox unparks an integration's parked rows when it has two-way sync on, and wakes the relay.
-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_resume_outbox(integ bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM integrations WHERE id = integ AND two_way) THEN
        RETURN;
    END IF;
    UPDATE integrations SET outbox_parked = NULL WHERE id = integ AND outbox_parked IS NOT NULL;
    UPDATE outbox SET parked_at = NULL, park_reason = NULL
        WHERE integration_id = integ AND processed_at IS NULL AND parked_at IS NOT NULL;
    IF FOUND THEN
        PERFORM pg_notify('zendesk_sync_outbox', integ::text);
    END IF;
END $$;
-- +goose StatementEnd

-- Saving an integration's settings (credentials fixed, two-way switched back on) resumes its parked rows;
-- switching two-way off parks the rows not pushed yet (they resume if it is switched on again).
-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_integration_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.two_way AND NEW.settings_version IS DISTINCT FROM OLD.settings_version THEN
        PERFORM zendesk_sync_resume_outbox(NEW.id);
    ELSIF OLD.two_way AND NOT NEW.two_way THEN
        UPDATE outbox SET parked_at = now(), park_reason = 'two-way sync is switched off'
            WHERE integration_id = NEW.id AND processed_at IS NULL AND parked_at IS NULL;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER integrations_outbox AFTER UPDATE ON integrations
    FOR EACH ROW EXECUTE FUNCTION zendesk_sync_integration_changed();

-- A case deleted in the CRM: its ticket keeps a tombstone (case_id itself goes NULL through the foreign key), and
-- the integration's failures say so, so the user knows the ticket is no longer synced to a case.
-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_case_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE zd_tickets SET case_deleted_at = now() WHERE case_id = OLD.id;
    INSERT INTO sync_failures (integration_id, kind, zendesk_id, reason)
        SELECT t.integration_id, 'case_deleted', t.zendesk_id,
            format('case %s of Zendesk ticket %s was deleted in the CRM: it stays deleted, and the ticket''s changes '
                'are no longer imported into a case', OLD.id, t.zendesk_id)
        FROM zd_tickets t WHERE t.case_id = OLD.id
        ON CONFLICT (integration_id, kind, zendesk_id) WHERE resolved_at IS NULL DO NOTHING;
    RETURN OLD;
END $$;
-- +goose StatementEnd

CREATE TRIGGER cases_deleted BEFORE DELETE ON cases
    FOR EACH ROW EXECUTE FUNCTION zendesk_sync_case_deleted();

-- +goose Down
DROP TRIGGER cases_deleted ON cases;
DROP FUNCTION zendesk_sync_case_deleted();
DROP TRIGGER integrations_outbox ON integrations;
DROP FUNCTION zendesk_sync_integration_changed();
DROP FUNCTION zendesk_sync_resume_outbox(bigint);
ALTER TABLE zd_tickets DROP COLUMN case_deleted_at;
ALTER TABLE integrations DROP COLUMN outbox_parked;
DROP INDEX outbox_ready;
ALTER TABLE outbox DROP COLUMN park_reason, DROP COLUMN parked_at;
