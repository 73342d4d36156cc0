-- Ticket search moved to the full-text index (migration 000050): the folded subject and its
-- trigram index were still written on every ticket creation and subject change for nothing.
DROP INDEX IF EXISTS tickets_search_trgm_idx;
ALTER TABLE tickets DROP COLUMN search_text;
