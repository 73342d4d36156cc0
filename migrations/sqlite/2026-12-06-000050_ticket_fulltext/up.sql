-- Full-text search over tickets: an FTS5 table with one row per ticket (rowid = ticket id), kept
-- current by triggers in the transaction that writes the ticket, its messages or its requester.
-- SQLite has no Spanish stemmer: `search_stems()` is registered by the application on every
-- connection (`domain::search::index_stems`: folded, stopwords dropped, Snowball Spanish stems),
-- and queries are stemmed the same way. Columns say where a word came from, so a query can be
-- limited to what the caller may read.
CREATE VIRTUAL TABLE ticket_fts USING fts5(head, requester, body, notes, tokenize = 'unicode61 remove_diacritics 2');

-- Number (`AU-2026-000123` → `au2026000123` and `000123`) and subject.
CREATE VIEW ticket_fts_source AS
SELECT t.id AS ticket_id,
       search_stems(lower(replace(t.number, '-', '')) || ' ' || substr(t.number, 9) || ' ' || t.subject) AS head,
       (SELECT search_stems(r.name || ' ' || coalesce(r.email, '') || ' ' || lower(replace(coalesce(r.rut, ''), '-', '')))
        FROM requesters r WHERE r.id = t.requester_id) AS requester,
       coalesce((SELECT group_concat(search_stems(m.body_text), ' ') FROM messages m
                 WHERE m.ticket_id = t.id AND m.visibility <> 'internal'), '') AS body,
       coalesce((SELECT group_concat(search_stems(m.body_text), ' ') FROM messages m
                 WHERE m.ticket_id = t.id AND m.visibility = 'internal'), '') AS notes
FROM tickets t;

INSERT INTO ticket_fts (rowid, head, requester, body, notes)
SELECT ticket_id, head, requester, body, notes FROM ticket_fts_source;

CREATE TRIGGER ticket_fts_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_fts (rowid, head, requester, body, notes)
    SELECT ticket_id, head, requester, '', '' FROM ticket_fts_source WHERE ticket_id = NEW.id;
END;

CREATE TRIGGER ticket_fts_update AFTER UPDATE OF number, subject, requester_id ON tickets
WHEN OLD.number IS NOT NEW.number OR OLD.subject IS NOT NEW.subject OR OLD.requester_id IS NOT NEW.requester_id
BEGIN
    UPDATE ticket_fts SET (head, requester) = (SELECT head, requester FROM ticket_fts_source WHERE ticket_id = NEW.id)
    WHERE rowid = NEW.id;
END;

-- A new message adds its words to the ticket's row (messages are appended, never rewritten).
CREATE TRIGGER message_fts_insert_public AFTER INSERT ON messages WHEN NEW.visibility <> 'internal' BEGIN
    UPDATE ticket_fts SET body = body || ' ' || search_stems(NEW.body_text) WHERE rowid = NEW.ticket_id;
END;

CREATE TRIGGER message_fts_insert_internal AFTER INSERT ON messages WHEN NEW.visibility = 'internal' BEGIN
    UPDATE ticket_fts SET notes = notes || ' ' || search_stems(NEW.body_text) WHERE rowid = NEW.ticket_id;
END;

CREATE TRIGGER message_fts_update AFTER UPDATE OF body_text, visibility, ticket_id ON messages BEGIN
    UPDATE ticket_fts SET (body, notes) = (SELECT body, notes FROM ticket_fts_source WHERE ticket_id = ticket_fts.rowid)
    WHERE rowid IN (OLD.ticket_id, NEW.ticket_id);
END;

CREATE TRIGGER requester_fts_update AFTER UPDATE OF name, email, rut ON requesters
WHEN OLD.name IS NOT NEW.name OR OLD.email IS NOT NEW.email OR OLD.rut IS NOT NEW.rut
BEGIN
    UPDATE ticket_fts SET requester = (SELECT requester FROM ticket_fts_source WHERE ticket_id = ticket_fts.rowid)
    WHERE rowid IN (SELECT id FROM tickets WHERE requester_id = NEW.id);
END;
