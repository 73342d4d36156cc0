DROP TRIGGER ticket_search_insert ON tickets;
DROP FUNCTION search_ticket_created();
CREATE TRIGGER ticket_search_insert AFTER INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION search_ticket_written();
