-- Email channel: every mail in and out (threading, deduplication), CCs kept on tickets,
-- attachments, a quarantine for mail that cannot be processed, and the durable outbox.

CREATE TABLE email_messages (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT REFERENCES tickets(id) ON DELETE CASCADE,
    message_row_id BIGINT REFERENCES messages(id) ON DELETE SET NULL,
    direction TEXT NOT NULL,
    mailbox TEXT NOT NULL,
    message_id TEXT NOT NULL,
    from_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    automatic TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (mailbox, direction, message_id)
);
CREATE INDEX email_messages_message_id_idx ON email_messages (message_id);

CREATE TABLE ticket_ccs (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    PRIMARY KEY (ticket_id, email)
);

CREATE TABLE attachments (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    message_row_id BIGINT REFERENCES messages(id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content_id TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX attachments_ticket_idx ON attachments (ticket_id);

CREATE TABLE email_quarantine (
    id BIGSERIAL PRIMARY KEY,
    mailbox TEXT NOT NULL,
    reason TEXT NOT NULL,
    size BIGINT NOT NULL,
    raw BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    released_at TIMESTAMPTZ
);

CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    ticket_id BIGINT REFERENCES tickets(id) ON DELETE CASCADE,
    message_row_id BIGINT REFERENCES messages(id) ON DELETE SET NULL,
    recipient TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    -- Facts the template needs that are not in the ticket (e.g. which SLA metric).
    detail TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error TEXT,
    sent_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
-- Workers claim from here (a 'sending' row whose lease ran out is claimable again);
-- sent, bounced and dead rows are not in the index.
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_recipient_idx ON outbox (recipient, created_at);
