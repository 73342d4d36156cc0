-- Foundation: reference data, people, tickets and their immutable event log.
-- Keep in step with migrations/postgres (same tables and columns; a test checks it).

CREATE TABLE departments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE TABLE queues (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    department_id BIGINT REFERENCES departments(id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE TABLE categories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    parent_id BIGINT REFERENCES categories(id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE TABLE agents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    email TEXT UNIQUE,
    role TEXT NOT NULL,
    department_id BIGINT REFERENCES departments(id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    revoked_at TEXT
);

CREATE TABLE requesters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    email TEXT UNIQUE,
    phone TEXT,
    rut TEXT UNIQUE,
    segment TEXT NOT NULL,
    organization TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);
CREATE INDEX requesters_phone_idx ON requesters (phone);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    solved_at TEXT,
    closed_at TEXT
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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    author_type TEXT NOT NULL,
    author_agent_id BIGINT REFERENCES agents(id),
    author_requester_id BIGINT REFERENCES requesters(id),
    visibility TEXT NOT NULL,
    channel TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX messages_ticket_idx ON messages (ticket_id, id);

CREATE TABLE ticket_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id BIGINT,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, id);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Ticket numbers restart every year; SQLite has a single writer, so a counter row is enough.
-- (Postgres uses a sequence per year instead: this is the one table that exists on SQLite only.)
CREATE TABLE ticket_number_counters (
    year INTEGER PRIMARY KEY,
    last_value BIGINT NOT NULL
);
