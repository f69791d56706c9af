-- Staff two-factor (mandatory for staff), the staff sign-in tokens that lead to it, recovery codes
-- owned by a member or a staff account, and keyed (HMAC-SHA256) recovery code digests.
ALTER TABLE staff ADD COLUMN two_factor_secret text;
ALTER TABLE staff ADD COLUMN two_factor_enabled_at timestamptz;
ALTER TABLE staff ADD COLUMN two_factor_last_step bigint;

-- A staff sign-in first gets a token that opens only the challenge or, before enrolment, only the
-- enrolment routes.
ALTER TABLE tokens DROP CONSTRAINT tokens_kind_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_kind_check
    CHECK (kind IN ('panel', 'api', 'staff', 'challenge', 'staff_challenge', 'staff_enrolment'));
ALTER TABLE tokens DROP CONSTRAINT tokens_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_owner_check
    CHECK ((kind IN ('staff', 'staff_challenge', 'staff_enrolment'))
           = (staff_id IS NOT NULL AND user_id IS NULL));

ALTER TABLE recovery_codes ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE recovery_codes ADD COLUMN staff_id bigint REFERENCES staff (id) ON DELETE CASCADE;
ALTER TABLE recovery_codes ADD CONSTRAINT recovery_codes_one_owner
    CHECK ((user_id IS NULL) <> (staff_id IS NULL));
CREATE INDEX recovery_codes_staff ON recovery_codes (staff_id) WHERE used_at IS NULL;

-- Codes issued before this migration are bare SHA-256 digests; re-keying needs the plain code, which
-- is never kept. They stay usable (a member who lost their phone is not locked out), marked legacy,
-- and go on use or on regeneration; every code issued from now on is an HMAC.
ALTER TABLE recovery_codes ADD COLUMN legacy_sha256 boolean NOT NULL DEFAULT false;
UPDATE recovery_codes SET legacy_sha256 = true;
