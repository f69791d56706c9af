-- Support tickets: owned by a workspace (any of its members sees them), answered by staff.
CREATE TABLE tickets (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    opened_by_user_id bigint NOT NULL,
    opened_by_email text NOT NULL,
    subject text NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'pending', 'closed')),
    priority text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    assignee_staff_id bigint,
    rating smallint CHECK (rating BETWEEN 1 AND 5),
    rating_comment text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    closed_at timestamptz
);
CREATE INDEX tickets_tenant ON tickets (tenant_id, id);
CREATE INDEX tickets_status ON tickets (status, id);

CREATE TABLE ticket_messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    tenant_id bigint NOT NULL,
    author_kind text NOT NULL CHECK (author_kind IN ('member', 'staff')),
    author_id bigint NOT NULL,
    -- A member's message written by a staff member through an impersonation token.
    impersonator_staff_id bigint,
    body text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);

-- Global to the staff team (not tenant-scoped).
CREATE TABLE support_tags (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX support_tags_name ON support_tags (lower(name));

CREATE TABLE ticket_tags (
    ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    tag_id bigint NOT NULL REFERENCES support_tags (id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, tag_id)
);
CREATE INDEX ticket_tags_tag ON ticket_tags (tag_id);

CREATE TABLE canned_replies (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title text NOT NULL,
    body text NOT NULL,
    created_by_staff_id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- "Viewing" presence: a staff member looking at a ticket, until expires_at (renewed by the
-- panel while the ticket stays open on screen).
CREATE TABLE ticket_viewers (
    ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    staff_id bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, staff_id)
);
