-- The installation's identity (src/installation.rs): one row, written by the first replica that
-- starts (INSERT ... ON CONFLICT DO NOTHING, then read), so every replica agrees on it.
CREATE TABLE installation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    installation_id TEXT NOT NULL,   -- random; live state kept elsewhere (Redis) records it
    token_secret TEXT NOT NULL,      -- random; signs links and reply addresses unless [email] token_secret is set
    created_at TIMESTAMPTZ NOT NULL
);
