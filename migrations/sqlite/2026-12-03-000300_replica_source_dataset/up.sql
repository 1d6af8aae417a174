-- Replica side: the dataset id under which the source serves an object
-- (/federation/objects/{id}/...), so that a deaccession in the source's change list,
-- which names datasets, finds the replica objects it withdraws.
ALTER TABLE replica_objects ADD COLUMN source_dataset_id BIGINT;
CREATE INDEX replica_objects_source_dataset ON replica_objects(source_id, source_dataset_id);
