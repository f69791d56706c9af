-- Impersonation tokens: a staff member acting as one member of a workspace (the backoffice asks
-- for one). The row names the member (tenant_id, user_id) and the staff member (staff_id), and
-- always expires (30 minutes; never refreshed).
ALTER TABLE tokens DROP CONSTRAINT tokens_kind_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_kind_check
    CHECK (kind IN ('panel', 'api', 'staff', 'challenge', 'staff_challenge', 'staff_enrolment',
                    'impersonation'));
ALTER TABLE tokens ADD CONSTRAINT tokens_impersonation_check
    CHECK (kind <> 'impersonation'
           OR (staff_id IS NOT NULL AND user_id IS NOT NULL AND tenant_id IS NOT NULL
               AND expires_at IS NOT NULL));
