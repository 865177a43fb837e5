-- +goose Up
-- Two-way sync. Local changes to cases and case comments are recorded by the database itself, whoever makes
-- them (the CRM, `starter`, plain SQL), so none is missed. The sync's own writes run with the session setting
-- zendesk_sync.origin = 'sync' and are not recorded: nothing the sync wrote comes back as a change (no echo).
-- Only changes made while the integration has two-way sync on are recorded: switching it on later pushes
-- nothing retroactively.
CREATE TABLE outbox (
    id             bigserial PRIMARY KEY,
    integration_id bigint NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    case_id        bigint NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    comment_id     bigint REFERENCES case_comments(id) ON DELETE CASCADE,
    -- The case fields this change touched (empty for a comment).
    fields         text[] NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- Set before a comment is sent, so a retry after a lost answer can look for it instead of sending twice.
    sending_at     timestamptz,
    processed_at   timestamptz
);
CREATE INDEX outbox_pending ON outbox (integration_id, id) WHERE processed_at IS NULL;

-- Every conflict decision of a two-way sync: a field changed on both sides since the last sync.
CREATE TABLE conflicts (
    id             bigserial PRIMARY KEY,
    integration_id bigint NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    case_id        bigint REFERENCES cases(id) ON DELETE SET NULL,
    ticket_id      bigint NOT NULL,
    field          text NOT NULL,
    base_value     text,
    local_value    text,
    remote_value   text,
    winner         text NOT NULL CHECK (winner IN ('local', 'remote')),
    decided_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conflicts_integration ON conflicts (integration_id, id);

-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_capture_case() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text[] := '{}';
BEGIN
    IF current_setting('zendesk_sync.origin', true) = 'sync' OR NEW.integration_id IS NULL THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM integrations WHERE id = NEW.integration_id AND two_way) THEN
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
    INSERT INTO outbox (integration_id, case_id, fields) VALUES (NEW.integration_id, NEW.id, changed);
    PERFORM pg_notify('zendesk_sync_outbox', NEW.integration_id::text);
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION zendesk_sync_capture_comment() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    integ bigint;
BEGIN
    IF current_setting('zendesk_sync.origin', true) = 'sync' THEN
        RETURN NULL;
    END IF;
    SELECT c.integration_id INTO integ FROM cases c JOIN integrations i ON i.id = c.integration_id AND i.two_way
        WHERE c.id = NEW.case_id;
    IF integ IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO outbox (integration_id, case_id, comment_id) VALUES (integ, NEW.case_id, NEW.id);
    PERFORM pg_notify('zendesk_sync_outbox', integ::text);
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER cases_capture AFTER INSERT OR UPDATE ON cases
    FOR EACH ROW EXECUTE FUNCTION zendesk_sync_capture_case();
CREATE TRIGGER case_comments_capture AFTER INSERT ON case_comments
    FOR EACH ROW EXECUTE FUNCTION zendesk_sync_capture_comment();

-- +goose Down
DROP TRIGGER case_comments_capture ON case_comments;
DROP TRIGGER cases_capture ON cases;
DROP FUNCTION zendesk_sync_capture_comment();
DROP FUNCTION zendesk_sync_capture_case();
DROP TABLE conflicts;
DROP TABLE outbox;
