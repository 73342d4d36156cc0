-- Stored attachment contents, one row per SHA-256 whichever store keeps the bytes: its malware
-- scan and the bookkeeping of the garbage sweep. Keep in step with migrations/sqlite.
CREATE TABLE attachment_files (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    -- unscanned (no clamd configured), pending, clean or infected
    scan TEXT NOT NULL,
    -- the signature found, or why the last scan failed
    scan_detail TEXT,
    -- when a scanner may next take it (a claim lasts until then; a failed scan retries then)
    next_scan_at TIMESTAMPTZ NOT NULL,
    -- the last time a writer stored (or reused) the bytes: the sweep spares recent ones
    last_put_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX attachment_files_pending ON attachment_files (next_scan_at) WHERE scan = 'pending';

-- The bytes themselves with `[attachments] store = "database"` (shared by every replica).
CREATE TABLE attachment_blobs (
    sha256 TEXT PRIMARY KEY,
    bytes BYTEA NOT NULL
);

CREATE INDEX attachments_sha256_idx ON attachments (sha256);

-- Files stored before this table existed were never scanned.
INSERT INTO attachment_files (sha256, size, scan, next_scan_at, last_put_at)
SELECT sha256, max(size), 'unscanned', now(), now() FROM attachments GROUP BY sha256;
