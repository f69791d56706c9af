-- The directory follows each workspace's status (set through the backoffice), plan (billing's
-- announcements) and member count (identity's events).
ALTER TABLE tenant_directory ADD COLUMN status text NOT NULL DEFAULT 'active';
ALTER TABLE tenant_directory ADD COLUMN plan text NOT NULL DEFAULT '';
ALTER TABLE tenant_directory ADD COLUMN members integer NOT NULL DEFAULT 1;
CREATE INDEX tenant_directory_registered ON tenant_directory (registered_at, tenant_id);

-- Every staff mutation: who, what, target, before/after summary, request id, time. No API edits
-- or deletes it; the only change allowed is the erasure of a workspace, which clears the
-- summaries of its entries (ids stay).
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_id bigint NOT NULL,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id bigint NOT NULL,
    tenant_id bigint,
    before jsonb,
    after jsonb,
    request_id text NOT NULL,
    impersonated_user_id bigint,
    created_at timestamptz NOT NULL
);
CREATE INDEX audit_log_staff ON audit_log (staff_id, id);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);

-- (The migration runner splits statements at a `;` that ends a line: the body keeps its inner
-- semicolons mid-line.)
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'audit_log is append-only'; END IF; IF
       NEW.id <> OLD.id OR NEW.staff_id <> OLD.staff_id OR NEW.action <> OLD.action
       OR NEW.target_type <> OLD.target_type OR NEW.target_id <> OLD.target_id
       OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id OR NEW.request_id <> OLD.request_id
       OR NEW.created_at <> OLD.created_at
       OR NEW.impersonated_user_id IS DISTINCT FROM OLD.impersonated_user_id
       OR NEW.before IS NOT NULL OR NEW.after IS NOT NULL
    THEN RAISE EXCEPTION 'audit_log is append-only (only an erasure clears summaries)'; END IF; RETURN NEW; END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
