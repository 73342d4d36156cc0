-- Who really wrote an inbound mail: its From (address and name) and how the sender relates to the
-- ticket when it arrived (`requester`, `cc` or `unknown`). NULL for messages that came no other way
-- than through the API, the form or the phone.
ALTER TABLE messages ADD COLUMN sender_email TEXT;
ALTER TABLE messages ADD COLUMN sender_name TEXT;
ALTER TABLE messages ADD COLUMN sender_status TEXT;
