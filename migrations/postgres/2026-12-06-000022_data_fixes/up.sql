-- Data fixes that need the service's own Rust code (a SQL migration cannot run it), each applied
-- once after the SQL migrations and recorded here (src/db/fixes.rs).
CREATE TABLE data_fixes (
    name TEXT PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL
);
