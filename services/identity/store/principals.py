"""The SQL every authenticated request runs, as one joined, prepared statement each
(services/kit/fastsql.py): a bearer token with everything its principal is made of, and the
signed-in member with their workspace (GetMe)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.identity.domain.models import Staff, StoredToken, Tenant, User
from services.kit import fastsql
from services.kit.fastsql import Reads, select_list, take, width


@dataclass(frozen=True)
class Entitled:
    """Billing's replica for the token's workspace (absent until billing announces a plan)."""

    plan: str
    features: tuple[str, ...]


@dataclass(frozen=True)
class TokenHolder:
    """A token and whoever holds it; the joined rows that do not exist are None."""

    token: StoredToken
    user: User | None
    tenant: Tenant | None
    entitled: Entitled | None
    staff: Staff | None


# The token id comes from the bearer itself: the lookup precedes knowing the tenant. The user
# is joined within the token's own tenant, as the tenant-scoped lookup did.
TOKEN_HOLDER = f"""
SELECT {select_list(StoredToken, "tok")},
       {select_list(User, "u")},
       {select_list(Tenant, "t")},
       e.plan, e.features,
       {select_list(Staff, "s")}
FROM identity.tokens tok
LEFT JOIN identity.users u ON u.tenant_id = tok.tenant_id AND u.id = tok.user_id
LEFT JOIN identity.tenants t ON t.id = tok.tenant_id
LEFT JOIN identity.entitlements e ON e.tenant_id = tok.tenant_id
LEFT JOIN identity.staff s ON s.id = tok.staff_id
WHERE tok.id = $1
"""
_USER = width(StoredToken)
_TENANT = _USER + width(User)
_PLAN = _TENANT + width(Tenant)
_STAFF = _PLAN + 2

MEMBER_WITH_TENANT = f"""
SELECT {select_list(User, "u")}, {select_list(Tenant, "t")}
FROM identity.users u
JOIN identity.tenants t ON t.id = u.tenant_id
WHERE u.tenant_id = $1 AND u.id = $2
"""

TOUCH_TOKEN = "UPDATE identity.tokens SET last_used_at = $2 WHERE id = $1"


async def token_holder(uow: Reads, token_id: int) -> TokenHolder | None:
    row = await fastsql.fetchrow(uow, TOKEN_HOLDER, token_id)
    if row is None:
        return None
    return TokenHolder(
        token=take(StoredToken, row),
        user=take(User, row, _USER) if row[_USER] is not None else None,
        tenant=take(Tenant, row, _TENANT) if row[_TENANT] is not None else None,
        entitled=Entitled(row[_PLAN], tuple(row[_PLAN + 1])) if row[_PLAN] is not None else None,
        staff=take(Staff, row, _STAFF) if row[_STAFF] is not None else None,
    )


async def touch_token(uow: Reads, token_id: int, at: datetime) -> None:
    await fastsql.execute(uow, TOUCH_TOKEN, token_id, at)


async def member_with_tenant(uow: Reads, user_id: int) -> tuple[User, Tenant] | None:
    """A member of the caller's workspace, with the workspace."""
    row = await fastsql.fetchrow(uow, MEMBER_WITH_TENANT, uow.scope.tenant_id, user_id)
    if row is None:
        return None
    return take(User, row), take(Tenant, row, width(User))
