-- Reference data cached by each replica (src/reference.rs): a version per kind, changed in the
-- transaction that changes the data. Versions start random so that caches of two databases (test
-- schemas in one process) never take each other's data for their own.
CREATE TABLE reference_versions (
    name TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO reference_versions (name, version)
VALUES ('calendars', (random() * 4e15)::bigint), ('sla_policies', (random() * 4e15)::bigint);
