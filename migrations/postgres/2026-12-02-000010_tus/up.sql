-- Resumable (tus) uploads in progress. The bytes are in STAGING/tus/<id>.bin; the row
-- says how many of them are durable (upload_offset) and carries the SHA-256 state
-- after those bytes, so a resume (after a restart, or on another node) neither trusts
-- unsynced bytes nor re-reads what was received.
CREATE TABLE tus_uploads (
    id TEXT PRIMARY KEY,
    owner_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    dataset_id BIGINT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    upload_length BIGINT NOT NULL,
    upload_offset BIGINT NOT NULL,
    hash_state BYTEA NOT NULL,
    expected_sha256 TEXT,
    metadata TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP
);
CREATE INDEX tus_uploads_expires ON tus_uploads(expires_at);
CREATE INDEX tus_uploads_owner ON tus_uploads(owner_id);
