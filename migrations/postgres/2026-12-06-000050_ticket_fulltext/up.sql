-- Full-text search over tickets: one tsvector per ticket in `ticket_search`, kept current by
-- triggers in the transaction that writes the ticket, its messages or its requester.
-- Weights say where a word came from, so a query can be limited to what the caller may read:
--   A: number and subject; B: requester (name, email, RUT); C: public messages; D: internal notes.
-- unaccent is a trusted extension kept in `public` (like pg_trgm), shared by every schema.
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;

-- Lower case, no accents, only [a-z0-9] words: the same folding as `domain::search::fold`.
-- unaccent() is only STABLE (its dictionary could change); this wrapper names the dictionary
-- explicitly, which makes it safe to call from any schema's search_path.
CREATE FUNCTION search_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(lower(public.unaccent('public.unaccent'::regdictionary, coalesce(t, ''))), '[^a-z0-9]+', ' ', 'g')
$$;

-- Number (`AU-2026-000123` → `au2026000123` and `000123`) and subject.
CREATE FUNCTION search_head(number text, subject text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('simple', lower(replace(number, '-', '')) || ' ' || split_part(number, '-', 3)), 'A')
        || setweight(to_tsvector('spanish', search_fold(subject)), 'A')
$$;

-- Requester: name, email and RUT (`12345678-5` → `123456785`).
CREATE FUNCTION search_requester_doc(name text, email text, rut text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('spanish', search_fold(name || ' ' || coalesce(email, '')))
        || to_tsvector('simple', lower(replace(coalesce(rut, ''), '-', ''))), 'B')
$$;

CREATE FUNCTION search_requester(requester bigint) RETURNS tsvector LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT search_requester_doc(name, email, rut) FROM requesters WHERE id = requester), ''::tsvector)
$$;

CREATE FUNCTION search_message(body text, visibility text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('spanish', search_fold(body)), CASE WHEN visibility = 'internal' THEN 'D' ELSE 'C' END::"char")
$$;

-- The whole document of one ticket, rebuilt (subject or requester changed, backfill).
CREATE FUNCTION search_document(ticket bigint) RETURNS tsvector LANGUAGE sql STABLE AS $$
    SELECT search_head(t.number, t.subject) || search_requester(t.requester_id)
        || (SELECT search_message(string_agg(m.body_text, ' ') FILTER (WHERE m.visibility <> 'internal'), 'public')
                || search_message(string_agg(m.body_text, ' ') FILTER (WHERE m.visibility = 'internal'), 'internal')
            FROM messages m WHERE m.ticket_id = t.id)
    FROM tickets t WHERE t.id = ticket
$$;

CREATE TABLE ticket_search (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    doc TSVECTOR NOT NULL
);
-- Rows stay narrow (the document lives in TOAST), so the heap visits of a search are cheap.
ALTER TABLE ticket_search SET (toast_tuple_target = 128);
ALTER TABLE ticket_search ALTER COLUMN doc SET STORAGE EXTERNAL;

INSERT INTO ticket_search (ticket_id, doc) SELECT id, search_document(id) FROM tickets;
CREATE INDEX ticket_search_doc_idx ON ticket_search USING gin (doc);

CREATE FUNCTION search_ticket_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO ticket_search (ticket_id, doc)
        VALUES (NEW.id, search_head(NEW.number, NEW.subject) || search_requester(NEW.requester_id));
    ELSE
        UPDATE ticket_search SET doc = search_document(NEW.id) WHERE ticket_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ticket_search_insert AFTER INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION search_ticket_written();
CREATE TRIGGER ticket_search_update AFTER UPDATE OF number, subject, requester_id ON tickets
    FOR EACH ROW WHEN (OLD.number IS DISTINCT FROM NEW.number OR OLD.subject IS DISTINCT FROM NEW.subject
                       OR OLD.requester_id IS DISTINCT FROM NEW.requester_id)
    EXECUTE FUNCTION search_ticket_written();

-- A new message adds its words to the ticket's document (no rebuild: messages are appended).
CREATE FUNCTION search_message_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE ticket_search SET doc = doc || search_message(NEW.body_text, NEW.visibility)
        WHERE ticket_id = NEW.ticket_id;
    ELSE
        UPDATE ticket_search SET doc = search_document(NEW.ticket_id) WHERE ticket_id IN (OLD.ticket_id, NEW.ticket_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER message_search_insert AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION search_message_written();
CREATE TRIGGER message_search_update AFTER UPDATE OF body_text, visibility, ticket_id ON messages
    FOR EACH ROW EXECUTE FUNCTION search_message_written();

CREATE FUNCTION search_requester_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_search SET doc = search_document(ticket_id)
    WHERE ticket_id IN (SELECT id FROM tickets WHERE requester_id = NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER requester_search_update AFTER UPDATE OF name, email, rut ON requesters
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email
                       OR OLD.rut IS DISTINCT FROM NEW.rut)
    EXECUTE FUNCTION search_requester_written();
