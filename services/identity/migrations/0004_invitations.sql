-- Team invitations. The token is looked up by its digest and kept sealed (encrypted) so that
-- "resend" can send the very same link.
CREATE TABLE invitations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email text NOT NULL,
    role text NOT NULL CHECK (role IN ('owner', 'agent')),
    token_hash bytea NOT NULL UNIQUE,
    token_sealed text NOT NULL,
    invited_by bigint,
    expires_at timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_user_id bigint,
    cancelled_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX invitations_tenant ON invitations (tenant_id, created_at);
