-- The curator who claimed a submission, and why a published dataset was withdrawn.
ALTER TABLE datasets ADD COLUMN assignee_id BIGINT REFERENCES users(id);
ALTER TABLE datasets ADD COLUMN deaccession_reason TEXT;
CREATE INDEX datasets_assignee ON datasets(assignee_id, state);
