-- The activity digest: per-workspace settings, the workspace's time zone and name (from
-- identity's events), and per-day counters kept by the inbox consumer (local days).
CREATE TABLE digest_configs (
    tenant_id bigint PRIMARY KEY,
    enabled boolean NOT NULL DEFAULT false,
    frequency text NOT NULL DEFAULT 'daily' CHECK (frequency IN ('daily', 'weekly')),
    enabled_at timestamptz,
    last_period text,              -- the last period sent ("d:2026-11-26", "w:2026-W48")
    last_sent_at timestamptz,
    updated_at timestamptz NOT NULL
);
CREATE TABLE tenant_profiles (
    tenant_id bigint PRIMARY KEY,
    name text NOT NULL DEFAULT '',
    timezone text NOT NULL DEFAULT 'UTC'
);
CREATE TABLE daily_stats (
    tenant_id bigint NOT NULL,
    day date NOT NULL,
    inbound int NOT NULL DEFAULT 0,
    outbound int NOT NULL DEFAULT 0,
    conversations int NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
);
