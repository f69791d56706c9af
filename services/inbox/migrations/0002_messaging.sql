-- Messaging additions: the pairing QR's text code, the plan limits replicated from billing,
-- and outbound media kept until Evolution accepted it (the retry path needs the file).

ALTER TABLE phone_instances ADD COLUMN qr_text text;

ALTER TABLE tenant_settings ADD COLUMN limits jsonb;
ALTER TABLE tenant_settings ADD COLUMN limits_changed_at timestamptz;

CREATE TABLE outbound_media (
    message_id bigint PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    tenant_id bigint NOT NULL,
    mediatype text NOT NULL,
    mimetype text NOT NULL,
    file_name text,
    data bytea NOT NULL,
    created_at timestamptz NOT NULL
);
