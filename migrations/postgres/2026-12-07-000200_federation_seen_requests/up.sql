-- Signed federation requests already answered, so a captured request cannot be
-- replayed within its validity window (rows older than the window are purged).
CREATE TABLE federation_seen_requests (
    signature TEXT PRIMARY KEY NOT NULL,
    seen_at TIMESTAMP NOT NULL
);
CREATE INDEX federation_seen_requests_seen_at ON federation_seen_requests(seen_at);
