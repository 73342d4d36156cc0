ALTER TABLE messages DROP COLUMN sender_status;
ALTER TABLE messages DROP COLUMN sender_name;
ALTER TABLE messages DROP COLUMN sender_email;
