-- Postgres only (a trigram index for ticket search); SQLite keeps scanning, which is fine at the
-- embedded default's size. The migration exists so both backends have the same history.
SELECT 1;
