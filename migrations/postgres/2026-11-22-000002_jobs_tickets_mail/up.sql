-- Durable background jobs: claimed with a lease (locked_until) so a crashed worker's
-- job is picked up again; retried with backoff until max_attempts.
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    dedupe_key TEXT,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    run_after TIMESTAMP NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE INDEX jobs_ready ON jobs(state, run_after);
CREATE INDEX jobs_dedupe ON jobs(dedupe_key, state);

-- The standards a depositor says the dataset follows (JSON list of names).
ALTER TABLE dataset_versions ADD COLUMN standards TEXT NOT NULL DEFAULT '[]';

-- One validation run over a draft version's files.
CREATE TABLE validation_runs (
    id BIGSERIAL PRIMARY KEY,
    dataset_id BIGINT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    version_id BIGINT NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    reason TEXT NOT NULL,
    status TEXT,
    errors BIGINT NOT NULL,
    warnings BIGINT NOT NULL,
    files_checked INTEGER NOT NULL,
    files_reused INTEGER NOT NULL,
    bytes_checked BIGINT NOT NULL,
    dataset_findings TEXT NOT NULL,
    error TEXT,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX validation_runs_version ON validation_runs(version_id, id);

-- The latest report of each file of a version; reused while path, digest and the
-- standards' fingerprint are unchanged.
CREATE TABLE file_validations (
    id BIGSERIAL PRIMARY KEY,
    version_id BIGINT NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    errors BIGINT NOT NULL,
    warnings BIGINT NOT NULL,
    report TEXT NOT NULL,
    checked_at TIMESTAMP NOT NULL,
    UNIQUE (version_id, path)
);

CREATE TABLE tickets (
    id BIGSERIAL PRIMARY KEY,
    dataset_id BIGINT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('validation', 'manual', 'fixity')),
    title TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    opened_by BIGINT REFERENCES users(id),
    assignee_id BIGINT REFERENCES users(id),
    due_date DATE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP
);
CREATE INDEX tickets_dataset ON tickets(dataset_id, kind);
CREATE INDEX tickets_state ON tickets(state, created_at);
CREATE INDEX tickets_assignee ON tickets(assignee_id, state);

-- One item per (file, check) of a validation ticket; never deleted, only its state moves.
CREATE TABLE ticket_items (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    file TEXT NOT NULL,
    code TEXT NOT NULL,
    standard TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('error', 'warning')),
    state TEXT NOT NULL CHECK (state IN ('open', 'fixed', 'waived')),
    occurrences BIGINT NOT NULL,
    message TEXT NOT NULL,
    findings TEXT NOT NULL,
    waiver_reason TEXT,
    waived_by BIGINT REFERENCES users(id),
    waived_at TIMESTAMP,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    UNIQUE (ticket_id, file, code)
);

-- The thread and history of a ticket: comments and every change, append-only.
CREATE TABLE ticket_events (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    item_id BIGINT REFERENCES ticket_items(id),
    actor_id BIGINT REFERENCES users(id),
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    attachment_name TEXT,
    attachment_blob TEXT,
    attachment_size BIGINT,
    attachment_sha256 TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, id);

-- Mail is written here first (in the transaction that causes it) and delivered by a job.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    recipient_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    to_address TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_state ON outbox(state, created_at);

-- Notification kinds a user turned off (absent = on).
CREATE TABLE muted_notifications (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    PRIMARY KEY (user_id, kind)
);
