-- Account deletion requests waiting out their grace period.
ALTER TABLE users ADD COLUMN deletion_requested_at timestamptz;
ALTER TABLE users ADD COLUMN deletion_scheduled_for timestamptz;
CREATE INDEX users_deletion_due ON users (deletion_scheduled_for) WHERE deletion_scheduled_for IS NOT NULL;
