-- Of the tickets solved on a day, those that breached an SLA target (any `sla_breached` event): the
-- quality report's SLA column, read from the rollup instead of the month's solved tickets. The
-- rollup is derived state: it is built again, with the new column, on its next refresh.
ALTER TABLE report_days ADD COLUMN solved_breached BIGINT NOT NULL DEFAULT 0;
UPDATE report_rollup SET built = FALSE;
