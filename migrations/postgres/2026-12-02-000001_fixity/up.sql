-- Fixity: every byte in OCFL storage the archive vouches for (content files and
-- inventories), when it was last re-read and re-hashed, and the full history of checks.
CREATE TABLE stored_files (
    id BIGSERIAL PRIMARY KEY,
    dataset_id BIGINT NOT NULL REFERENCES datasets(id),
    object_id TEXT NOT NULL,
    -- 'content' (a manifest content file) or 'inventory' (inventory.json, vN/inventory.json)
    kind TEXT NOT NULL CHECK (kind IN ('content', 'inventory')),
    -- relative to the object root, e.g. v1/content/data/a.csv
    content_path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    -- 'ok' or 'damaged' (the last check failed and no repair has succeeded since)
    state TEXT NOT NULL CHECK (state IN ('ok', 'damaged')),
    last_outcome TEXT NOT NULL,
    last_checked_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (object_id, content_path)
);
CREATE INDEX stored_files_due ON stored_files(last_checked_at, id);
CREATE INDEX stored_files_dataset ON stored_files(dataset_id, content_path);
CREATE INDEX stored_files_sha256 ON stored_files(sha256);

CREATE TABLE fixity_checks (
    id BIGSERIAL PRIMARY KEY,
    -- NULL for a file found in an object that nothing accounts for (outcome 'extra')
    stored_file_id BIGINT REFERENCES stored_files(id),
    dataset_id BIGINT NOT NULL REFERENCES datasets(id),
    content_path TEXT NOT NULL,
    checked_at TIMESTAMP NOT NULL,
    -- ok | mismatch | missing | unreadable | extra | repaired | quarantined
    outcome TEXT NOT NULL,
    expected_sha256 TEXT,
    found_sha256 TEXT,
    expected_size BIGINT,
    found_size BIGINT,
    detail TEXT NOT NULL
);
CREATE INDEX fixity_checks_file ON fixity_checks(stored_file_id, id);
CREATE INDEX fixity_checks_dataset ON fixity_checks(dataset_id, id);
CREATE INDEX fixity_checks_time ON fixity_checks(checked_at);

-- One audit pass (a scheduled sweep, or a run from the command line): throughput and counts.
CREATE TABLE fixity_runs (
    id BIGSERIAL PRIMARY KEY,
    run_kind TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    files BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    busy_ms BIGINT NOT NULL
);
CREATE INDEX fixity_runs_time ON fixity_runs(finished_at);
