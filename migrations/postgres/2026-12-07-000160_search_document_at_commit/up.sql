-- A new ticket's search document is written once, when its transaction commits, from everything
-- the transaction wrote (number, subject, requester, first message). Before, the ticket's insert
-- wrote the head and the first message's insert rewrote the row with its words: two row
-- versions, two TOAST writes and two sets of GIN entries for every ticket created. Until the
-- commit the ticket has no row, so the message and update triggers (which update the row) leave
-- it alone; later messages still append to the document at once.
CREATE FUNCTION search_ticket_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Not for a ticket its own transaction deleted again.
    INSERT INTO ticket_search (ticket_id, doc)
    SELECT NEW.id, search_document(NEW.id) WHERE EXISTS (SELECT 1 FROM tickets WHERE id = NEW.id)
    ON CONFLICT (ticket_id) DO UPDATE SET doc = EXCLUDED.doc;
    RETURN NULL;
END $$;
DROP TRIGGER ticket_search_insert ON tickets;
CREATE CONSTRAINT TRIGGER ticket_search_insert AFTER INSERT ON tickets
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION search_ticket_created();
