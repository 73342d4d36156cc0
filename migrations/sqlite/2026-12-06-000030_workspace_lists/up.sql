-- The agents' workspace: each ticket's SLA summary kept on the ticket (so lists filter and sort by
-- it through indexes at 1M tickets), and who is looking at which ticket. Keep in step with
-- migrations/postgres.

-- Earliest pending breach deadline, and `ok` / `warning` (a warned clock still running) /
-- `breached` (a breach fired); NULL when no SLA applies. Written by the SLA engine and scanner
-- with the deadlines they come from.
ALTER TABLE tickets ADD COLUMN next_due_at TEXT;
ALTER TABLE tickets ADD COLUMN sla_state TEXT;

UPDATE tickets AS t SET
    next_due_at = (SELECT min(d.due_at) FROM sla_deadlines d
                   WHERE d.ticket_id = t.id AND d.kind = 'breach' AND d.fired_at IS NULL),
    sla_state = CASE
        WHEN EXISTS (SELECT 1 FROM sla_deadlines d WHERE d.ticket_id = t.id AND d.kind = 'breach' AND d.fired_at IS NOT NULL)
            THEN 'breached'
        WHEN EXISTS (SELECT 1 FROM sla_deadlines w JOIN sla_deadlines b
                     ON b.ticket_id = w.ticket_id AND b.metric = w.metric AND b.instance = w.instance
                     WHERE w.ticket_id = t.id AND w.kind = 'warning' AND w.fired_at IS NOT NULL
                       AND b.kind = 'breach' AND b.fired_at IS NULL)
            THEN 'warning'
        ELSE 'ok' END
WHERE EXISTS (SELECT 1 FROM sla_deadlines d WHERE d.ticket_id = t.id);

-- "Sort by due" within a queue or an agent's tickets: tickets without a due time last.
CREATE INDEX tickets_queue_due_idx ON tickets (queue_id, (next_due_at IS NULL), next_due_at, id);
CREATE INDEX tickets_assignee_due_idx ON tickets (assignee_id, (next_due_at IS NULL), next_due_at, id);
-- "En riesgo" / "Vencidos" lists, and the views' counts of open tickets in one index-only scan.
CREATE INDEX tickets_sla_state_idx ON tickets (sla_state, status, id);
CREATE INDEX tickets_open_views_idx ON tickets (status, queue_id, assignee_id, sla_state);

-- Who has a ticket open in the workspace: a heartbeat row per agent and ticket, expired after
-- 30 s without one. In the database so every replica sees the same viewers.
CREATE TABLE ticket_viewers (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    agent_id BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    since TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (ticket_id, agent_id)
);
CREATE INDEX ticket_viewers_seen_idx ON ticket_viewers (seen_at);
