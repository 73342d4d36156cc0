DROP TABLE sign_in_failures;
DROP TABLE password_links;
DROP TABLE sessions;
ALTER TABLE agents DROP COLUMN password_changed_at;
ALTER TABLE agents DROP COLUMN password_hash;
