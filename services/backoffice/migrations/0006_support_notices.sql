-- Support notices through notifications: a new ticket pushes to subscribed staff, a staff reply
-- emails the member who opened the ticket. Each is marked once handed over; rows from before
-- this migration count as handed over.
ALTER TABLE tickets ADD COLUMN staff_notified_at timestamptz;
UPDATE tickets SET staff_notified_at = created_at;
CREATE INDEX tickets_staff_unnotified ON tickets (id) WHERE staff_notified_at IS NULL;
ALTER TABLE ticket_messages ADD COLUMN customer_notified_at timestamptz;
UPDATE ticket_messages SET customer_notified_at = created_at WHERE author_kind = 'staff';
CREATE INDEX ticket_messages_customer_unnotified ON ticket_messages (id)
    WHERE author_kind = 'staff' AND customer_notified_at IS NULL;
