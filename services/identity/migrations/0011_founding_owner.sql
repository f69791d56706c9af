-- The founding owner: the member who registered the workspace. Only the founder can make or
-- remove other owners and erase the workspace (services/identity/domain/team.py, deletion.py).
ALTER TABLE users ADD COLUMN is_founder boolean NOT NULL DEFAULT false;
-- Workspaces registered before this column: their earliest owner founded them.
UPDATE users SET is_founder = true
WHERE id IN (SELECT min(id) FROM users WHERE role = 'owner' GROUP BY tenant_id);
CREATE UNIQUE INDEX users_one_founder ON users (tenant_id) WHERE is_founder;
