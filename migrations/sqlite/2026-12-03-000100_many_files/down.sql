ALTER TABLE jobs DROP COLUMN progress_total;
ALTER TABLE jobs DROP COLUMN progress_done;
ALTER TABLE jobs DROP COLUMN progress_phase;
DROP INDEX stored_files_dataset_state;
DROP TABLE version_folders;
DROP INDEX version_files_content;
DROP INDEX version_files_folder_size;
DROP INDEX version_files_folder;
ALTER TABLE version_files DROP COLUMN folder;
