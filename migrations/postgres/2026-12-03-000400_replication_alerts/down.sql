DELETE FROM ticket_events WHERE ticket_id IN (SELECT id FROM tickets WHERE kind = 'replication');
DELETE FROM ticket_items WHERE ticket_id IN (SELECT id FROM tickets WHERE kind = 'replication');
DELETE FROM tickets WHERE kind = 'replication';
ALTER TABLE tickets DROP CONSTRAINT tickets_kind_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_kind_check
    CHECK (kind IN ('validation', 'manual', 'fixity'));
