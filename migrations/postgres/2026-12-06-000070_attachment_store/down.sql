DROP INDEX attachments_sha256_idx;
DROP TABLE attachment_blobs;
DROP TABLE attachment_files;
