DROP INDEX datasets_assignee;
ALTER TABLE datasets DROP COLUMN deaccession_reason;
ALTER TABLE datasets DROP COLUMN assignee_id;
