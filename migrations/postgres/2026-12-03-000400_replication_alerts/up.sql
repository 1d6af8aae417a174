-- Alert tickets of the replication policy (kind 'replication').
ALTER TABLE tickets DROP CONSTRAINT tickets_kind_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_kind_check
    CHECK (kind IN ('validation', 'manual', 'fixity', 'replication'));
