-- +goose Up
-- What a pass did was worked out twice, once per counter in each place: in zs_close_pass when a pass ends, and in
-- `starter integration history` (store.Passes) for a pass still running. zs_pass_growth is that rule, once, for both.

-- zs_pass_growth is how much one progress counter of the sync state (tickets_synced, cases_created, cases_updated,
-- comments_synced or failures) grew since the pass opened. Counters restart at a reset (a new generation), so a
-- pass that saw one counts from zero; never below zero.
-- +goose StatementBegin
CREATE FUNCTION zs_pass_growth(p sync_passes, s sync_state, counter text) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT GREATEST(0, (to_jsonb(s)->>counter)::bigint - CASE WHEN s.generation = p.generation
        THEN (p.start_counters->>counter)::bigint ELSE 0 END)
$$;
-- +goose StatementEnd

-- zs_close_pass closes the integration's open pass, if any, with what it did, why it failed (NULL or '' when it
-- ended well) and the Zendesk requests not added to it yet.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION zs_close_pass(integ bigint, failure text, more_requests bigint) RETURNS void
LANGUAGE sql AS $$
    UPDATE sync_passes p SET ended_at = now(), error = NULLIF(failure, ''), requests = p.requests + more_requests,
        tickets = zs_pass_growth(p, s, 'tickets_synced'), cases_created = zs_pass_growth(p, s, 'cases_created'),
        cases_updated = zs_pass_growth(p, s, 'cases_updated'), comments = zs_pass_growth(p, s, 'comments_synced'),
        failures = zs_pass_growth(p, s, 'failures')
    FROM sync_state s WHERE s.integration_id = p.integration_id AND p.integration_id = integ AND p.ended_at IS NULL
$$;
-- +goose StatementEnd

-- +goose Down
-- 00016's zs_close_pass, which did the sums itself.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION zs_close_pass(integ bigint, failure text, more_requests bigint) RETURNS void
LANGUAGE sql AS $$
    UPDATE sync_passes p SET ended_at = now(), error = NULLIF(failure, ''), requests = p.requests + more_requests,
        tickets = GREATEST(0, s.tickets_synced - CASE WHEN s.generation = p.generation
            THEN (p.start_counters->>'tickets_synced')::bigint ELSE 0 END),
        cases_created = GREATEST(0, s.cases_created - CASE WHEN s.generation = p.generation
            THEN (p.start_counters->>'cases_created')::bigint ELSE 0 END),
        cases_updated = GREATEST(0, s.cases_updated - CASE WHEN s.generation = p.generation
            THEN (p.start_counters->>'cases_updated')::bigint ELSE 0 END),
        comments = GREATEST(0, s.comments_synced - CASE WHEN s.generation = p.generation
            THEN (p.start_counters->>'comments_synced')::bigint ELSE 0 END),
        failures = GREATEST(0, s.failures - CASE WHEN s.generation = p.generation
            THEN (p.start_counters->>'failures')::bigint ELSE 0 END)
    FROM sync_state s WHERE s.integration_id = p.integration_id AND p.integration_id = integ AND p.ended_at IS NULL
$$;
-- +goose StatementEnd
DROP FUNCTION zs_pass_growth(sync_passes, sync_state, text);
