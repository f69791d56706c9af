-- The staff console's replica of every workspace, built from identity's events
-- (backoffice never reads identity's schema).
CREATE TABLE tenant_directory (
    tenant_id bigint PRIMARY KEY,
    name text NOT NULL,
    slug text NOT NULL,
    country_code text NOT NULL,
    owner_user_id bigint NOT NULL,
    owner_email text NOT NULL,
    registered_at timestamptz NOT NULL
);
