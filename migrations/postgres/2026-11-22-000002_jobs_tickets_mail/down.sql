DROP TABLE muted_notifications;
DROP TABLE outbox;
DROP TABLE ticket_events;
DROP TABLE ticket_items;
DROP TABLE tickets;
DROP TABLE file_validations;
DROP TABLE validation_runs;
ALTER TABLE dataset_versions DROP COLUMN standards;
DROP TABLE jobs;
