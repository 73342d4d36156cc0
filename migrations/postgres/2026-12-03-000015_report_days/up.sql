-- Daily pre-aggregated report facts (src/reports/rollup.rs): one row per America/Santiago day,
-- dimension and group, so a report over a month sums ~1,000 rows instead of reading 85,000
-- tickets and their messages. Derived state: `report_rollup` says how far it is built, and the
-- rows can always be recomputed from the tickets, messages, events and calls.
CREATE TABLE report_days (
    id BIGSERIAL PRIMARY KEY,
    day TEXT NOT NULL,             -- YYYY-MM-DD, America/Santiago
    dim TEXT NOT NULL,             -- channel | category | segment | queue | agent | call_queue
    grp TEXT,                      -- the group's value (ids for category, queue, agent; call_queue: q:<id> or n:<PBX queue name>); NULL: none
    created BIGINT NOT NULL,       -- tickets created that day (agent: assigned to the agent now)
    resolved BIGINT NOT NULL,      -- tickets whose resolution (solved, else closed) falls that day
    solved BIGINT NOT NULL,        -- tickets solved that day
    replies BIGINT NOT NULL,       -- public agent messages written that day (agent)
    calls_handled BIGINT NOT NULL, -- answered calls queued that day (agent)
    handle_secs BIGINT NOT NULL,   -- their talk + hold + after-call work
    sla_tickets BIGINT NOT NULL,   -- created that day with an SLA policy, and their outcomes:
    fr_met BIGINT NOT NULL,
    fr_breached BIGINT NOT NULL,
    fr_running BIGINT NOT NULL,
    res_met BIGINT NOT NULL,
    res_breached BIGINT NOT NULL,
    res_running BIGINT NOT NULL,
    first_reply_secs BYTEA NOT NULL, -- each first-reply time of the day's tickets, u32 little-endian
    resolution_secs BYTEA NOT NULL,  -- each resolution time of the day's solved tickets, likewise
    calls_offered BIGINT NOT NULL,    -- call_queue: inbound calls queued that day that ended (not rejected)
    calls_answered BIGINT NOT NULL,
    calls_abandoned BIGINT NOT NULL,  -- short abandons included
    calls_short BIGINT NOT NULL,
    call_wait_secs BYTEA NOT NULL    -- each answered call's wait, u32 little-endian (u32::MAX: unknown)
);
CREATE INDEX report_days_dim_day_idx ON report_days (dim, day);
CREATE INDEX report_days_day_idx ON report_days (day);
-- A refresh looks for requesters edited since the last one (their segment may have changed).
CREATE INDEX requesters_updated_idx ON requesters (updated_at);

CREATE TABLE report_rollup (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    built BOOLEAN NOT NULL,
    ticket_cursor BIGINT NOT NULL,      -- ticket_events read up to here
    call_cursor BIGINT NOT NULL,        -- call_events read up to here
    requesters_seen TIMESTAMPTZ,        -- requesters changed after this are read again
    refreshed_at TIMESTAMPTZ
);
INSERT INTO report_rollup (id, built, ticket_cursor, call_cursor) VALUES (1, FALSE, 0, 0);
