-- Web push subscriptions (per member or staff account and endpoint), the pushes waiting to go
-- out, and who is available (replicated from identity's events).
CREATE TABLE push_subscriptions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_kind text NOT NULL CHECK (owner_kind IN ('user', 'staff')),
    owner_id bigint NOT NULL,
    tenant_id bigint,                      -- members only
    endpoint text NOT NULL,
    p256dh text NOT NULL,
    auth text NOT NULL,
    content_encoding text NOT NULL DEFAULT 'aes128gcm',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (owner_kind, owner_id, endpoint)
);
CREATE INDEX push_subscriptions_tenant ON push_subscriptions (tenant_id, owner_id);

CREATE TABLE push_queue (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id bigint NOT NULL REFERENCES push_subscriptions (id) ON DELETE CASCADE,
    payload text NOT NULL,
    attempts int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX push_queue_due ON push_queue (next_attempt_at);

CREATE TABLE members (
    tenant_id bigint NOT NULL,
    user_id bigint NOT NULL,
    role text NOT NULL DEFAULT 'agent',
    status text NOT NULL DEFAULT 'unavailable',  -- "available" | "away" | "unavailable"
    PRIMARY KEY (tenant_id, user_id)
);
