-- The only persisted bit of the checklist: the owner dismissed it.
ALTER TABLE tenants ADD COLUMN onboarding_dismissed_at timestamptz;
