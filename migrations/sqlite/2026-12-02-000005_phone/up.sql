-- Phone channel: one row per call (derived from its events, which are kept verbatim), blocked
-- caller numbers, agents' extensions and the ticket kind for callback tasks.

ALTER TABLE agents ADD COLUMN extension TEXT;
CREATE UNIQUE INDEX agents_extension_idx ON agents (extension);

-- `standard` or `callback` (a call back owed to a caller who hung up before being answered).
ALTER TABLE tickets ADD COLUMN kind TEXT NOT NULL DEFAULT 'standard';

CREATE TABLE blocked_numbers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    reason TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The PBX's call id: the idempotency key of every event of the call.
    external_id TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL DEFAULT 'in',
    from_number TEXT,
    to_number TEXT,
    -- The queue as the PBX named it, and ours when the name matches one.
    queue_name TEXT,
    queue_id BIGINT REFERENCES queues(id),
    requester_id BIGINT REFERENCES requesters(id),
    agent_ref TEXT,
    agent_id BIGINT REFERENCES agents(id),
    ticket_id BIGINT REFERENCES tickets(id),
    callback_ticket_id BIGINT REFERENCES tickets(id),
    -- Whether `ticket_id` / `callback_ticket_id` were created for this call (and may be reshaped when
    -- a late event changes what the call was).
    ticket_created BOOLEAN NOT NULL DEFAULT FALSE,
    callback_created BOOLEAN NOT NULL DEFAULT FALSE,
    state TEXT NOT NULL DEFAULT 'queued',
    outcome TEXT,
    cause TEXT,
    queued_at TEXT,
    answered_at TEXT,
    ended_at TEXT,
    wrapup_ended_at TEXT,
    wait_seconds BIGINT,
    talk_seconds BIGINT,
    hold_seconds BIGINT NOT NULL DEFAULT 0,
    acw_seconds BIGINT,
    transfers BIGINT NOT NULL DEFAULT 0,
    voicemail_message_id BIGINT REFERENCES messages(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX calls_from_idx ON calls (from_number);
CREATE INDEX calls_to_idx ON calls (to_number);
CREATE INDEX calls_queued_at_idx ON calls (queued_at);

-- Raw PBX events (source `native` or `cti`) and the contact-center facts derived from them
-- (source `derived`, kinds `kpi.*`), in arrival order.
CREATE TABLE call_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id BIGINT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    data TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (call_id, dedup_key)
);
