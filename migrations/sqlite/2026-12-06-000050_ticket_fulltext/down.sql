DROP TRIGGER requester_fts_update;
DROP TRIGGER message_fts_update;
DROP TRIGGER message_fts_insert_internal;
DROP TRIGGER message_fts_insert_public;
DROP TRIGGER ticket_fts_update;
DROP TRIGGER ticket_fts_insert;
DROP VIEW ticket_fts_source;
DROP TABLE ticket_fts;
