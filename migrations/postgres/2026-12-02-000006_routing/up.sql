-- Routing and assignment: ordered rules, queue members with skills, capacity and presence,
-- watchers, and forced rotation plans.

ALTER TABLE queues ADD COLUMN strategy TEXT NOT NULL DEFAULT 'manual';
ALTER TABLE queues ADD COLUMN required_skills JSONB NOT NULL DEFAULT '[]';

ALTER TABLE agents ADD COLUMN presence TEXT NOT NULL DEFAULT 'offline';
ALTER TABLE agents ADD COLUMN presence_since TIMESTAMPTZ;
ALTER TABLE agents ADD COLUMN capacity JSONB NOT NULL DEFAULT '{"phone": 1, "email": 8, "web": 8, "api": 8}';
ALTER TABLE agents ADD COLUMN last_assigned_at TIMESTAMPTZ;

CREATE TABLE agent_skills (
    agent_id BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    skill TEXT NOT NULL,
    PRIMARY KEY (agent_id, skill)
);

-- Every presence change, for occupancy and the live KPIs.
CREATE TABLE agent_presence_log (
    id BIGSERIAL PRIMARY KEY,
    agent_id BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    presence TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX agent_presence_log_agent_idx ON agent_presence_log (agent_id, at);

CREATE TABLE queue_members (
    queue_id BIGINT NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    agent_id BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    -- Set when a rotation plan placed the agent here (its next rotation moves them on).
    rotation_plan_id BIGINT,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (queue_id, agent_id)
);
CREATE INDEX queue_members_agent_idx ON queue_members (agent_id);

CREATE TABLE routing_rules (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    -- Also evaluated when a person changes the ticket's category or priority (not only on creation).
    on_update BOOLEAN NOT NULL DEFAULT FALSE,
    conditions JSONB NOT NULL,
    actions JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- A random version, changed with every rule change: replicas recompile their cached rules when it moves.
CREATE TABLE routing_state (
    id BIGINT PRIMARY KEY,
    rules_version BIGINT NOT NULL
);
INSERT INTO routing_state (id, rules_version) VALUES (1, (random() * 9e15)::BIGINT);

CREATE TABLE ticket_watchers (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    agent_id BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, agent_id)
);

CREATE TABLE rotation_plans (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    agents JSONB NOT NULL,
    queues JSONB NOT NULL,
    period TEXT NOT NULL,
    weekday TEXT NOT NULL,
    at_time TEXT NOT NULL,
    timezone TEXT NOT NULL,
    start_date TEXT NOT NULL,
    -- The last period applied (-1: none); advanced with a conditional update so one replica applies it.
    applied_index BIGINT NOT NULL DEFAULT -1,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE rotation_log (
    id BIGSERIAL PRIMARY KEY,
    plan_id BIGINT NOT NULL REFERENCES rotation_plans(id) ON DELETE CASCADE,
    period_index BIGINT NOT NULL,
    memberships JSONB NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    UNIQUE (plan_id, period_index)
);

CREATE INDEX tickets_queue_waiting_idx ON tickets (queue_id, assignee_id, status);
CREATE INDEX tickets_assignee_status_idx ON tickets (assignee_id, status);
