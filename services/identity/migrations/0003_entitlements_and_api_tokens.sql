-- Entitlements replicated from billing's events (billing owns plans), read into every principal.
CREATE TABLE entitlements (
    tenant_id bigint PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    plan text NOT NULL,
    status text NOT NULL,
    features text[] NOT NULL,
    limits jsonb NOT NULL,
    changed_at timestamptz NOT NULL
);

CREATE INDEX tokens_tenant_kind ON tokens (tenant_id, kind) WHERE revoked_at IS NULL;
