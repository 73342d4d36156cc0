-- Ticket search moved to the full-text index (migration 000050): the folded subject was still
-- written on every ticket creation and subject change for nothing.
ALTER TABLE tickets DROP COLUMN search_text;
