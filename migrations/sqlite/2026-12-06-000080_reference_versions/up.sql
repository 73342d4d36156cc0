-- Reference data cached by each replica (src/reference.rs): a version per kind, changed in the
-- transaction that changes the data. Versions start random so that caches of two databases (test
-- files in one process) never take each other's data for their own.
CREATE TABLE reference_versions (
    name TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO reference_versions (name, version) VALUES ('calendars', random() / 4096), ('sla_policies', random() / 4096);
