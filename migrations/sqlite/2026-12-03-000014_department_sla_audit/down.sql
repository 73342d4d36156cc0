DROP TABLE audit_log;
DROP TABLE department_sla_clocks;
ALTER TABLE departments DROP COLUMN sla_calendar_id;
ALTER TABLE departments DROP COLUMN sla_warn_percent;
ALTER TABLE departments DROP COLUMN sla_answer_minutes;
ALTER TABLE departments DROP COLUMN sla_ack_minutes;
