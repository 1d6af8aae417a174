-- Usage counts, COUNTER-style: a landing-page view or a download counts once per
-- visitor per dataset per hour; robots are not counted.

-- The totals, per dataset version and kind.
CREATE TABLE usage_counts (
    dataset_id BIGINT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    version_number INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('view', 'download')),
    hits BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, version_number, kind)
);

-- Who was already counted this hour: a salted hash of client address and user agent,
-- never the address itself. Rows are deleted an hour after their hour is over.
CREATE TABLE usage_visits (
    dataset_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    visitor TEXT NOT NULL,
    hour_start TIMESTAMP NOT NULL,
    PRIMARY KEY (dataset_id, kind, visitor, hour_start)
);
CREATE INDEX usage_visits_hour ON usage_visits(hour_start);

-- One random salt per UTC day, shared by every process; old days' salts are deleted,
-- so a visitor's hashes of different days cannot be linked.
CREATE TABLE usage_salts (
    day TEXT PRIMARY KEY NOT NULL,
    salt TEXT NOT NULL
);
