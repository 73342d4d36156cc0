DROP TABLE outbox;
DROP TABLE email_quarantine;
DROP TABLE attachments;
DROP TABLE ticket_ccs;
DROP TABLE email_messages;
