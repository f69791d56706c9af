-- Scheduling's catalogue, appointments, reminders, waitlist and Google links. Every row belongs to
-- a tenant (identity's workspace id; no cross-schema foreign keys). Providers are members:
-- their user ids come from identity.

CREATE TABLE services (
    id bigserial PRIMARY KEY,
    tenant_id bigint NOT NULL,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    duration_minutes integer NOT NULL CHECK (duration_minutes > 0),
    buffer_before_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_before_minutes >= 0),
    buffer_after_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes >= 0),
    price_cents bigint NOT NULL DEFAULT 0,
    currency char(3) NOT NULL DEFAULT 'BRL',
    deposit_cents bigint NOT NULL DEFAULT 0,
    requires_approval boolean NOT NULL DEFAULT false,
    provider_ids bigint[] NOT NULL DEFAULT '{}',
    resource_ids bigint[] NOT NULL DEFAULT '{}',
    reminder_offsets integer[],
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX services_tenant ON services (tenant_id, id);

CREATE TABLE resources (
    id bigserial PRIMARY KEY,
    tenant_id bigint NOT NULL,
    name text NOT NULL,
    capacity integer NOT NULL CHECK (capacity > 0),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX resources_tenant ON resources (tenant_id, id);

CREATE TABLE provider_schedules (
    provider_id bigint PRIMARY KEY,
    tenant_id bigint NOT NULL,
    timezone text NOT NULL,
    rules jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX provider_schedules_tenant ON provider_schedules (tenant_id, provider_id);

CREATE TABLE default_schedules (
    tenant_id bigint PRIMARY KEY,
    timezone text NOT NULL,
    rules jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE closures (
    id bigserial PRIMARY KEY,
    tenant_id bigint NOT NULL,
    day date NOT NULL,
    reason text NOT NULL DEFAULT '',
    source text NOT NULL CHECK (source IN ('manual', 'holiday')),
    created_at timestamptz NOT NULL,
    UNIQUE (tenant_id, day, source)
);

CREATE TABLE holiday_configs (
    tenant_id bigint PRIMARY KEY,
    block_holidays boolean NOT NULL,
    country_code char(2) NOT NULL,
    synced boolean NOT NULL DEFAULT false,
    synced_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    updated_at timestamptz NOT NULL
);
CREATE INDEX holiday_configs_unsynced ON holiday_configs (next_attempt_at)
    WHERE block_holidays AND NOT synced;

CREATE TABLE reminder_configs (
    tenant_id bigint PRIMARY KEY,
    offsets integer[],
    updated_at timestamptz NOT NULL
);

CREATE TABLE calendar_filters (
    id bigserial PRIMARY KEY,
    tenant_id bigint NOT NULL,
    user_id bigint NOT NULL,
    name text NOT NULL,
    provider_ids bigint[] NOT NULL DEFAULT '{}',
    service_ids bigint[] NOT NULL DEFAULT '{}',
    statuses text[] NOT NULL DEFAULT '{}',
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);
CREATE INDEX calendar_filters_user ON calendar_filters (tenant_id, user_id, id);
CREATE UNIQUE INDEX calendar_filters_one_default ON calendar_filters (tenant_id, user_id)
    WHERE is_default;

-- A booking blocks [block_start, block_end): its time plus the service's buffers. No two live
-- bookings of one provider may overlap: the exclusion constraint is the last word, whatever
-- the application checked before (int8range keeps it within PostgreSQL's built-in GiST
-- operator classes, no btree_gist needed). Resource capacity is counted under an advisory lock.
CREATE TABLE appointments (
    id bigserial PRIMARY KEY,
    tenant_id bigint NOT NULL,
    service_id bigint NOT NULL,
    provider_id bigint NOT NULL,
    contact_id bigint,
    resource_ids bigint[] NOT NULL DEFAULT '{}',
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    block_start timestamptz NOT NULL,
    block_end timestamptz NOT NULL,
    timezone text NOT NULL,
    status text NOT NULL CHECK (status IN (
        'pending_approval', 'confirmed', 'declined', 'arrived', 'completed', 'no_show', 'cancelled'
    )),
    notes text NOT NULL DEFAULT '',
    source text NOT NULL,
    series_id bigint,
    cancel_reason text,
    deposit_cents bigint NOT NULL DEFAULT 0,
    deposit_status text NOT NULL DEFAULT 'none',
    payment_url text,
    checkout_id text,
    google_event_id text,
    created_by_user_id bigint,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CHECK (end_at > start_at AND block_start <= start_at AND block_end >= end_at),
    CONSTRAINT appointments_no_double_booking EXCLUDE USING gist (
        int8range(provider_id, provider_id, '[]') WITH &&,
        tstzrange(block_start, block_end) WITH &&
    ) WHERE (status NOT IN ('cancelled', 'declined'))
);
CREATE INDEX appointments_feed ON appointments (tenant_id, start_at, id);
CREATE INDEX appointments_provider ON appointments (provider_id, block_start);
CREATE INDEX appointments_resources ON appointments USING gin (resource_ids);

-- One row per (appointment, offset); the job claims due rows with FOR UPDATE SKIP LOCKED and
-- marks them sent in the same transaction as the idempotent send, so each goes out once.
CREATE TABLE reminders (
    id bigserial PRIMARY KEY,
    tenant_id bigint NOT NULL,
    appointment_id bigint NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    offset_minutes integer NOT NULL,
    due_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    sent_at timestamptz,
    last_error text,
    UNIQUE (appointment_id, offset_minutes)
);
CREATE INDEX reminders_due ON reminders (next_attempt_at) WHERE status = 'pending';

CREATE TABLE waitlist (
    id bigserial PRIMARY KEY,
    tenant_id bigint NOT NULL,
    service_id bigint NOT NULL,
    provider_id bigint,
    contact_id bigint,
    phone text NOT NULL DEFAULT '',
    notes text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'offered')),
    offered_at timestamptz,
    offered_appointment_id bigint,
    created_at timestamptz NOT NULL
);
CREATE INDEX waitlist_tenant ON waitlist (tenant_id, id);
CREATE INDEX waitlist_waiting ON waitlist (tenant_id, service_id, id) WHERE status = 'waiting';

-- Offers to send after a cancellation (an outbox of our own: sent by a job through inbox).
CREATE TABLE waitlist_offers (
    id bigserial PRIMARY KEY,
    tenant_id bigint NOT NULL,
    entry_id bigint NOT NULL REFERENCES waitlist (id) ON DELETE CASCADE,
    appointment_id bigint NOT NULL,
    text text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    sent_at timestamptz,
    last_error text,
    UNIQUE (entry_id, appointment_id)
);
CREATE INDEX waitlist_offers_due ON waitlist_offers (next_attempt_at) WHERE status = 'pending';

CREATE TABLE google_links (
    user_id bigint PRIMARY KEY,
    tenant_id bigint NOT NULL,
    email text NOT NULL DEFAULT '',
    status text NOT NULL CHECK (status IN ('connected', 'broken')),
    refresh_token_sealed text NOT NULL,
    access_token_sealed text,
    access_expires_at timestamptz,
    error text,
    connected_at timestamptz NOT NULL,
    busy_synced_at timestamptz
);

CREATE TABLE google_oauth_states (
    state_hash bytea PRIMARY KEY,
    tenant_id bigint NOT NULL,
    user_id bigint NOT NULL,
    expires_at timestamptz NOT NULL
);

-- Outside commitments read from a member's Google free/busy (refreshed by a job).
CREATE TABLE busy_intervals (
    provider_id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL
);
CREATE INDEX busy_intervals_provider ON busy_intervals (provider_id, start_at);
