DROP INDEX replica_objects_source_dataset;
ALTER TABLE replica_objects DROP COLUMN source_dataset_id;
