"""Bearer tokens in use: resolving one into a principal, and revoking one."""

from __future__ import annotations

from datetime import timedelta

from plixa.common.v1.principal_pb2 import Principal
from plixa.identity.v1 import events_pb2
from services.identity.domain import plans, tokens
from services.identity.store import principals
from services.identity.store import tokens as token_store
from services.identity.store.principals import TokenHolder
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError, unauthenticated
from services.kit.fastsql import Reads

# Writing last_used_at on every request would turn each read into a write; a minute is enough.
TOUCH_EVERY = timedelta(minutes=1)


def invalid_token() -> DomainError:
    return unauthenticated("UNAUTHENTICATED", "The bearer token is invalid or has expired.")


async def authenticate(uow: Reads, bearer: str) -> Principal:
    """The principal of a bearer token, from one joined query (the gateway asks on cache misses)."""
    parsed = tokens.parse(bearer)
    if parsed is None:
        raise invalid_token()
    token_id, secret = parsed
    holder = await principals.token_holder(uow, token_id)
    if holder is None:
        raise invalid_token()
    stored, now = holder.token, uow.clock.now()
    if (
        stored.revoked_at is not None
        or (stored.expires_at is not None and stored.expires_at <= now)
        or not tokens.matches(secret, stored.secret_hash)
    ):
        raise invalid_token()
    if stored.last_used_at is None or now - stored.last_used_at > TOUCH_EVERY:
        await principals.touch_token(uow, stored.id, now)
    if stored.kind == "staff":
        return _staff_principal(holder)
    return _member_principal(holder)


def _member_principal(holder: TokenHolder) -> Principal:
    stored, user, tenant = holder.token, holder.user, holder.tenant
    if stored.tenant_id is None or stored.user_id is None or user is None or tenant is None:
        raise invalid_token()
    entitled = holder.entitled
    return Principal(
        kind=Principal.KIND_USER,
        user_id=user.id,
        tenant_id=tenant.id,
        role=user.role,
        token_id=stored.id,
        abilities=stored.abilities,
        tenant_status=tenant.status,
        plan=entitled.plan if entitled else plans.DEFAULT_PLAN,
        features=entitled.features if entitled else plans.DEFAULT_FEATURES,
        email=user.email,
        two_factor_enabled=user.two_factor_enabled,
        two_factor_required=tenant.require_two_factor,
        two_factor_pending=stored.kind == "challenge",
    )


def _staff_principal(holder: TokenHolder) -> Principal:
    staff = holder.staff
    if staff is None:
        raise invalid_token()
    return Principal(
        kind=Principal.KIND_STAFF,
        staff_id=staff.id,
        token_id=holder.token.id,
        abilities=holder.token.abilities,
        email=staff.email,
    )


async def revoke_current(uow: UnitOfWork) -> int:
    """Revokes exactly the token of this request; other devices and integrations keep theirs."""
    principal = uow.principal
    if await token_store.revoke(uow, principal.token_id, uow.clock.now()):
        uow.emit(
            "identity.token.revoked",
            events_pb2.TokenRevoked(
                token_id=principal.token_id,
                user_id=principal.user_id,
                tenant_id=principal.tenant_id,
                staff_id=principal.staff_id,
            ),
            tenant_id=principal.tenant_id or None,
        )
    return principal.token_id
