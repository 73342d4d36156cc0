-- Ticket search (`q`) is a substring match on the folded subject (`search_text LIKE '%…%'`): a
-- trigram index turns it into an index lookup instead of a scan of every ticket. pg_trgm is a
-- trusted extension (the database's owner may create it); it goes to `public`, shared by every
-- schema of the database, so a service kept in its own schema finds it too.
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
CREATE INDEX tickets_search_trgm_idx ON tickets USING gin (search_text public.gin_trgm_ops);
