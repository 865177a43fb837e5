-- +goose Up
-- Opening and closing a sync pass in one call each (issue 11). A pass that finds nothing did little else than open
-- its record (a transaction of five round trips) and close it (four statements of two round trips each, with the
-- request count): on a worker of 500 waiting integrations that bookkeeping was about a tenth of its CPU. The
-- functions do the same steps, in the same order, in one statement each, so they are also atomic now.

-- zs_close_pass closes the integration's open pass, if any, with what it did (the progress counters' growth since
-- it opened; counters restart at a reset, so a pass that saw one counts from zero), why it failed (NULL or '' when
-- it ended well) and the Zendesk requests not added to it yet.
-- +goose StatementBegin
CREATE FUNCTION zs_close_pass(integ bigint, failure text, more_requests bigint) RETURNS void LANGUAGE sql AS $$
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

-- zs_start_pass opens the record of a sync pass when the integration has none open, and returns the sync state it
-- read under the row lock (no row: no such integration). An open pass of the same generation is the one going on
-- (a retried step, a pass resumed by the next workflow run); an open pass of an older generation was cut short by a
-- reset, and is closed as such before a new one opens.
-- +goose StatementBegin
CREATE FUNCTION zs_start_pass(integ bigint) RETURNS SETOF sync_state LANGUAGE plpgsql AS $$
DECLARE
    st sync_state;
BEGIN
    SELECT * INTO st FROM sync_state WHERE integration_id = integ FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE sync_passes SET ended_at = now(), error = 'cut short by a reset'
        WHERE integration_id = integ AND ended_at IS NULL AND generation <> st.generation;
    INSERT INTO sync_passes (integration_id, generation, first_sync, start_counters)
        VALUES (integ, st.generation, NOT st.first_sync_done, jsonb_build_object('tickets_synced', st.tickets_synced,
            'cases_created', st.cases_created, 'cases_updated', st.cases_updated,
            'comments_synced', st.comments_synced, 'failures', st.failures))
        ON CONFLICT (integration_id) WHERE ended_at IS NULL DO NOTHING;
    RETURN NEXT st;
END
$$;
-- +goose StatementEnd

-- zs_end_pass records that a pass ended well: the sync state's last sync (and, with first_done, that the first sync
-- is done), the pass's record closed with its last requests, and the local changes parked for rejected credentials
-- resumed (the pass proved the credentials work).
-- +goose StatementBegin
CREATE FUNCTION zs_end_pass(integ bigint, first_done boolean, more_requests bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sync_state SET last_sync_at = now(), last_error = NULL, first_sync_done = first_sync_done OR first_done,
        phase = CASE WHEN first_done OR first_sync_done THEN 'incremental' ELSE phase END, updated_at = now()
        WHERE integration_id = integ;
    PERFORM zs_close_pass(integ, NULL, more_requests);
    PERFORM zendesk_sync_resume_outbox(id) FROM integrations WHERE id = integ AND outbox_parked IS NOT NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION zs_end_pass(bigint, boolean, bigint);
DROP FUNCTION zs_start_pass(bigint);
DROP FUNCTION zs_close_pass(bigint, text, bigint);
