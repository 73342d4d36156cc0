-- Improvement opportunities ("oportunidades de mejora") that Atención Usuaria finds in its tickets
-- and sends to other departments, with their lifecycle and evidence.
CREATE TABLE opportunities (
    id BIGSERIAL PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    category_id BIGINT REFERENCES categories(id),
    department_id BIGINT NOT NULL REFERENCES departments(id),
    priority TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'draft',
    -- Why it was rejected, or the department's closing answer.
    resolution TEXT,
    duplicate_of BIGINT REFERENCES opportunities(id),
    -- NULL: proposed automatically (trend detection).
    proposed_by BIGINT REFERENCES agents(id),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX opportunities_department_idx ON opportunities (department_id, status);

CREATE TABLE opportunity_tickets (
    opportunity_id BIGINT NOT NULL REFERENCES opportunities(id) ON DELETE CASCADE,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    PRIMARY KEY (opportunity_id, ticket_id)
);

-- Every transition and comment, with who made it.
CREATE TABLE opportunity_events (
    id BIGSERIAL PRIMARY KEY,
    opportunity_id BIGINT NOT NULL REFERENCES opportunities(id) ON DELETE CASCADE,
    agent_id BIGINT REFERENCES agents(id),
    from_status TEXT,
    to_status TEXT NOT NULL,
    comment TEXT,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX opportunity_events_idx ON opportunity_events (opportunity_id, id);
