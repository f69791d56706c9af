-- Workspaces, their members, staff accounts, bearer tokens and the login throttle.
CREATE TABLE tenants (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    slug text NOT NULL UNIQUE,
    country_code char(2) NOT NULL,
    tax_id text,
    timezone text NOT NULL,
    locale text NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at timestamptz NOT NULL
);

CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    email text NOT NULL,
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('owner', 'agent')),
    locale text NOT NULL,
    created_at timestamptz NOT NULL
);
-- One account per email across Plixa, compared case-insensitively.
CREATE UNIQUE INDEX users_email_unique ON users (lower(email));
CREATE INDEX users_tenant ON users (tenant_id);

CREATE TABLE staff (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX staff_email_unique ON staff (lower(email));

CREATE TABLE tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('panel', 'api', 'staff')),
    tenant_id bigint REFERENCES tenants (id) ON DELETE CASCADE,
    user_id bigint REFERENCES users (id) ON DELETE CASCADE,
    staff_id bigint REFERENCES staff (id) ON DELETE CASCADE,
    name text NOT NULL,
    secret_hash bytea NOT NULL,
    prefix text NOT NULL,
    abilities text[] NOT NULL,
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL,
    CHECK ((kind = 'staff') = (staff_id IS NOT NULL AND user_id IS NULL))
);
CREATE INDEX tokens_user ON tokens (user_id) WHERE revoked_at IS NULL;

CREATE TABLE login_failures (
    subject text NOT NULL,
    failed_at timestamptz NOT NULL
);
CREATE INDEX login_failures_subject ON login_failures (subject, failed_at);
