-- The folder of each file (its path up to the last '/', '' at the top), so a listing
-- pages one folder and sums the folders below it without reading every row.
ALTER TABLE version_files ADD COLUMN folder TEXT NOT NULL DEFAULT '';
UPDATE version_files SET folder = CASE
    WHEN position('/' in path) = 0 THEN ''
    ELSE regexp_replace(path, '/[^/]*$', '')
END;
CREATE INDEX version_files_folder ON version_files(version_id, folder, path);
CREATE INDEX version_files_folder_size ON version_files(version_id, folder, size);
-- Files and bytes directly in each folder of a version, kept in step with version_files
-- by the code that changes them: a listing sums the folders below it from these rows.
CREATE TABLE version_folders (
    version_id BIGINT NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
    folder TEXT NOT NULL,
    files BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    PRIMARY KEY (version_id, folder)
);
INSERT INTO version_folders (version_id, folder, files, bytes)
    SELECT version_id, folder, COUNT(*), COALESCE(SUM(size), 0) FROM version_files
    GROUP BY version_id, folder;
-- A version's stored files found from the fixity register (a page's "verified" line).
CREATE INDEX version_files_content ON version_files(version_id, content_path);
CREATE INDEX stored_files_dataset_state ON stored_files(dataset_id, state, last_checked_at);
-- Byte order for the prefix ranges of path conflict checks, whatever the database's
-- collation.
CREATE INDEX version_files_case_bytes ON version_files(version_id, (case_key COLLATE "C"));

-- What a running job is doing, for the pages that wait on it (publication).
ALTER TABLE jobs ADD COLUMN progress_phase TEXT;
ALTER TABLE jobs ADD COLUMN progress_done BIGINT;
ALTER TABLE jobs ADD COLUMN progress_total BIGINT;
