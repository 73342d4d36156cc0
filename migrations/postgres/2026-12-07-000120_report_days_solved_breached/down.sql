ALTER TABLE report_days DROP COLUMN solved_breached;
