-- Billing: Stripe customers and subscriptions (as Stripe last described them), processed webhook
-- events, the entitlements billing announced, staff licences, Connect accounts and deposits.

-- The workspace's Stripe customer, created once (at its first checkout) and reused.
CREATE TABLE customers (
    tenant_id bigint PRIMARY KEY,
    stripe_customer_id text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);

-- One row per Stripe subscription. A snapshot replaces the stored one only when it is not older
-- (canceled is final; then the later period; then the later event), so webhooks may arrive in
-- any order, or twice.
CREATE TABLE subscriptions (
    id text PRIMARY KEY,
    tenant_id bigint NOT NULL,
    customer_id text NOT NULL,
    status text NOT NULL,
    plan text NOT NULL,
    "interval" text NOT NULL,
    price_id text NOT NULL,
    trial_end timestamptz,
    current_period_end timestamptz,
    cancel_at_period_end boolean NOT NULL,
    canceled_at timestamptz,
    stripe_created_at timestamptz NOT NULL,
    -- created time of the newest event whose snapshot is stored
    snapshot_at timestamptz NOT NULL,
    -- a past-due subscription's unpaid period began here: its grace period runs from it
    current_period_start timestamptz,
    updated_at timestamptz NOT NULL
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id, stripe_created_at DESC);

-- Every Stripe event processed, recorded in the transaction of its effect: a redelivery is a no-op.
CREATE TABLE stripe_events (
    id text PRIMARY KEY,
    type text NOT NULL,
    tenant_id bigint,
    created_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL
);

-- What billing last announced for each workspace (billing.entitlements.changed), and when the
-- computation must be looked at again (a licence expiring, a grace period ending).
CREATE TABLE entitlements (
    tenant_id bigint PRIMARY KEY,
    plan text NOT NULL,
    status text NOT NULL,
    features text[] NOT NULL,
    limits jsonb NOT NULL,
    changed_at timestamptz NOT NULL,
    review_at timestamptz
);
CREATE INDEX entitlements_review ON entitlements (review_at) WHERE review_at IS NOT NULL;

CREATE TABLE licenses (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    plan text NOT NULL CHECK (plan IN ('starter', 'professional', 'business')),
    starts_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    granted_by_staff_id bigint NOT NULL,
    revoked_by_staff_id bigint,
    created_at timestamptz NOT NULL
);
CREATE INDEX licenses_tenant ON licenses (tenant_id, id DESC);

-- The workspace's Stripe Connect (Express) account for booking deposits.
CREATE TABLE connect_accounts (
    tenant_id bigint PRIMARY KEY,
    account_id text NOT NULL UNIQUE,
    charges_enabled boolean NOT NULL,
    payouts_enabled boolean NOT NULL,
    details_submitted boolean NOT NULL,
    -- created time of the newest account.updated applied (older deliveries are skipped)
    stripe_updated_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Booking deposits: a Checkout Session in payment mode, a destination charge to the account.
CREATE TABLE payments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    appointment_id bigint NOT NULL,
    checkout_id text NOT NULL UNIQUE,
    account_id text NOT NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    currency text NOT NULL,
    application_fee_cents bigint NOT NULL,
    description text NOT NULL,
    url text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'paid', 'expired')),
    payment_intent_id text,
    created_at timestamptz NOT NULL,
    paid_at timestamptz
);
CREATE INDEX payments_tenant ON payments (tenant_id, id DESC);
CREATE INDEX payments_appointment ON payments (tenant_id, appointment_id);
