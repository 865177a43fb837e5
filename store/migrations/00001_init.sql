-- +goose Up
-- The CRM side (crm_users, contacts, cases, case_comments) and the Zendesk mirror (zd_*), plus the sync's own
-- bookkeeping. Every mirror row is scoped by integration and cascades from it; CRM rows survive the integration
-- (as OroCRM keeps cases when an integration is deleted).

CREATE TABLE crm_users (
    id          bigserial PRIMARY KEY,
    email       text NOT NULL,
    name        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX crm_users_email_key ON crm_users (lower(email));

-- Secondary addresses: agents are matched on primary or secondary email, ignoring case.
CREATE TABLE crm_user_emails (
    user_id bigint NOT NULL REFERENCES crm_users(id) ON DELETE CASCADE,
    email   text NOT NULL,
    PRIMARY KEY (user_id, email)
);
CREATE INDEX crm_user_emails_lower ON crm_user_emails (lower(email));

CREATE TABLE integrations (
    id                 bigserial PRIMARY KEY,
    name               text NOT NULL UNIQUE,
    url                text NOT NULL,
    email              text NOT NULL,
    -- AES-GCM sealed with the deployment's secret key; the plain token is never stored.
    token_enc          bytea NOT NULL,
    default_user_email text NOT NULL DEFAULT '',
    owner_user_id      bigint NOT NULL REFERENCES crm_users(id),
    two_way            boolean NOT NULL DEFAULT false,
    priority           text NOT NULL DEFAULT 'remote' CHECK (priority IN ('remote', 'local')),
    interval_seconds   integer NOT NULL DEFAULT 300 CHECK (interval_seconds > 0),
    sync_from          timestamptz,
    active             boolean NOT NULL DEFAULT false,
    -- Bumped on every settings change so a waiting workflow can tell that new credentials arrived.
    settings_version   integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Contacts are scoped by the integration that created them (OroCRM scopes them by organization), so two
-- Zendesk accounts never share a person by accident.
CREATE TABLE contacts (
    id             bigserial PRIMARY KEY,
    integration_id bigint REFERENCES integrations(id) ON DELETE SET NULL,
    email          text,
    name_prefix    text,
    first_name     text,
    middle_name    text,
    last_name      text,
    name_suffix    text,
    phone          text,
    owner_user_id  bigint REFERENCES crm_users(id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_email ON contacts (integration_id, lower(email));

CREATE TABLE cases (
    id                  bigserial PRIMARY KEY,
    integration_id      bigint REFERENCES integrations(id) ON DELETE SET NULL,
    subject             text NOT NULL DEFAULT '',
    description         text NOT NULL DEFAULT '',
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
    priority            text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high')),
    owner_user_id       bigint REFERENCES crm_users(id) ON DELETE SET NULL,
    assigned_to_user_id bigint REFERENCES crm_users(id) ON DELETE SET NULL,
    contact_id          bigint REFERENCES contacts(id) ON DELETE SET NULL,
    source              text NOT NULL DEFAULT 'other',
    reported_at         timestamptz,
    closed_at           timestamptz,
    -- Why the last local change could not be pushed (e.g. the Zendesk ticket is closed).
    sync_note           text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_integration ON cases (integration_id);

CREATE TABLE case_comments (
    id             bigserial PRIMARY KEY,
    case_id        bigint NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    body           text NOT NULL DEFAULT '',
    public         boolean NOT NULL DEFAULT true,
    owner_user_id  bigint REFERENCES crm_users(id) ON DELETE SET NULL,
    contact_id     bigint REFERENCES contacts(id) ON DELETE SET NULL,
    -- The Zendesk author's email for imported comments, the CRM author's for local ones.
    author_email   text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_comments_case ON case_comments (case_id, created_at, id);

CREATE TABLE zd_users (
    integration_id    bigint NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    zendesk_id        bigint NOT NULL,
    name              text NOT NULL DEFAULT '',
    email             text,
    role              text,
    phone             text,
    active            boolean NOT NULL DEFAULT true,
    -- Resolved again on every sync that touches the user; never a fallback (spec §10.2).
    crm_user_id       bigint REFERENCES crm_users(id) ON DELETE SET NULL,
    contact_id        bigint REFERENCES contacts(id) ON DELETE SET NULL,
    origin_created_at timestamptz,
    origin_updated_at timestamptz,
    raw               jsonb NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, zendesk_id)
);
CREATE INDEX zd_users_email ON zd_users (integration_id, lower(email));

CREATE TABLE zd_tickets (
    integration_id     bigint NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    zendesk_id         bigint NOT NULL,
    url                text NOT NULL DEFAULT '',
    subject            text NOT NULL DEFAULT '',
    description        text NOT NULL DEFAULT '',
    external_id        text,
    problem_id         bigint,
    type               text,
    status             text NOT NULL DEFAULT '',
    priority           text,
    recipient          text,
    requester_id       bigint,
    submitter_id       bigint,
    assignee_id        bigint,
    collaborator_ids   bigint[] NOT NULL DEFAULT '{}',
    has_incidents      boolean NOT NULL DEFAULT false,
    due_at             timestamptz,
    origin_created_at  timestamptz,
    origin_updated_at  timestamptz,
    generated_timestamp bigint NOT NULL DEFAULT 0,
    raw                jsonb NOT NULL,
    case_id            bigint UNIQUE REFERENCES cases(id) ON DELETE SET NULL,
    -- The case values derived from this ticket at the last sync: the common ancestor of the three-way merges.
    synced             jsonb,
    -- The sync generation (reset count) that last wrote this row: a reset re-derives every ticket once.
    sync_generation    integer NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, zendesk_id)
);

CREATE TABLE zd_comments (
    integration_id    bigint NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    zendesk_id        bigint NOT NULL,
    ticket_id         bigint NOT NULL,
    author_id         bigint,
    body              text NOT NULL DEFAULT '',
    html_body         text NOT NULL DEFAULT '',
    public            boolean NOT NULL DEFAULT true,
    origin_created_at timestamptz,
    case_comment_id   bigint UNIQUE REFERENCES case_comments(id) ON DELETE SET NULL,
    raw               jsonb NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, zendesk_id)
);
CREATE INDEX zd_comments_ticket ON zd_comments (integration_id, ticket_id);
CREATE INDEX zd_comments_unlinked ON zd_comments (integration_id) WHERE case_comment_id IS NULL;

CREATE TABLE sync_state (
    integration_id    bigint PRIMARY KEY REFERENCES integrations(id) ON DELETE CASCADE,
    phase             text NOT NULL DEFAULT 'first_sync',
    ticket_cursor     text NOT NULL DEFAULT '',
    events_start_time bigint NOT NULL DEFAULT 0,
    first_sync_done   boolean NOT NULL DEFAULT false,
    -- Bumped by reset: a page fetched under an older generation is discarded.
    generation        integer NOT NULL DEFAULT 0,
    pages             bigint NOT NULL DEFAULT 0,
    tickets_synced    bigint NOT NULL DEFAULT 0,
    cases_created     bigint NOT NULL DEFAULT 0,
    cases_updated     bigint NOT NULL DEFAULT 0,
    comments_synced   bigint NOT NULL DEFAULT 0,
    failures          bigint NOT NULL DEFAULT 0,
    last_sync_at      timestamptz,
    last_error        text,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sync_failures (
    id             bigserial PRIMARY KEY,
    integration_id bigint NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    kind           text NOT NULL,
    zendesk_id     bigint,
    reason         text NOT NULL,
    payload        text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz
);
CREATE UNIQUE INDEX sync_failures_open ON sync_failures (integration_id, kind, zendesk_id) WHERE resolved_at IS NULL;

-- Pages fetched from Zendesk wait here between the fetch activity and the apply activity, so the fetch can be
-- retried on its own and the next page can be fetched while this one is applied. A page is deleted in the
-- transaction that applies it.
CREATE TABLE sync_pages (
    integration_id bigint NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('tickets', 'comments')),
    generation     integer NOT NULL,
    from_pos       text NOT NULL,
    next_pos       text NOT NULL,
    end_of_stream  boolean NOT NULL,
    body           bytea NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, kind, generation, from_pos)
);

-- +goose Down
DROP TABLE sync_pages, sync_failures, sync_state, zd_comments, zd_tickets, zd_users, case_comments, cases, contacts, integrations,
    crm_user_emails, crm_users;
