-- Agents' in-app notifications, made by a follower of the committed ticket event log. Append-only
-- with increasing ids (the live stream follows them); one per agent, kind and event, so reading an
-- event twice creates nothing twice. Keep in step with migrations/sqlite.

CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    agent_id BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    read_at TIMESTAMPTZ,
    UNIQUE (agent_id, kind, event_id)
);
CREATE INDEX notifications_agent ON notifications (agent_id, id);
CREATE INDEX notifications_unread ON notifications (agent_id) WHERE read_at IS NULL;

-- How far the follower has read the event log; one row, claimed by one replica at a time. It
-- starts at the end of the log: events from before the upgrade notify nobody.
CREATE TABLE notification_follower (
    id INTEGER PRIMARY KEY,
    last_event_id BIGINT NOT NULL,
    updated_at TIMESTAMPTZ
);
INSERT INTO notification_follower (id, last_event_id) SELECT 1, COALESCE(MAX(id), 0) FROM ticket_events;
