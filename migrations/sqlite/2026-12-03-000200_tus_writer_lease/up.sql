-- The request writing to a resumable upload, across all nodes: a lease that its
-- holder renews while bytes arrive and clears when it has committed. Another node's
-- HEAD waits for it (so it reports the offset a resume must start from) and another
-- PATCH does not write into the file meanwhile. An expired lease (a crashed node) is
-- free to take.
ALTER TABLE tus_uploads ADD COLUMN writer TEXT;
ALTER TABLE tus_uploads ADD COLUMN writer_until TIMESTAMP;
