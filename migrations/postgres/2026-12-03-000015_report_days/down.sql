DROP TABLE report_rollup;
DROP TABLE report_days;
DROP INDEX requesters_updated_idx;
