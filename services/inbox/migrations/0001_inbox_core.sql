-- Inbox core: WhatsApp numbers (Evolution instances), contacts, labels, sectors, conversations,
-- messages. The kit creates outbox/processed_events/dead_events itself (services/kit/migrations.py).
-- Tenants live in identity: tenant_id is a plain bigint here, erased on identity.tenant.erased.

CREATE TABLE phone_instances (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    name text NOT NULL,
    instance_name text NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'pending_qr'
        CHECK (status IN ('pending_qr', 'connected', 'disconnected')),
    phone_number text,
    profile_name text,
    -- Evolution's per-instance token, sealed with the kit's SecretBox (services/kit/crypto.py).
    api_key text NOT NULL,
    -- sha256 hex of the secret Evolution echoes back in the x-plixa-instance-secret header.
    webhook_secret_hash text NOT NULL,
    qr_code text,
    qr_updated_at timestamptz,
    connected_at timestamptz,
    disconnected_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX phone_instances_tenant ON phone_instances (tenant_id, id);

CREATE TABLE contacts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    phone text NOT NULL,
    name text,
    notes text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (tenant_id, phone)
);

CREATE INDEX contacts_tenant_name ON contacts (tenant_id, lower(name) text_pattern_ops);
CREATE INDEX contacts_tenant_created ON contacts (tenant_id, created_at DESC, id DESC);

CREATE TABLE labels (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    name text NOT NULL,
    color text,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX labels_tenant ON labels (tenant_id, position, id);

CREATE TABLE sectors (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    name text NOT NULL,
    description text,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX sectors_tenant ON sectors (tenant_id, position, id);

CREATE TABLE sector_members (
    tenant_id bigint NOT NULL,
    sector_id bigint NOT NULL REFERENCES sectors (id) ON DELETE CASCADE,
    user_id bigint NOT NULL,
    PRIMARY KEY (sector_id, user_id)
);

CREATE INDEX sector_members_user ON sector_members (tenant_id, user_id);

-- One conversation per tenant, number and customer phone; it is closed and reopened, never
-- duplicated. phone_instance_id becomes NULL when the number is deleted (history stays).
CREATE TABLE conversations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    phone_instance_id bigint REFERENCES phone_instances (id) ON DELETE SET NULL,
    contact_id bigint REFERENCES contacts (id) ON DELETE SET NULL,
    contact_phone text NOT NULL,
    contact_name text,
    notes text,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    snoozed_until timestamptz,
    handler text NOT NULL DEFAULT 'none' CHECK (handler IN ('none', 'human', 'ai', 'flow')),
    assigned_user_id bigint,
    sector_id bigint REFERENCES sectors (id) ON DELETE SET NULL,
    unread_count integer NOT NULL DEFAULT 0,
    last_message_text text,
    last_message_direction text,
    first_inbound_at timestamptz,
    first_response_at timestamptz,
    last_inbound_at timestamptz,
    last_activity_at timestamptz NOT NULL,
    closed_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (tenant_id, phone_instance_id, contact_phone)
);

CREATE INDEX conversations_activity ON conversations (tenant_id, last_activity_at DESC, id DESC);
CREATE INDEX conversations_assignee ON conversations (tenant_id, assigned_user_id, last_activity_at DESC, id DESC);
CREATE INDEX conversations_sector ON conversations (tenant_id, sector_id) WHERE sector_id IS NOT NULL;
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE snoozed_until IS NOT NULL;
CREATE INDEX conversations_contact ON conversations (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX conversations_phone ON conversations (tenant_id, contact_phone text_pattern_ops);
CREATE INDEX conversations_name ON conversations (tenant_id, lower(contact_name) text_pattern_ops);

CREATE TABLE conversation_labels (
    tenant_id bigint NOT NULL,
    conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    label_id bigint NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, label_id)
);

CREATE INDEX conversation_labels_label ON conversation_labels (label_id);

CREATE TABLE contact_labels (
    tenant_id bigint NOT NULL,
    contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    label_id bigint NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, label_id)
);

CREATE INDEX contact_labels_label ON contact_labels (label_id);

-- Messages in both directions. whatsapp_message_id is the idempotency key of inbound events
-- (and of receipts for outbound); idempotency_key dedupes sends requested by other services.
CREATE TABLE messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    phone_instance_id bigint REFERENCES phone_instances (id) ON DELETE SET NULL,
    whatsapp_message_id text,
    idempotency_key text,
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    type text NOT NULL CHECK (type IN ('text', 'image', 'video', 'audio', 'document', 'sticker',
        'location', 'contact', 'reaction', 'unsupported')),
    body text,
    caption text,
    media jsonb,
    quoted_message_id bigint REFERENCES messages (id) ON DELETE SET NULL,
    quoted_whatsapp_id text,
    sender_kind text NOT NULL CHECK (sender_kind IN ('customer', 'member', 'ai', 'flow', 'system')),
    sender_user_id bigint,
    status text NOT NULL CHECK (status IN ('pending', 'sent', 'delivered', 'read', 'failed', 'received')),
    failure_reason text,
    attempts integer NOT NULL DEFAULT 0,
    -- The WhatsApp timestamp for inbound messages; the moment of the request for outbound ones.
    sent_at timestamptz NOT NULL,
    delivered_at timestamptz,
    read_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE UNIQUE INDEX messages_whatsapp_id ON messages (tenant_id, whatsapp_message_id)
    WHERE whatsapp_message_id IS NOT NULL;
CREATE UNIQUE INDEX messages_idempotency ON messages (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_conversation ON messages (conversation_id, sent_at DESC, id DESC);
CREATE INDEX messages_tenant_created ON messages (tenant_id, created_at);
CREATE INDEX messages_retry ON messages (status, updated_at) WHERE status = 'pending';
CREATE INDEX messages_text_search ON messages
    USING gin (to_tsvector('simple', coalesce(body, '') || ' ' || coalesce(caption, '')));

-- Replica of identity's security config (identity.security_config.changed).
CREATE TABLE tenant_settings (
    tenant_id bigint PRIMARY KEY,
    agent_restricted_to_own_conversations boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL
);
