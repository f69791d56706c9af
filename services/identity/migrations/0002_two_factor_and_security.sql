-- TOTP second factor (seed encrypted at rest, last accepted time step against replays),
-- hashed recovery codes, sign-in challenges, and the workspace's security toggles.
ALTER TABLE users ADD COLUMN two_factor_secret text;
ALTER TABLE users ADD COLUMN two_factor_enabled_at timestamptz;
ALTER TABLE users ADD COLUMN two_factor_last_step bigint;

CREATE TABLE recovery_codes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id) WHERE used_at IS NULL;

ALTER TABLE tokens DROP CONSTRAINT tokens_kind_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_kind_check
    CHECK (kind IN ('panel', 'api', 'staff', 'challenge'));

ALTER TABLE tenants ADD COLUMN require_two_factor boolean NOT NULL DEFAULT false;
ALTER TABLE tenants ADD COLUMN agent_restricted_to_own_conversations boolean NOT NULL DEFAULT false;
