DROP INDEX dois_dataset;
ALTER TABLE dois DROP COLUMN provider_synced_at;
ALTER TABLE dois DROP COLUMN provider;
ALTER TABLE dois DROP COLUMN provider_state;
