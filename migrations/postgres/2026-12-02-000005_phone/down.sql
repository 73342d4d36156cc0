DROP TABLE call_events;
DROP TABLE calls;
DROP TABLE blocked_numbers;
ALTER TABLE tickets DROP COLUMN kind;
DROP INDEX agents_extension_idx;
ALTER TABLE agents DROP COLUMN extension;
