-- A receipt Evolution posts before our send's own transaction stored the WhatsApp id (the
-- provider answers the send and fires DELIVERY_ACK within milliseconds): kept here, keyed by
-- that id, and applied when the id is stored; unclaimed ones are purged after a day.
CREATE TABLE early_receipts (
    tenant_id bigint NOT NULL,
    whatsapp_message_id text NOT NULL,
    status text NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, whatsapp_message_id, status)
);
CREATE INDEX early_receipts_received ON early_receipts (received_at);
