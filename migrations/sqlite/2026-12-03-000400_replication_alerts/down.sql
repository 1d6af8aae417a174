-- Back to the ticket kinds before replication alerts (their tickets go). SQLite cannot change a
-- CHECK constraint in place, so the table is rebuilt (SQLite's documented procedure:
-- foreign keys off, new table, copy, drop, rename), outside diesel's transaction
-- (metadata.toml) because the foreign_keys pragma is a no-op inside one.
PRAGMA foreign_keys = OFF;
BEGIN;
DELETE FROM ticket_events WHERE ticket_id IN (SELECT id FROM tickets WHERE kind = 'replication');
DELETE FROM ticket_items WHERE ticket_id IN (SELECT id FROM tickets WHERE kind = 'replication');
CREATE TABLE tickets_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_id BIGINT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('validation', 'manual', 'fixity')),
    title TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    opened_by BIGINT REFERENCES users(id),
    assignee_id BIGINT REFERENCES users(id),
    due_date DATE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP
);
INSERT INTO tickets_new (id, dataset_id, kind, title, state, opened_by, assignee_id, due_date, created_at, updated_at, closed_at)
    SELECT id, dataset_id, kind, title, state, opened_by, assignee_id, due_date, created_at, updated_at, closed_at FROM tickets WHERE kind <> 'replication';
DROP TABLE tickets;
ALTER TABLE tickets_new RENAME TO tickets;
CREATE INDEX tickets_dataset ON tickets(dataset_id, kind);
CREATE INDEX tickets_state ON tickets(state, created_at);
CREATE INDEX tickets_assignee ON tickets(assignee_id, state);
COMMIT;
PRAGMA foreign_keys = ON;
