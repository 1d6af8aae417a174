ALTER TABLE tus_uploads DROP COLUMN writer_until;
ALTER TABLE tus_uploads DROP COLUMN writer;
