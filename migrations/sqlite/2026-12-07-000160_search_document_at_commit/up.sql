-- Postgres only: SQLite's FTS rows are written in process, where a statement is a function call.
SELECT 1;
