-- +goose Up
-- The rate-limit budget of each Zendesk account, shared by every worker process. Zendesk counts requests per account
-- (and per export endpoint), not per process: each worker pacing itself on its own lets N workers spend N budgets
-- and draw a 429 storm. One row per bucket: the account ("https://acme.zendesk.com") or one of its endpoint families
-- ("https://acme.zendesk.com incremental-exports"). Nothing secret is stored: the key is the account's URL.
CREATE TABLE zendesk_rate_limits (
    key           text PRIMARY KEY,
    limit_total   integer,     -- the window's limit, as Zendesk last said (NULL: not known yet)
    used          integer NOT NULL DEFAULT 0, -- requests reserved or seen in the current window
    window_ends   timestamptz, -- when the current window resets, as Zendesk last said (NULL: not known)
    blocked_until timestamptz, -- a 429's Retry-After: nobody sends before then
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- zs_rate_reserve counts one request against every bucket in keys and returns 0, or, when one of them is blocked or
-- spent, counts nothing and returns how many seconds to wait. The rows are locked in key order, so concurrent
-- callers serialise per bucket without deadlocks. All times are the database's, so the workers' clocks do not
-- matter.
-- +goose StatementBegin
CREATE FUNCTION zs_rate_reserve(keys text[]) RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    t    timestamptz := clock_timestamp();
    r    record;
    wait double precision := 0;
BEGIN
    INSERT INTO zendesk_rate_limits (key) SELECT unnest(keys) ON CONFLICT (key) DO NOTHING;
    FOR r IN SELECT * FROM zendesk_rate_limits WHERE key = ANY (keys) ORDER BY key FOR UPDATE LOOP
        IF r.blocked_until > t THEN
            wait := greatest(wait, extract(epoch FROM r.blocked_until - t));
        END IF;
        -- A spent budget waits for the window's end; a window that has ended starts afresh below.
        IF r.limit_total IS NOT NULL AND r.used >= r.limit_total AND r.window_ends > t THEN
            wait := greatest(wait, extract(epoch FROM r.window_ends - t));
        END IF;
    END LOOP;
    IF wait > 0 THEN
        RETURN wait;
    END IF;
    UPDATE zendesk_rate_limits SET
        used = CASE WHEN window_ends <= t THEN 1 ELSE used + 1 END,
        window_ends = CASE WHEN window_ends <= t THEN NULL ELSE window_ends END,
        updated_at = t
    WHERE key = ANY (keys);
    RETURN 0;
END
$$;
-- +goose StatementEnd

-- zs_rate_observe records what a response said about one bucket: its limit, what remains of it and in how many
-- seconds it resets. Zendesk's count is the truth (other clients of the account spend it too), but requests still
-- in flight are not in it yet, so the larger of the two counts is kept. The reset is given in whole seconds rounded
-- up, so the earliest end any response implies is the closest to the real one, and never before it.
-- +goose StatementBegin
CREATE FUNCTION zs_rate_observe(k text, total integer, remaining integer, reset_secs double precision)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t   timestamptz := clock_timestamp();
    ends timestamptz := t + make_interval(secs => reset_secs);
BEGIN
    INSERT INTO zendesk_rate_limits AS z (key, limit_total, used, window_ends, updated_at)
    VALUES (k, total, greatest(total - remaining, 0), ends, t)
    ON CONFLICT (key) DO UPDATE SET
        limit_total = excluded.limit_total,
        used = CASE WHEN z.window_ends IS NOT NULL AND z.window_ends <= t THEN excluded.used
                    ELSE greatest(z.used, excluded.used) END,
        window_ends = CASE WHEN z.window_ends IS NULL OR z.window_ends <= t THEN ends
                           ELSE least(z.window_ends, ends) END,
        updated_at = t;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION zs_rate_observe(text, integer, integer, double precision);
DROP FUNCTION zs_rate_reserve(text[]);
DROP TABLE zendesk_rate_limits;
