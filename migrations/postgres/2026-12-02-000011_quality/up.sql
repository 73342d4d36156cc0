-- Quality of service: satisfaction survey answers (CSAT), QA scorecards and evaluations.

-- One answer per ticket. Who handled it, where and for whom are copied at answer time, so later
-- reassignments do not move the figure to someone else.
CREATE TABLE csat_responses (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL UNIQUE REFERENCES tickets(id) ON DELETE CASCADE,
    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 7),
    comment TEXT,
    -- "¿Se resolvió su problema?": NULL when not answered.
    resolved BOOLEAN,
    answered_at TIMESTAMPTZ NOT NULL,
    agent_id BIGINT REFERENCES agents(id),
    queue_id BIGINT REFERENCES queues(id),
    channel TEXT NOT NULL,
    category_id BIGINT REFERENCES categories(id),
    segment TEXT NOT NULL
);
CREATE INDEX csat_responses_answered_idx ON csat_responses (answered_at);

-- Criteria are a JSON list of {key, name, weight, critical, max}; a scorecard never changes once
-- created, so every evaluation keeps meaning what it meant.
CREATE TABLE qa_scorecards (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    criteria JSONB NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_by BIGINT REFERENCES agents(id),
    created_at TIMESTAMPTZ NOT NULL
);

-- A sampled (pending) or submitted evaluation of one agent's work on one ticket.
CREATE TABLE qa_evaluations (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    agent_id BIGINT NOT NULL REFERENCES agents(id),
    queue_id BIGINT REFERENCES queues(id),
    channel TEXT NOT NULL,
    scorecard_id BIGINT REFERENCES qa_scorecards(id),
    -- The sampling period; NULL for an evaluation made outside sampling.
    period_from TIMESTAMPTZ,
    period_to TIMESTAMPTZ,
    -- random | low_csat | manual
    reason TEXT NOT NULL,
    -- pending | completed | disputed | resolved
    status TEXT NOT NULL,
    marks JSONB,
    score DOUBLE PRECISION,
    comment TEXT,
    evaluator_id BIGINT REFERENCES agents(id),
    evaluated_at TIMESTAMPTZ,
    dispute_reason TEXT,
    disputed_at TIMESTAMPTZ,
    resolution TEXT,
    resolved_by BIGINT REFERENCES agents(id),
    resolved_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (agent_id, ticket_id, period_from, period_to)
);
CREATE INDEX qa_evaluations_agent_idx ON qa_evaluations (agent_id, id);
CREATE INDEX qa_evaluations_evaluated_idx ON qa_evaluations (evaluated_at);
