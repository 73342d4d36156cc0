-- Tickets escalated to other departments: a consultation (Atención Usuaria keeps the
-- conversation) or a transfer (the department's queue owns the ticket).
CREATE TABLE escalations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    department_id BIGINT NOT NULL REFERENCES departments(id),
    mode TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    reason TEXT NOT NULL,
    -- Whether the department may see the requester's contact data (email, phone, RUT).
    grant_pii BOOLEAN NOT NULL DEFAULT FALSE,
    -- NULL: escalated by the SLA engine.
    requested_by BIGINT REFERENCES agents(id),
    answer TEXT,
    answered_by BIGINT REFERENCES agents(id),
    created_at TEXT NOT NULL,
    answered_at TEXT
);
CREATE INDEX escalations_department_idx ON escalations (department_id, status);
CREATE INDEX escalations_ticket_idx ON escalations (ticket_id);
