-- Members' availability for new conversations; heartbeats tell whether they are really there.
ALTER TABLE users ADD COLUMN is_available boolean NOT NULL DEFAULT true;
ALTER TABLE users ADD COLUMN last_heartbeat_at timestamptz;
-- The status last announced in an event, so every change is announced exactly once.
ALTER TABLE users ADD COLUMN announced_status text NOT NULL DEFAULT 'away';
CREATE INDEX users_heartbeat ON users (last_heartbeat_at) WHERE is_available AND announced_status = 'available';
