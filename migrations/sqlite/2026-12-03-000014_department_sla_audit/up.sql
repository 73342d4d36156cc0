-- Each department's internal SLA: business minutes to acknowledge and to answer what Atención
-- Usuaria sends it, on a business calendar (checked by the application: calendars are never
-- deleted), with a warning at a share of the target.
ALTER TABLE departments ADD COLUMN sla_ack_minutes INTEGER NOT NULL DEFAULT 540;
ALTER TABLE departments ADD COLUMN sla_answer_minutes INTEGER NOT NULL DEFAULT 5400;
ALTER TABLE departments ADD COLUMN sla_warn_percent INTEGER NOT NULL DEFAULT 80;
ALTER TABLE departments ADD COLUMN sla_calendar_id BIGINT;
UPDATE departments SET sla_calendar_id = (SELECT id FROM calendars WHERE slug = 'horario-habil');

-- One clock per item sent to a department (escalation or opportunity) and metric (ack, answer),
-- with the targets in force when it started. warned_at and breached_at are set once, by the
-- scanner that claimed the row.
CREATE TABLE department_sla_clocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    department_id BIGINT NOT NULL REFERENCES departments(id),
    item_kind TEXT NOT NULL,
    item_id BIGINT NOT NULL,
    metric TEXT NOT NULL,
    target_minutes INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    warn_at TEXT,
    due_at TEXT NOT NULL,
    stopped_at TEXT,
    warned_at TEXT,
    breached_at TEXT,
    UNIQUE (item_kind, item_id, metric)
);
CREATE INDEX department_sla_clocks_due_idx ON department_sla_clocks (due_at)
    WHERE stopped_at IS NULL AND breached_at IS NULL;
CREATE INDEX department_sla_clocks_warn_idx ON department_sla_clocks (warn_at)
    WHERE stopped_at IS NULL AND warned_at IS NULL;
CREATE INDEX department_sla_clocks_department_idx ON department_sla_clocks (department_id, due_at);

-- Who read or changed escalated tickets and improvement opportunities.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id BIGINT NOT NULL REFERENCES agents(id),
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id BIGINT NOT NULL,
    department_id BIGINT REFERENCES departments(id),
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX audit_log_object_idx ON audit_log (object_type, object_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_at_idx ON audit_log (at);
