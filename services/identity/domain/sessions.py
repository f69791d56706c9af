"""Bearer tokens in use: resolving one into a principal, and revoking one."""

from __future__ import annotations

from datetime import timedelta

from plixa.common.v1.principal_pb2 import Principal
from plixa.identity.v1 import events_pb2
from services.identity.domain import entitlements, tokens
from services.identity.domain.models import StoredToken
from services.identity.store import accounts as account_store
from services.identity.store import staff as staff_store
from services.identity.store import tokens as token_store
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError, unauthenticated

# Writing last_used_at on every request would turn each read into a write; a minute is enough.
TOUCH_EVERY = timedelta(minutes=1)


def invalid_token() -> DomainError:
    return unauthenticated("UNAUTHENTICATED", "The bearer token is invalid or has expired.")


async def authenticate(uow: UnitOfWork, bearer: str) -> Principal:
    parsed = tokens.parse(bearer)
    if parsed is None:
        raise invalid_token()
    token_id, secret = parsed
    stored = await token_store.find(uow, token_id)
    now = uow.clock.now()
    if (
        stored is None
        or stored.revoked_at is not None
        or (stored.expires_at is not None and stored.expires_at <= now)
        or not tokens.matches(secret, stored.secret_hash)
    ):
        raise invalid_token()
    if stored.last_used_at is None or now - stored.last_used_at > TOUCH_EVERY:
        await token_store.touch(uow, stored.id, now)
    if stored.kind == "staff":
        return await _staff_principal(uow, stored)
    return await _member_principal(uow, stored)


async def _member_principal(uow: UnitOfWork, stored: StoredToken) -> Principal:
    if stored.tenant_id is None or stored.user_id is None:
        raise invalid_token()
    user = await account_store.get_user(uow, stored.tenant_id, stored.user_id)
    tenant = await account_store.get_tenant(uow, stored.tenant_id)
    if user is None or tenant is None:
        raise invalid_token()
    entitled = await entitlements.for_tenant(uow, tenant.id)
    return Principal(
        kind=Principal.KIND_USER,
        user_id=user.id,
        tenant_id=tenant.id,
        role=user.role,
        token_id=stored.id,
        abilities=stored.abilities,
        tenant_status=tenant.status,
        plan=entitled.plan,
        features=entitled.features,
        email=user.email,
        two_factor_enabled=user.two_factor_enabled,
        two_factor_required=tenant.require_two_factor,
        two_factor_pending=stored.kind == "challenge",
    )


async def _staff_principal(uow: UnitOfWork, stored: StoredToken) -> Principal:
    assert stored.staff_id is not None
    staff = await staff_store.get(uow, stored.staff_id)
    if staff is None:
        raise invalid_token()
    return Principal(
        kind=Principal.KIND_STAFF,
        staff_id=staff.id,
        token_id=stored.id,
        abilities=stored.abilities,
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
