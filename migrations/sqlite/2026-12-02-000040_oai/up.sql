-- OAI-PMH: one record per dataset that has been published, kept in step by
-- federation::sync_dataset inside the publishing and deaccessioning transactions (and
-- filled at start for datasets published before it existed). Harvests page through it
-- by (datestamp, dataset_id). A deaccessioned dataset keeps its row, marked deleted
-- (deletedRecord: persistent), with its sets, so selective harvests still see it.
CREATE TABLE oai_records (
    dataset_id INTEGER PRIMARY KEY NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    datestamp TIMESTAMP NOT NULL,
    deleted BOOLEAN NOT NULL
);
CREATE INDEX oai_records_datestamp ON oai_records(datestamp, dataset_id);

CREATE TABLE oai_set_members (
    dataset_id BIGINT NOT NULL REFERENCES oai_records(dataset_id) ON DELETE CASCADE,
    set_spec TEXT NOT NULL,
    set_name TEXT NOT NULL,
    PRIMARY KEY (dataset_id, set_spec)
);
CREATE INDEX oai_set_members_spec ON oai_set_members(set_spec, dataset_id);
