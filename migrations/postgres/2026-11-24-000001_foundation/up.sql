-- Foundation: reference data, people, tickets and their immutable event log.
-- Keep in step with migrations/sqlite (same tables and columns; a test checks it).

CREATE TABLE departments (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE queues (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    department_id BIGINT REFERENCES departments(id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE categories (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    parent_id BIGINT REFERENCES categories(id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE agents (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT UNIQUE,
    role TEXT NOT NULL,
    department_id BIGINT REFERENCES departments(id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    agent_id BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);

CREATE TABLE requesters (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT UNIQUE,
    phone TEXT,
    rut TEXT UNIQUE,
    segment TEXT NOT NULL,
    organization TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX requesters_phone_idx ON requesters (phone);

CREATE TABLE tickets (
    id BIGSERIAL PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    search_text TEXT NOT NULL,
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    channel TEXT NOT NULL,
    category_id BIGINT REFERENCES categories(id),
    queue_id BIGINT REFERENCES queues(id),
    assignee_id BIGINT REFERENCES agents(id),
    requester_id BIGINT NOT NULL REFERENCES requesters(id),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    solved_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ
);
CREATE INDEX tickets_status_idx ON tickets (status, id);
CREATE INDEX tickets_queue_idx ON tickets (queue_id, id);
CREATE INDEX tickets_assignee_idx ON tickets (assignee_id, id);
CREATE INDEX tickets_requester_idx ON tickets (requester_id, id);
CREATE INDEX tickets_category_idx ON tickets (category_id, id);
CREATE INDEX tickets_created_idx ON tickets (created_at);

CREATE TABLE ticket_tags (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (ticket_id, tag)
);

CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    author_type TEXT NOT NULL,
    author_agent_id BIGINT REFERENCES agents(id),
    author_requester_id BIGINT REFERENCES requesters(id),
    visibility TEXT NOT NULL,
    channel TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX messages_ticket_idx ON messages (ticket_id, id);

CREATE TABLE ticket_events (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id BIGINT,
    data JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, id);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Ticket numbers restart every year. A sequence per year keeps concurrent creations from
-- queueing on one counter row (sequences are not transactional; a failed creation leaves a gap).
CREATE FUNCTION next_ticket_number(y INTEGER) RETURNS BIGINT AS $$
DECLARE
    seq TEXT := 'ticket_number_' || y;
BEGIN
    IF to_regclass(seq) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I', seq);
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL; -- another transaction created it first
        END;
    END IF;
    RETURN nextval(seq);
END
$$ LANGUAGE plpgsql;
