-- Samples of published datasets (see src/samples): one row per sample the latest
-- published version of a dataset describes (its sample metadata files) or uses (its
-- data files), rebuilt from that version's validation reports at each publication.
CREATE TABLE samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_id BIGINT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    version_id BIGINT NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
    igsn TEXT,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    parent_igsn TEXT,
    file_path TEXT NOT NULL,
    described BOOLEAN NOT NULL,
    attrs TEXT NOT NULL
);
CREATE INDEX samples_igsn ON samples(igsn);
CREATE INDEX samples_name ON samples(name_key);
CREATE INDEX samples_parent ON samples(parent_igsn);
CREATE INDEX samples_dataset ON samples(dataset_id);
