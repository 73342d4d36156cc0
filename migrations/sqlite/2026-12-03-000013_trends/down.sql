DROP TABLE trend_alerts;
ALTER TABLE opportunities DROP COLUMN source;
ALTER TABLE categories DROP COLUMN department_id;
