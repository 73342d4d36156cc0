DROP TABLE ticket_viewers;
DROP INDEX tickets_open_views_idx;
DROP INDEX tickets_sla_state_idx;
DROP INDEX tickets_assignee_due_idx;
DROP INDEX tickets_queue_due_idx;
ALTER TABLE tickets DROP COLUMN sla_state;
ALTER TABLE tickets DROP COLUMN next_due_at;
