-- Customer webhook endpoints, one delivery per (event, endpoint), and every attempt.
CREATE TABLE endpoints (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    url text NOT NULL,
    description text,
    events text[] NOT NULL,
    secret_sealed text NOT NULL,               -- whsec_…, encrypted (services/kit/crypto.py)
    previous_secret_sealed text,               -- still signs until previous_secret_expires_at
    previous_secret_expires_at timestamptz,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    disabled_reason text,
    disabled_at timestamptz,
    failing_since timestamptz,                 -- first failure of the current failing streak
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX endpoints_tenant ON endpoints (tenant_id, created_at);

CREATE TABLE deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    endpoint_id bigint NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    event_id text NOT NULL,                    -- body id and webhook-id: stable across retries
    event_type text NOT NULL,
    payload text NOT NULL,                     -- the exact body sent
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts int NOT NULL DEFAULT 0,
    -- When the next attempt is due; while an attempt runs, a lease: a crashed worker's claim
    -- comes due again after it.
    next_attempt_at timestamptz,
    last_status_code int,
    last_error text,
    created_at timestamptz NOT NULL,
    delivered_at timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at);

CREATE TABLE attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number int NOT NULL,
    started_at timestamptz NOT NULL,
    status_code int,
    latency_ms int NOT NULL,
    response_body text,
    error text,
    succeeded boolean NOT NULL
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, number);

-- Who to tell when an endpoint is disabled: the workspace's owners (from identity's events).
CREATE TABLE tenant_owners (
    tenant_id bigint NOT NULL,
    user_id bigint NOT NULL,
    email text NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
