-- What is sent to each department (escalations, requester replies on them, opportunities),
-- written in the same transaction as its cause: the source of truth of the department's inbox
-- and the queue of the Redis stream and webhook workers.
CREATE TABLE department_deliveries (
    id BIGSERIAL PRIMARY KEY,
    department_id BIGINT NOT NULL REFERENCES departments(id),
    item_kind TEXT NOT NULL,
    item_id BIGINT NOT NULL,
    event TEXT NOT NULL,
    -- The same on every channel and every retry: receivers drop what they already processed.
    idempotency_key TEXT NOT NULL UNIQUE,
    payload JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    acknowledged_at TIMESTAMPTZ,
    acknowledged_by BIGINT REFERENCES agents(id),
    -- Redis stream: leased by one replica at a time until published.
    stream_lease_until TIMESTAMPTZ,
    stream_entry_id TEXT,
    streamed_at TIMESTAMPTZ,
    -- Webhook: NULL when the department had none; else pending, sending (leased until
    -- webhook_next_at), delivered or cancelled (the webhook was removed).
    webhook_status TEXT,
    webhook_attempts INTEGER NOT NULL DEFAULT 0,
    webhook_next_at TIMESTAMPTZ,
    webhook_delivered_at TIMESTAMPTZ
);
CREATE INDEX department_deliveries_inbox_idx ON department_deliveries (department_id, id);
CREATE INDEX department_deliveries_stream_idx ON department_deliveries (id) WHERE streamed_at IS NULL;
CREATE INDEX department_deliveries_webhook_idx ON department_deliveries (webhook_next_at)
    WHERE webhook_status IN ('pending', 'sending');

-- One webhook per department. The secret signs every request (HMAC-SHA256), so it is kept as is.
CREATE TABLE department_webhooks (
    department_id BIGINT PRIMARY KEY REFERENCES departments(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    -- After a failure nothing is posted to it before this (exponential backoff).
    retry_at TIMESTAMPTZ,
    disabled_reason TEXT,
    disabled_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Every webhook request made, with its outcome.
CREATE TABLE department_webhook_attempts (
    id BIGSERIAL PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES department_deliveries(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    status_code INTEGER,
    -- NULL when delivered; else http_status, timeout, connection, tls or invalid_url.
    error TEXT,
    duration_ms BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX department_webhook_attempts_idx ON department_webhook_attempts (delivery_id, id);
