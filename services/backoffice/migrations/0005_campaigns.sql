-- Staff email campaigns and their recipients. Recipients are listed when a campaign starts (in
-- the same transaction), then claimed in batches with FOR UPDATE SKIP LOCKED and handed to
-- notifications with one idempotency key each, so a crash between the hand-over and its record
-- is resumed (after the claim's lease) without a second email.
CREATE TABLE campaigns (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    segment text NOT NULL CHECK (segment IN ('owners', 'plan', 'waitlist')),
    plan text,
    status text NOT NULL CHECK (status IN ('draft', 'scheduled', 'sending', 'sent')),
    scheduled_at timestamptz,
    created_by_staff_id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    CHECK ((segment = 'plan') = (plan IS NOT NULL))
);
CREATE INDEX campaigns_due ON campaigns (scheduled_at) WHERE status = 'scheduled';

CREATE TABLE campaign_recipients (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    email text NOT NULL,
    tenant_id bigint,
    status text NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    claimed_at timestamptz,
    email_id bigint,
    error text,
    sent_at timestamptz
);
CREATE UNIQUE INDEX campaign_recipients_email ON campaign_recipients (campaign_id, lower(email));
CREATE INDEX campaign_recipients_open ON campaign_recipients (id)
    WHERE status IN ('pending', 'sending');
