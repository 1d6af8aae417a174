-- PREMIS 3 events: every preservation action, append-only.
CREATE TABLE premis_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_uuid TEXT NOT NULL UNIQUE,
    dataset_id BIGINT REFERENCES datasets(id) ON DELETE SET NULL,
    version_number INTEGER,
    file_path TEXT,
    file_sha256 TEXT,
    event_type TEXT NOT NULL,
    event_datetime TIMESTAMP NOT NULL,
    detail TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'warning')),
    outcome_detail TEXT NOT NULL,
    agent_type TEXT NOT NULL,
    agent_name TEXT NOT NULL,
    agent_user_id BIGINT REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX premis_events_dataset ON premis_events(dataset_id, id);
