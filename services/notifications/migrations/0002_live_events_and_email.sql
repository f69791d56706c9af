-- The panel's live stream (GET /v1/events): inbox's events kept for a retention window, so a
-- reconnecting client resumes after its Last-Event-ID. Rows are inserted under one advisory lock,
-- so `seq` order is commit order and a reader never skips a row committed late.
CREATE TABLE live_events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    type text NOT NULL,
    conversation_id bigint,
    -- Who may see it when the workspace restricts agents to their own and unassigned
    -- conversations: the assignees before and after the event (NULL inside: unassigned).
    assignees bigint[] NOT NULL DEFAULT '{}',
    data text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX live_events_tenant ON live_events (tenant_id, seq);
CREATE INDEX live_events_age ON live_events (created_at);

-- Replicated from inbox's and identity's events.
CREATE TABLE conversation_assignees (
    tenant_id bigint NOT NULL,
    conversation_id bigint NOT NULL,
    assigned_user_id bigint,
    PRIMARY KEY (tenant_id, conversation_id)
);
CREATE TABLE tenant_settings (
    tenant_id bigint PRIMARY KEY,
    agents_restricted boolean NOT NULL DEFAULT false
);

-- Single-use stream tickets (EventSource cannot send an Authorization header).
CREATE TABLE stream_tickets (
    ticket_hash bytea PRIMARY KEY,
    tenant_id bigint NOT NULL,
    principal bytea NOT NULL,
    method text NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX stream_tickets_age ON stream_tickets (expires_at);

-- Every email, queued in the transaction that decides it and sent by a job (with the provider's
-- Idempotency-Key), so a crash neither loses nor doubles one.
CREATE TABLE emails (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint,
    template text NOT NULL,
    to_address text NOT NULL,
    subject text NOT NULL,
    text_body text NOT NULL,
    html_body text NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    attempts int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    provider_id text,
    last_error text,
    created_at timestamptz NOT NULL,
    sent_at timestamptz
);
CREATE INDEX emails_due ON emails (next_attempt_at) WHERE status = 'queued';
