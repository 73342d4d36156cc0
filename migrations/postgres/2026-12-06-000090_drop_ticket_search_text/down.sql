ALTER TABLE tickets ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE tickets SET search_text = lower(public.unaccent(subject));
CREATE INDEX tickets_search_trgm_idx ON tickets USING gin (search_text public.gin_trgm_ops);
